from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _phantom_home(phantom_home: Path) -> Path:
    """tests/conftest.py's ``phantom_home`` (transcripts land in a fresh state dir)."""
    return phantom_home
