"""Issue 13.2: a body is read as a stream and counted; it stops at the limit (413).

The old code read the whole body (``request.body()``) before comparing its size, so a 400 MiB
chunked upload grew the server by 740 MB. The fast tests drive ``endpoints.read_json`` with an
ASGI ``receive`` that counts what it hands out; the slow one measures the resident memory of a
real server process during a 200 MiB chunked upload (``benchmarks/body_limit.py``).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from phantom_cli.backend.endpoints import read_json
from phantom_cli.backend.errors import ApiError
from tests.backend.helpers import error_of

BENCH = Path(__file__).parent.parent.parent / "benchmarks" / "body_limit.py"


class CountingReceive:
    """An ASGI ``receive`` with ``n`` chunks of ``size`` bytes, made on demand and counted."""

    def __init__(self, n: int, size: int, first: bytes = b"") -> None:
        self.n, self.size, self.first = n, size, first
        self.handed = 0

    async def __call__(self) -> dict[str, Any]:
        if self.handed >= self.n:
            return {"type": "http.disconnect"}
        self.handed += 1
        body = self.first if self.handed == 1 and self.first else b" " * self.size
        return {"type": "http.request", "body": body, "more_body": self.handed < self.n}


def _request(receive: CountingReceive, content_length: int | None = None) -> Any:
    from starlette.requests import Request

    headers = [(b"content-type", b"application/json")]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    scope = {"type": "http", "method": "POST", "path": "/x", "headers": headers, "query_string": b""}
    return Request(scope, receive)


async def test_chunked_body_stops_at_the_limit() -> None:
    receive = CountingReceive(n=20_000, size=100)  # 2 MB on offer, limit 1,000 bytes
    with pytest.raises(ApiError) as exc:
        await read_json(_request(receive), limit=1000)
    assert exc.value.status == 413 and exc.value.code == "PAYLOAD_TOO_LARGE"
    assert "1000 bytes" in exc.value.message
    assert receive.handed == 11, "read past the limit"  # 10 chunks fit, the 11th passes it


async def test_content_length_over_the_limit_reads_nothing() -> None:
    receive = CountingReceive(n=20_000, size=100)
    with pytest.raises(ApiError) as exc:
        await read_json(_request(receive, content_length=2_000_000), limit=1000)
    assert exc.value.status == 413
    assert receive.handed == 0


async def test_bodies_within_the_limit_are_read_whole() -> None:
    # chunked, more than the in-memory part of the spool (1 MiB): it comes back intact
    text = "é" * 1_500_000
    raw = json.dumps({"t": text}).encode()
    pieces = [raw[i:i + 65536] for i in range(0, len(raw), 65536)]
    it = iter(pieces)

    async def receive() -> dict[str, Any]:
        chunk = next(it, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    assert await read_json(_request(receive)) == {"t": text}  # type: ignore[arg-type]
    # with Content-Length, exactly at the limit
    body = b'{"a": "' + b"x" * 90 + b'"}'
    receive2 = CountingReceive(n=1, size=0, first=body)
    assert await read_json(_request(receive2, content_length=len(body)), limit=len(body)) == {"a": "x" * 90}


def test_live_chunked_upload_past_16_mib_is_413(live_server: Any) -> None:
    def body():  # 17 MiB, never held whole
        yield b'{"name": "'
        for _ in range(17 * 16):
            yield b"x" * 65536

    with live_server.http() as c:
        r = c.post("/api/v1/personas", content=body(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert error_of(r)["code"] == "PAYLOAD_TOO_LARGE" and "16777216 bytes" in error_of(r)["message"]
    with live_server.http() as c:  # the server is fine afterwards
        assert c.get("/api/v1/local/info").status_code == 200


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location("body_limit_bench", BENCH)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_200_mib_chunked_upload_does_not_grow_server_memory(tmp_path: Path) -> None:
    bench = _bench()
    server = bench.ServerProcess(tmp_path / "home").start()
    try:
        out = bench.chunked_upload(server, 200 * 1024 * 1024)
    finally:
        server.stop()
    assert out["status"] == 413, out
    assert out["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert out["rss_growth_mb"] <= 10, out  # the old code: ~420 MB
    assert "Traceback" not in server.log_path.read_text(errors="replace")


def test_benchmark_script_refuses_bad_sizes() -> None:
    import subprocess

    r = subprocess.run([sys.executable, str(BENCH), "--mib", "0"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--mib" in r.stderr
