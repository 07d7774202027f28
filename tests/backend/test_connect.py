"""phantom_cli.connect: explicit base URL as is; the local profile auto-starts the server."""

from __future__ import annotations

import pytest
from phantom_cli.config import resolve

from phantom_cli.backend import runtime
from phantom_cli.connect import connect, connect_async, server_options


def test_explicit_base_url_is_used_as_is(live_server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHANTOM_BASE_URL", live_server.base_url)
    monkeypatch.setenv("PHANTOM_API_KEY", live_server.api_key)
    eff = resolve()
    with connect(eff) as c:
        assert c.base_url == live_server.base_url
        assert c.local.info().engine == "scripted"
    assert runtime.read_runtime() is None  # nothing was started


def test_local_profile_starts_the_server_and_reads_its_key() -> None:
    eff = resolve()
    assert eff.backend == "local" and eff.base_url is None
    opts = server_options(eff)
    assert opts["engine"] == "scripted" and opts["idle_timeout"] == 1800
    try:
        with connect(eff) as c:
            info = c.local.info()
            assert info.user == "local"
            running = runtime.status()
            assert running is not None and c.base_url == running["base_url"]
        # a second connect reuses the same server
        with connect(resolve()) as c2:
            c2.local.info()
        assert runtime.status()["pid"] == running["pid"]
        ac = connect_async(resolve())
        assert ac.base_url == running["base_url"]

        async def info_async() -> str:
            async with ac:
                return (await ac.local.info()).user

        import asyncio

        assert asyncio.run(info_async()) == "local"
    finally:
        runtime.stop_server()
