"""Regression tests for defects QA found in the backend core (/tmp/qa_findings.md)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from phantom_cli.config import config_file, resolve

from phantom_cli.backend import runtime
from phantom_cli.backend.moderation import DEFAULT_POLICY
from phantom_cli.connect import connect, server_options


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
    """QA 18 (connect part): after an idle exit / `serve stop`, a long-lived client (the TUI)
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


def test_instance_chat_refuses_an_unknown_skin(live_server) -> None:  # type: ignore[no-untyped-def]
    """QA 14: `instances chat --skin nope` was accepted silently (skin_id scopes play-mode XP)."""
    from phantom_cli.client.errors import NotFoundError

    aid = live_server.add_activity(title="Skinned", first_message="Hi")
    with live_server.client() as c:
        inst = c.instances.create(aid)
        with pytest.raises(NotFoundError) as info:
            "".join(c.instances.chat_stream(inst.id, "hello", skin_id="skin_nope"))
        assert "skin" in str(info.value)
        # nothing saved: only the greeting the instance opened with
        assert [(m.role, m.content) for m in c.instances.messages.list(inst.id).data] == [("assistant", "Hi")]
        skin = c.skins.list(limit=1).data[0].id
        assert "".join(c.instances.chat_stream(inst.id, "hello", skin_id=skin))


def test_a_cut_npc_stream_releases_the_session(fresh_server) -> None:  # type: ignore[no-untyped-def]
    """A cut (or abandoned) NPC stream left its generator suspended inside the session lock, so
    every later turn of that session hung until the client's read timeout (seen as a flaky
    tests/cli_core/test_faults_cli.py)."""
    import httpx

    from phantom_cli.backend.faults import parse_faults

    h = {"Authorization": f"Bearer {fresh_server.api_key}"}
    body = {"user_session_id": "cut", "message": "What do you have for sale?"}
    with httpx.Client(base_url=fresh_server.base_url, headers=h, timeout=5) as c:
        r = c.post("/api/v1/chat/abc123/init-session",
                   json={"user_session_id": "cut", "player_name": "A", "player_gender": "male"})
        assert r.status_code == 200
        fresh_server.app.state.fault_state.faults = parse_faults("cut-stream:1")
        for _ in range(4):
            with pytest.raises(httpx.RemoteProtocolError):
                with c.stream("POST", "/api/v1/chat/abc123/message?stream=true", json=body) as resp:
                    for _chunk in resp.iter_bytes():
                        pass
        fresh_server.app.state.fault_state.faults = None
        r = c.post("/api/v1/chat/abc123/message", json=body)  # would time out while locked
        assert r.status_code == 200


def test_a_bad_moderation_policy_stops_the_server_at_start(tmp_path: Path) -> None:
    """It was accepted at start and every companion turn then answered 500."""
    from phantom_cli.backend.settings import ServerSettings

    bad = tmp_path / "policy.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match=f"(?i)moderation_policy: {re.escape(str(bad))} is not valid json"):
        ServerSettings.for_home(tmp_path, moderation_policy=str(bad))
    with pytest.raises(ValueError, match="moderation_policy: cannot read"):
        ServerSettings.for_home(tmp_path, moderation_policy=str(tmp_path / "missing.json"))
    # the background server says why in the error, not only in its log
    with pytest.raises(runtime.RuntimeErrorBackend) as err:
        runtime.ensure_server({"idle_timeout": 60, "moderation_policy": str(bad)})
    assert "exited during start-up (code 2)" in str(err.value)
    assert re.search(f"(?i)moderation_policy: {re.escape(str(bad))} is not valid json", str(err.value))
    assert runtime.status() is None
