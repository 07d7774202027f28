from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _phantom_home(phantom_home: Path) -> Path:
    """tests/conftest.py's ``phantom_home``, for every test here."""
    return phantom_home
