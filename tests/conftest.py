"""Shared fixtures: a real backend server on a free loopback port, an isolated home, a keyring.

``live_server`` (session) and ``fresh_server`` (per test) yield a
``phantom_cli.backend.testing.LiveServer``: ``.base_url``, ``.api_key`` (full scope, user
``local``), ``.home`` (its PHANTOM_HOME-style directory), ``.client()`` → ``Phantom``,
``.async_client()``, ``.http()`` → httpx.Client, ``.make_key(user=..., scopes=[...])`` → key,
``.add_activity(**fields)`` → id, ``.db()`` → sqlite3 connection. Engine: ``scripted``.

``phantom_home`` (per test, not autouse): an empty ``PHANTOM_HOME`` and none of the shell's
``PHANTOM_PROFILE`` / ``PHANTOM_BASE_URL`` / ``PHANTOM_API_KEY``; a folder's conftest makes it
autouse with ``def phantom_home(phantom_home): return phantom_home`` (autouse=True).
``memory_keyring`` (per test): a ``MemoryKeyring`` set as the keyring, the previous one restored.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import pytest


def _serve(home: Path) -> Iterator[object]:
    from phantom_cli.backend.testing import LiveServer

    server = LiveServer(home, engine="scripted", seed=0).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    yield from _serve(tmp_path_factory.mktemp("live_server_home"))


@pytest.fixture
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    yield from _serve(tmp_path_factory.mktemp("fresh_server_home"))


@pytest.fixture
def phantom_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("PHANTOM_HOME", str(home))
    for var in ("PHANTOM_PROFILE", "PHANTOM_BASE_URL", "PHANTOM_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    return home


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


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    before = keyring.get_keyring()
    kr = MemoryKeyring()
    keyring.set_keyring(kr)
    try:
        yield kr
    finally:
        keyring.set_keyring(before)
