"""Fixtures of the backend tests (every folder under tests/backend/).

Every test gets tests/conftest.py's ``phantom_home`` (autouse here; tests/backend/content has its
own). Companion chat: ``server`` (one scripted-engine server per module), ``make_server`` (a
restartable server factory), ``chat_id``, and the helpers ``PERSONA``, ``wait_jobs``,
``Conversation``. NPC chat: ``sid`` (a fresh user_session_id), ``http`` and ``client`` bound to
the shared ``live_server``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

PERSONA = {
    "name": "Luna",
    "bio": "A warm, witty companion who loves astronomy.",
    "chat_style": "playful, curious",
}


@pytest.fixture(autouse=True)
def _phantom_home(phantom_home: Path) -> Path:
    """tests/conftest.py's ``phantom_home``, for every test here."""
    return phantom_home


_ids = itertools.count(1)


@pytest.fixture
def chat_id() -> str:
    """A chat_id no other test uses (the module server is shared)."""
    return f"chat-{next(_ids)}"


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``make_server(home=None, **settings)`` → a started LiveServer (stopped at teardown)."""
    from phantom_cli.backend.testing import LiveServer

    started: list[Any] = []

    def make(home: Path | None = None, **overrides: Any) -> Any:
        overrides.setdefault("engine", "scripted")
        overrides.setdefault("seed", 0)
        overrides.setdefault("load_seed_content", False)
        server = LiveServer(home or tmp_path / f"server-{len(started)}", **overrides).start()
        started.append(server)
        return server

    yield make
    for s in started:
        try:
            s.stop()
        except Exception:  # noqa: BLE001 - already stopped by the test
            pass


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One scripted-engine server shared by a module's tests (each test uses its own chat_id)."""
    from phantom_cli.backend.testing import LiveServer

    s = LiveServer(tmp_path_factory.mktemp("companion_home"), engine="scripted", seed=0,
                   load_seed_content=False).start()
    try:
        yield s
    finally:
        s.stop()


def wait_jobs(server: Any, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Wait until no job is queued or running; returns every job row."""
    conn = server.db()
    try:
        deadline = time.monotonic() + timeout
        while True:
            rows = [dict(r) for r in conn.execute("SELECT id, kind, status, attempts, error FROM jobs")]
            if all(r["status"] in ("done", "failed") for r in rows):
                return rows
            if time.monotonic() > deadline:
                raise AssertionError(f"jobs still pending after {timeout}s: {rows}")
            time.sleep(0.02)
    finally:
        conn.close()


class Conversation:
    """A client-side rolling window, like `phantom companion say`."""

    def __init__(self, http: Any, chat_id: str, persona: dict[str, Any] | None = None) -> None:
        self.http = http
        self.chat_id = chat_id
        self.persona = persona or PERSONA
        self.messages: list[dict[str, str]] = []

    def say(self, text: str, **extra: Any) -> dict[str, Any]:
        self.messages.append({"role": "user", "content": text})
        r = self.http.post("/api/v1/companion/chat", json={
            "chat_id": self.chat_id, "persona": self.persona, "messages": self.messages[-20:], **extra,
        })
        assert r.status_code == 200, r.text
        data = r.json()
        self.messages.append({"role": "assistant", "content": data["reply"]})
        return data


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
