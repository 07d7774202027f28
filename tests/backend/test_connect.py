"""phantom_cli.connect: explicit base URL as is; the local profile auto-starts the server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from phantom_cli.config import config_file, resolve

from phantom_cli.backend import runtime
from phantom_cli.backend.moderation import DEFAULT_POLICY
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


def test_every_server_setting_of_the_profile_reaches_the_spawned_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moderation_policy / engine_embedding_model never left the profile; every documented
    server key (docs/architecture.md, "Settings") must reach the background server."""
    policy = tmp_path / "policy.json"
    shutil.copy(DEFAULT_POLICY, policy)
    monkeypatch.setenv("QA_ENGINE_KEY", "sk-test-secret")
    config_file().parent.mkdir(parents=True, exist_ok=True)
    config_file().write_text(
        "[profiles.local]\n"
        'backend = "local"\n'
        'engine = "scripted"\n'
        'engine_base_url = "http://127.0.0.1:9/v1"\n'
        'engine_model = "qa-model"\n'
        'engine_api_key_env = "QA_ENGINE_KEY"\n'
        f'llama_model_path = "{tmp_path / "model.gguf"}"\n'
        "idle_timeout = 600\n"
        'faults = "latency:1ms"\n'
        "memory_cadence = 5\n"
        "vector_store = false\n"
        "seed = 7\n"
        f'moderation_policy = "{policy}"\n'
        'engine_embedding_model = "qa-embed"\n'
    )
    eff = resolve()
    expected = {
        "engine": "scripted",
        "engine_base_url": "http://127.0.0.1:9/v1",
        "engine_model": "qa-model",
        "engine_api_key_env": "QA_ENGINE_KEY",
        "llama_model_path": str(tmp_path / "model.gguf"),
        "idle_timeout": 600,
        "faults": "latency:1ms",
        "memory_cadence": 5,
        "vector_store": False,
        "seed": 7,
        "moderation_policy": str(policy),
        "engine_embedding_model": "qa-embed",
    }
    assert server_options(eff) == expected
    try:
        with connect(eff) as c:
            settings = c.local.info().settings
    finally:
        runtime.stop_server()
    assert settings is not None
    assert {k: settings[k] for k in expected} == expected
    assert settings["engine_api_key_set"] is True
    assert "sk-test-secret" not in str(settings)


def test_relative_policy_path_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config_file().parent.mkdir(parents=True, exist_ok=True)
    config_file().write_text('[profiles.local]\nmoderation_policy = "mine.toml"\n')
    assert server_options(resolve())["moderation_policy"] == str(tmp_path / "mine.toml")


def test_refresh_reconnects_a_client_after_the_local_server_went_away() -> None:
    """After an idle exit / `serve stop`, a long-lived client (the TUI)
    can point itself at a new local server instead of failing for ever."""
    from phantom_cli.client.errors import APIConnectionError
    from phantom_cli.connect import refresh

    eff = resolve()
    try:
        with connect(eff) as c:
            assert c.local.info().user == "local"
            assert refresh(c, eff) is False  # still there: nothing to change
            runtime.stop_server()
            c.max_retries = 0
            with pytest.raises(APIConnectionError):
                c.local.info()
            assert refresh(c, eff) is True
            assert c.local.info().user == "local"
            assert c.base_url == runtime.status()["base_url"]
    finally:
        runtime.stop_server()


def test_refresh_leaves_an_explicit_base_url_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from phantom_cli.client import Phantom
    from phantom_cli.connect import refresh

    monkeypatch.setenv("PHANTOM_BASE_URL", "http://127.0.0.1:9")
    client = Phantom(base_url="http://127.0.0.1:9", api_key="k")
    assert refresh(client, resolve()) is False and client.base_url == "http://127.0.0.1:9"
