"""The API key never shows: not in repr/str, debug output, last_exchange or error messages."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
import respx

from phantom_cli.client import AsyncPhantom, Phantom, PhantomError, paths

from .client_helpers import BASE, KEY, chunked, collect, resolve

CHAT = dict(chat_id="c1", persona={"name": "Mira"}, messages=[{"role": "user", "content": "hi"}])


def test_repr_and_str_hide_the_key() -> None:
    for c in (Phantom(base_url=BASE, api_key=KEY), AsyncPhantom(base_url=BASE, api_key=KEY)):
        assert KEY not in repr(c) and KEY not in str(c)
        assert "api_key=set" in repr(c)
        assert KEY not in repr(vars(c).get("_http"))
        assert c.has_api_key


async def test_debug_hook_and_last_exchange(
    mock: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[tuple[Any, ...]] = []
    caplog.set_level(logging.DEBUG)
    mock.get("/api/v1/skins/s1").mock(
        return_value=httpx.Response(200, json={"id": "s1", "name": "n"})
    )
    with Phantom(base_url=BASE, api_key=KEY, debug_hook=lambda *a: calls.append(a)) as c:
        c.skins.get("s1")
        method, url, status, elapsed_ms, headers = calls[0]
        assert (method, url, status) == ("GET", f"{BASE}/api/v1/skins/s1", 200)
        assert isinstance(elapsed_ms, float) and elapsed_ms >= 0
        assert headers["authorization"] == "Bearer ***"
        assert KEY not in repr(calls) and KEY not in repr(c.last_exchange)
        assert c.last_exchange.request_headers["authorization"] == "Bearer ***"
        assert c.last_exchange.response_json() == {"id": "s1", "name": "n"}
    assert KEY not in caplog.text


async def test_errors_never_carry_the_key(anyc: Any, mock: respx.MockRouter) -> None:
    anyc.max_retries = 0
    echo = f"key {KEY} is invalid"
    mock.get("/api/v1/skins/a").mock(
        return_value=httpx.Response(401, json={"error": {"code": "UNAUTHORIZED", "message": echo}})
    )
    mock.get("/api/v1/skins/b").mock(return_value=httpx.Response(502, text=f"<p>{echo}</p>"))
    mock.get("/api/v1/skins/c").mock(side_effect=httpx.ConnectError(echo))
    mock.post(paths.COMPANION_CHAT).mock(
        return_value=chunked(
            [b'event: delta\ndata: {"text": "x"}\n\n'], error=httpx.ReadError(echo)
        )
    )
    errors: list[PhantomError] = []
    for sid in "abc":
        with pytest.raises(PhantomError) as info:
            await resolve(anyc.skins.get(sid))
        errors.append(info.value)
    with pytest.raises(PhantomError) as info:
        await collect(await resolve(anyc.companion.chat(**CHAT, stream=True)))
    errors.append(info.value)
    for err in errors:
        assert KEY not in str(err) and KEY not in repr(err) and KEY not in err.message
        assert KEY not in str(getattr(err, "response_text", "") or "")
        assert "***" in str(err)
    assert KEY not in (anyc.last_exchange.response_body or "")


async def test_env_key_is_hidden_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHANTOM_API_KEY", KEY)
    c = Phantom(base_url=BASE)
    assert c.has_api_key and KEY not in repr(c)
    c.close()


def test_no_key_no_header(mock: respx.MockRouter) -> None:
    route = mock.get("/api/v1/skins/s1").mock(
        return_value=httpx.Response(200, json={"id": "s1", "name": "n"})
    )
    with Phantom(base_url=BASE) as c:
        assert not c.has_api_key
        c.skins.get("s1")
    assert "authorization" not in route.calls.last.request.headers


def test_malformed_key_is_refused_without_echoing_it() -> None:
    from phantom_cli.client import InvalidInputError

    bad = "sk-line1\nsk-line2"
    with pytest.raises(InvalidInputError) as info:
        Phantom(base_url=BASE, api_key=bad)
    assert "api_key" in str(info.value) and "sk-line" not in str(info.value)
    c = Phantom(base_url=BASE, api_key=f"  {KEY}\n")  # pasted with whitespace: trimmed
    assert c._headers()["Authorization"] == f"Bearer {KEY}"
    c.close()
