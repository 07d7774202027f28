"""Fixtures of the content area: every test gets its own PHANTOM_HOME."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _phantom_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "phantom-home"
    home.mkdir()
    monkeypatch.setenv("PHANTOM_HOME", str(home))
    return home
