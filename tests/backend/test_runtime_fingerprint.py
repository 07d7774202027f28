"""A background server started with other settings is replaced (audit gap: profile changes
used to be ignored until `phantom serve stop`)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from phantom_cli.backend import runtime


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PHANTOM_HOME", str(tmp_path))
    for var in ("PHANTOM_BASE_URL", "PHANTOM_API_KEY", "PHANTOM_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def _info(base_url: str, home: Path) -> dict[str, object]:
    key = (home / "data" / "backend" / "api_key").read_text().strip()
    r = httpx.get(f"{base_url}/api/v1/local/info", headers={"Authorization": f"Bearer {key}"})
    r.raise_for_status()
    return r.json()


def test_changed_settings_restart_the_background_server(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        first = runtime.ensure_server({"memory_cadence": 3, "vector_store": True})
        same = runtime.ensure_server({"memory_cadence": 3, "vector_store": True})
        assert same["pid"] == first["pid"], "unchanged settings reuse the running server"
        assert "restarting" not in capsys.readouterr().err

        second = runtime.ensure_server({"memory_cadence": 5, "vector_store": False})
        assert second["pid"] != first["pid"]
        assert not runtime.pid_alive(int(first["pid"]))
        assert "restarting the local server" in capsys.readouterr().err
        info = _info(str(second["base_url"]), home)
        assert info["vector_store"] is False
    finally:
        runtime.stop_server()


def test_fingerprint_is_stable_and_hides_secrets() -> None:
    a = runtime.options_fingerprint({"engine": "openai", "engine_api_key": "sk-secret-123"})
    b = runtime.options_fingerprint({"engine_api_key": "sk-secret-123", "engine": "openai"})
    assert a == b and "secret" not in a and len(a) == 16
    assert a != runtime.options_fingerprint({"engine": "openai", "engine_api_key": "sk-other"})
