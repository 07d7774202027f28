from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _phantom_home(phantom_home: Path) -> Path:
    """tests/conftest.py's ``phantom_home``, for every test here."""
    return phantom_home


@pytest.fixture
def fake():
    from scripted import ScriptedClient

    return ScriptedClient()


@pytest.fixture
def ctx(fake):
    from phantom_cli.tui.context import AppContext

    return AppContext(client=fake, backend="local", profile="test", player_name="Alex",
                      engine="scripted")
