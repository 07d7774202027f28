"""Issue 13.3 and 13.4: the largest documented request is accepted in any JSON spelling; deeply
nested JSON and huge integers are a 400 naming the problem, with no traceback in the log.

The old code refused the 9.7 MB ``\\uXXXX``-escaped maximal companion request with 413 (cap
2 MiB), and answered ``[[[[…]]]]`` (1,000 levels) and a 5,000-digit ``version`` with a 500 and a
traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from phantom_cli.client import models as m
from tests.backend.helpers import error_of


@pytest.fixture
def server_log() -> Iterator[list[logging.LogRecord]]:
    """Every record the server's loggers (phantom.*, uvicorn.*) emit during the test."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.DEBUG)
    loggers = [logging.getLogger(n) for n in ("phantom", "uvicorn", "uvicorn.error", "uvicorn.asgi")]
    for lg in loggers:
        lg.addHandler(handler)
    try:
        yield records
    finally:
        for lg in loggers:
            lg.removeHandler(handler)


def _no_traceback(records: list[logging.LogRecord]) -> None:
    bad = [r for r in records if r.exc_info or r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage() for r in bad]


def maximal_companion_request() -> dict[str, Any]:
    """Seed 000 at every documented maximum, in accented (non-ASCII) text."""
    persona = {}
    for name, (_lo, hi, _req) in m.PERSONA_LIMITS.items():
        assert hi is not None
        persona[name] = "é" * hi
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": "à" * m.MAX_CONTENT}
                for i in range(m.MAX_MESSAGES - 1)]
    messages.append({"role": "user", "content": "ü" * m.MAX_CONTENT})
    return {"chat_id": "c" * 128, "persona": persona, "messages": messages, "max_tokens": 16,
            "extract_memory": False}


def test_maximal_documented_request_escaped_is_accepted(live_server: Any, server_log: list) -> None:
    body = maximal_companion_request()
    m.CompanionChatRequest.model_validate(body)  # valid by the documented limits
    raw = json.dumps(body).encode("ascii")  # json.dumps escapes every non-ASCII char as \uXXXX
    assert 9_500_000 < len(raw) < 16 * 1024 * 1024
    with live_server.http() as c:
        r = c.post("/api/v1/companion/chat", content=raw, headers={"Content-Type": "application/json"},
                   timeout=120)
    assert r.status_code == 200, r.text[:500]
    assert r.json()["chat_id"] == "c" * 128
    _no_traceback(server_log)


def test_client_sends_the_maximal_request(live_server: Any) -> None:
    """The SDK refuses only what the documented limits refuse: the maximum goes through."""
    body = maximal_companion_request()
    with live_server.client(timeout=120) as client:
        out = client.companion.chat(m.CompanionChatRequest.model_validate(body))
    assert out.chat_id == "c" * 128


@pytest.mark.parametrize("levels", [1000, 5000, 100])
def test_deep_nesting_is_a_400(live_server: Any, server_log: list, levels: int) -> None:
    raw = ("[" * levels + "]" * levels).encode()
    with live_server.http() as c:
        r = c.post("/api/v1/personas", content=raw, headers={"Content-Type": "application/json"})
        r2 = c.post("/api/v1/personas", content=b'{"name": "x", "x": ' + raw + b"}",
                    headers={"Content-Type": "application/json"})
    for resp in (r, r2):
        assert resp.status_code == 400, resp.text[:300]
        err = error_of(resp)
        assert err["code"] == "INVALID_REQUEST"
        assert err["message"] == "body: nested more than 64 levels deep (arrays and objects)"
        assert err["details"][0]["loc"] == ["body"]
    _no_traceback(server_log)


@pytest.mark.parametrize("digits", [5000, 25])
def test_huge_integer_is_a_400(live_server: Any, server_log: list, digits: int) -> None:
    raw = b'{"content": "notes", "version": ' + b"9" * digits + b"}"
    with live_server.http() as c:
        r = c.put("/api/v1/companion/scratchpad", params={"type": "companion", "companion_id": "luna"},
                  content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text[:300]
    err = error_of(r)
    assert err["code"] == "INVALID_REQUEST"
    assert err["message"].startswith(f"body: an integer of {digits} digits is out of range")
    assert "9223372036854775807" in err["message"]
    _no_traceback(server_log)


def test_deep_card_json_is_a_400(live_server: Any, server_log: list) -> None:
    """Card import decodes JSON a second time (the text chunk of a PNG card): bounded there too."""
    import base64
    import io

    from PIL import Image, PngImagePlugin

    inner = b'{"spec": "chara_card_v2", "data": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    info = PngImagePlugin.PngInfo()
    info.add_text("chara", base64.b64encode(inner).decode())
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, format="PNG", pnginfo=info)
    with live_server.http() as c:
        r = c.post("/api/v1/local/admin/cards", json={"png_base64": base64.b64encode(buf.getvalue()).decode()})
    assert r.status_code == 400, r.text[:300]
    assert "nested more than 64 levels" in error_of(r)["message"]
    _no_traceback(server_log)
