"""Fixtures for the config tests: an isolated PHANTOM_HOME and in-memory keyrings.

``phantom_home`` and ``memory_keyring`` come from tests/conftest.py; here the home is autouse.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from ..conftest import MemoryKeyring


class BrokenKeyring(MemoryKeyring):
    """A keyring backend that fails on every call (a locked or missing secret service)."""

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringError("locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError("locked")


@pytest.fixture(autouse=True)
def phantom_home(phantom_home: Path) -> Path:
    return phantom_home


@pytest.fixture(autouse=True)
def _restore_keyring() -> Iterator[None]:
    before = keyring.get_keyring()
    yield
    keyring.set_keyring(before)


@pytest.fixture
def no_keyring() -> None:
    keyring.set_keyring(fail.Keyring())


@pytest.fixture
def broken_keyring() -> BrokenKeyring:
    kr = BrokenKeyring()
    keyring.set_keyring(kr)
    return kr
