from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _phantom_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("PHANTOM_HOME", str(home))
    for var in ("PHANTOM_BASE_URL", "PHANTOM_API_KEY", "PHANTOM_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    return home
