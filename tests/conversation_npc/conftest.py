"""Fixtures for the NPC and scratchpad tests: PHANTOM_HOME in a tmp dir, helpers for fresh ids."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _phantom_home(phantom_home: Path) -> Path:
    """tests/conftest.py's ``phantom_home``, for every test here."""
    return phantom_home


_counter = itertools.count(1)


@pytest.fixture
def sid() -> str:
    """A user_session_id no other test uses (the live server is shared by the session)."""
    return f"player-{next(_counter)}"


@pytest.fixture
def http(live_server: Any) -> Iterator[Any]:
    with live_server.http() as c:
        yield c


@pytest.fixture
def client(live_server: Any) -> Iterator[Any]:
    c = live_server.client()
    try:
        yield c
    finally:
        c.close()
