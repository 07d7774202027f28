"""Fixtures of the conversation-commands tests (npc, companion, scratchpad, persona files)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def phantom_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own PHANTOM_HOME: nothing touches the real user dirs."""
    home = tmp_path_factory.mktemp("phantom_home")
    monkeypatch.setenv("PHANTOM_HOME", str(home))
    for var in ("PHANTOM_PROFILE", "VISUAL", "EDITOR"):
        monkeypatch.delenv(var, raising=False)
    return home
