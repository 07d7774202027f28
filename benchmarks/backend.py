"""Backend benchmark: GET /api/v1/activities?limit=20 vs a hello-world Starlette app.

Both servers run in their own process on loopback under the same stack (uvicorn, h11, the same
socket setup); one load generator (asyncio, keep-alive connections, raw HTTP/1.1) drives them
alternately in one run. Then the client walks 10,000 activities page by page while the
server's RSS and the client's tracemalloc peak are sampled (flat memory = no growth with pages).

    .venv/bin/python benchmarks/backend.py [--seconds 4] [--connections 8] [--activities 10000]

Bounded: a few seconds per round, loopback only, temporary PHANTOM_HOME removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

HELLO = r"""
import sys
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from phantom_cli.backend.server import bind

async def hello(request):
    return JSONResponse({"hello": "world"})

app = Starlette(routes=[Route("/", hello)])
sock = bind("127.0.0.1", 0)
print(sock.getsockname()[1], flush=True)
uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False)).run(sockets=[sock])
"""


def seed(home: Path, n: int) -> None:
    from phantom_cli.backend import db
    from phantom_cli.backend.app import create_app
    from phantom_cli.backend.routes.activities import upsert_activity
    from phantom_cli.backend.settings import ServerSettings

    app = create_app(ServerSettings.for_home(home, load_seed_content=False))
    conn = app.state.db
    with db.transaction(conn):
        for i in range(n):
            upsert_activity(conn, {
                "id": f"bench-{i:05d}", "title": f"Activity {i}", "category": ["drama", "mystery", "slice"][i % 3],
                "description": "A benchmark activity with a realistic amount of text. " * 4,
                "short_description": "Benchmark", "first_message": "Hello there, traveller.",
                "tags": ["bench", "x"], "is_companion": i % 2 == 0, "featured": i % 10 == 0,
                "alternate_greetings": ["Hi", "Hey"], "personality": "curious, warm",
            })
    conn.close()


def _pin(server_pids: list[int]) -> bool:
    """Servers on CPU 0, this load generator on CPU 1 (when there are two), so the comparison
    measures the servers rather than the scheduler."""
    if not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2:
        return False
    try:
        for pid in server_pids:
            os.sched_setaffinity(pid, {0})
        os.sched_setaffinity(0, {1})
    except OSError:
        return False
    return True


def rss_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in kB of a process."""
    vals = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            k, v = line.split(":")
            vals[k] = int(v.split()[0])
    return vals.get("VmRSS", 0), vals.get("VmHWM", 0)


async def _worker(port: int, request: bytes, deadline: float, lat: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            if status != 200:
                raise RuntimeError(f"status {status}")
            lat.append(time.perf_counter() - t0)
    finally:
        writer.close()


def load(port: int, path: str, key: str | None, seconds: float, conns: int) -> dict[str, float]:
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n".encode()
    lat: list[float] = []

    async def run() -> float:
        start = time.perf_counter()
        deadline = start + seconds
        await asyncio.gather(*[_worker(port, request, deadline, lat) for _ in range(conns)])
        return time.perf_counter() - start

    elapsed = asyncio.run(run())
    lat.sort()
    return {
        "requests": len(lat),
        "rps": len(lat) / elapsed,
        "p50_ms": 1000 * lat[len(lat) // 2],
        "p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))],
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=1.5, help="length of one round")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=6, help="alternating rounds per target")
    ap.add_argument("--activities", type=int, default=10_000)
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="phantom-bench-"))
    env = {**os.environ, "PHANTOM_HOME": str(home), "PHANTOM_SERVER_IDLE_TIMEOUT": "0",
           "PHANTOM_SERVER_LOAD_SEED_CONTENT": "false"}
    os.environ["PHANTOM_HOME"] = str(home)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        t0 = time.perf_counter()
        seed(home, args.activities)
        print(f"seeded {args.activities} activities in {time.perf_counter() - t0:.1f} s")
        backend = subprocess.Popen([sys.executable, "-m", "phantom_cli.backend"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(backend)
        hello = subprocess.Popen([sys.executable, "-c", HELLO], env=env, stdout=subprocess.PIPE)
        procs.append(hello)
        hello_port = int(hello.stdout.readline())  # type: ignore[union-attr]
        runtime_file = home / "runtime" / "server.json"
        deadline = time.monotonic() + 30
        while not runtime_file.exists():
            if time.monotonic() > deadline or backend.poll() is not None:
                raise SystemExit("the backend did not start")
            time.sleep(0.05)
        info = json.loads(runtime_file.read_text())
        pinned = _pin([backend.pid, hello.pid])
        key = (home / "data" / "backend" / "api_key").read_text().strip()

        results: dict[str, list[dict[str, float]]] = {"hello": [], "activities": []}
        load(hello_port, "/", None, 0.5, 2)  # warm-up
        load(info["port"], "/api/v1/activities?limit=20", key, 0.5, 2)
        for _ in range(args.rounds):
            results["hello"].append(load(hello_port, "/", None, args.seconds, args.connections))
            results["activities"].append(
                load(info["port"], "/api/v1/activities?limit=20", key, args.seconds, args.connections))
        ratios = sorted(a["rps"] / h["rps"] for a, h in zip(results["activities"], results["hello"], strict=True))
        summary = {}
        for name, runs in results.items():
            summary[name] = {
                "rps": statistics.mean(r["rps"] for r in runs),
                "p50_ms": statistics.median(r["p50_ms"] for r in runs),
                "p99_ms": max(r["p99_ms"] for r in runs),
                "requests": sum(r["requests"] for r in runs),
            }
            s = summary[name]
            print(f"{name:>10}: {s['rps']:8.0f} req/s  p50 {s['p50_ms']:6.2f} ms  p99 {s['p99_ms']:6.2f} ms"
                  f"  ({s['requests']} requests, {args.connections} connections)")
        ratio = statistics.median(ratios)
        print(f"activities/hello throughput: median of {len(ratios)} paired rounds {ratio:.2f}x "
              f"(range {ratios[0]:.2f}-{ratios[-1]:.2f}; target >= 0.5x)"
              + ("; servers pinned to CPU 0, load generator to CPU 1" if pinned else ""))

        # walk every activity page by page through the project's client
        from phantom_cli.client import Phantom

        rss_before = rss_kb(backend.pid)
        samples = []
        tracemalloc.start()
        t0 = time.perf_counter()
        n = 0
        seen: set[str] = set()
        with Phantom(base_url=info["base_url"], api_key=key, max_retries=0) as c:
            for act in c.activities.iter(page_size=100):
                n += 1
                seen.add(act.id)
                if n % 2000 == 0:
                    samples.append((n, rss_kb(backend.pid)[0], tracemalloc.get_traced_memory()[0] // 1024))
        walk = time.perf_counter() - t0
        _, client_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_after, hwm = rss_kb(backend.pid)
        print(f"walked {n} activities ({len(seen)} distinct) in {walk:.1f} s ({n / walk:.0f}/s, pages of 100)")
        print(f"server RSS: {rss_before[0] / 1024:.1f} MB before, {rss_after / 1024:.1f} MB after, "
              f"peak {hwm / 1024:.1f} MB; client tracemalloc peak {client_peak / 1024 / 1024:.2f} MB")
        for count, rss, cur in samples:
            print(f"  after {count:>6}: server RSS {rss / 1024:6.1f} MB, client traced {cur / 1024:6.2f} MB")
        return 0 if ratio >= 0.5 and len(seen) == n >= args.activities else 1
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
