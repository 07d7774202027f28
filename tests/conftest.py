"""Shared fixtures: a real backend server on a free loopback port.

``live_server`` (session) and ``fresh_server`` (per test) yield a
``phantom_cli.backend.testing.LiveServer``: ``.base_url``, ``.api_key`` (full scope, user
``local``), ``.home`` (its PHANTOM_HOME-style directory), ``.client()`` → ``Phantom``,
``.async_client()``, ``.http()`` → httpx.Client, ``.make_key(user=..., scopes=[...])`` → key,
``.add_activity(**fields)`` → id, ``.db()`` → sqlite3 connection. Engine: ``scripted``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


def _start(home: Path) -> object:
    from phantom_cli.backend.testing import LiveServer

    return LiveServer(home, engine="scripted", seed=0).start()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    server = _start(tmp_path_factory.mktemp("live_server_home"))
    try:
        yield server
    finally:
        server.stop()  # type: ignore[attr-defined]


@pytest.fixture
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    server = _start(tmp_path_factory.mktemp("fresh_server_home"))
    try:
        yield server
    finally:
        server.stop()  # type: ignore[attr-defined]
