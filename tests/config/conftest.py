"""Fixtures for the config tests: an isolated PHANTOM_HOME and an in-memory keyring."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import pytest
from keyring.backends import fail


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring that keeps passwords in a dict (tests only)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


class BrokenKeyring(MemoryKeyring):
    """A keyring backend that fails on every call (a locked or missing secret service)."""

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringError("locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError("locked")


@pytest.fixture(autouse=True)
def phantom_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("PHANTOM_HOME", str(home))
    for var in ("PHANTOM_PROFILE", "PHANTOM_BASE_URL", "PHANTOM_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture(autouse=True)
def _restore_keyring() -> Iterator[None]:
    before = keyring.get_keyring()
    yield
    keyring.set_keyring(before)


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    kr = MemoryKeyring()
    keyring.set_keyring(kr)
    return kr


@pytest.fixture
def no_keyring() -> None:
    keyring.set_keyring(fail.Keyring())


@pytest.fixture
def broken_keyring() -> BrokenKeyring:
    kr = BrokenKeyring()
    keyring.set_keyring(kr)
    return kr
