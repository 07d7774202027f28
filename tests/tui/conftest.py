from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _phantom_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("PHANTOM_HOME", str(home))
    for var in ("PHANTOM_PROFILE", "PHANTOM_BASE_URL", "PHANTOM_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def fake():
    from fakes import FakeClient

    return FakeClient()


@pytest.fixture
def ctx(fake):
    from phantom_cli.tui.context import AppContext

    return AppContext(client=fake, backend="local", profile="test", player_name="Alex",
                      engine="scripted")
