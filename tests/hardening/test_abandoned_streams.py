"""Issue 13.6 "abandoned streams": one rule for every streaming route.

The rule (``endpoints.stream_response``, backend README): a streamed reply is generated to its
end and saved even when the client closes the connection after the first chunk; a retry with
the same ``Idempotency-Key`` replays it (no second exchange). Before, whether it was saved
depended on a race (154/200 instance chats, 34/200 companion streams), while the README said
nothing was saved.

Attack per route: read the first chunk, close the connection, then look at what was stored,
then retry with the same key and count the exchanges.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest


class SlowEngine:
    name = "slow"
    model = "slow"

    def __init__(self) -> None:
        self.chunks = ["first ", "second ", "third."]
        self.ended = threading.Event()
        self.finished = 0

    async def stream(self, prompt: Any, **kw: Any) -> AsyncIterator[str]:
        try:
            for i, ch in enumerate(self.chunks):
                if i:
                    await asyncio.sleep(0.3)
                yield ch
            self.finished += 1
        finally:
            self.ended.set()

    async def decide(self, prompt: Any, choices: Any) -> str:
        return choices[0]


@pytest.fixture
def slow(monkeypatch: pytest.MonkeyPatch) -> SlowEngine:
    eng = SlowEngine()
    monkeypatch.setattr("phantom_cli.backend.engines.get_engine", lambda settings=None: eng)
    monkeypatch.setattr("phantom_cli.backend.routes.companion.get_engine", lambda settings=None: eng)
    return eng


def _wait(pred: Any, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def _abandon(server: Any, path: str, body: dict[str, Any], key: str, params: dict[str, str] | None = None) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}", "Idempotency-Key": key}
    with httpx.Client(base_url=server.base_url, timeout=10, headers=headers) as c:
        with c.stream("POST", path, json=body, params=params) as r:
            assert r.status_code == 200
            next(r.iter_bytes())
        # leaving the block closes the connection after the first chunk


def _retry(server: Any, path: str, body: dict[str, Any], key: str, params: dict[str, str] | None = None) -> str:
    with server.http() as c:
        r = c.post(path, json=body, params=params, headers={"Idempotency-Key": key})
    assert r.status_code == 200, r.text
    assert r.headers.get("idempotent-replayed") == "true"
    return r.text


def test_instance_chat_abandoned_after_first_chunk(fresh_server, slow) -> None:
    aid = fresh_server.add_activity(title="A", first_message="Hello")
    with fresh_server.http() as c:
        iid = c.post("/api/v1/activity-instances", json={"activity_id": aid}).json()["id"]
    path = f"/api/v1/activity-instances/{iid}/chat"

    def msgs() -> list[tuple[str, str]]:
        with fresh_server.http() as c:
            data = c.get(f"/api/v1/activity-instances/{iid}/messages").json()["data"]
        return [(m["role"], m["content"]) for m in data]

    before = len(msgs())  # the greeting
    _abandon(fresh_server, path, {"content": "hi"}, "inst-1")
    assert _wait(lambda: len(msgs()) == before + 2), msgs()
    assert msgs()[:2] == [("assistant", "first second third."), ("user", "hi")]
    assert _retry(fresh_server, path, {"content": "hi"}, "inst-1") == "first second third."
    assert len(msgs()) == before + 2 and slow.finished == 1


def test_companion_stream_abandoned_after_first_chunk(fresh_server, slow) -> None:
    from phantom_cli.client.paths import COMPANION_CHAT

    body = {"chat_id": "ab1", "persona": {"name": "Mira"},
            "messages": [{"role": "user", "content": "tell me a long story please"}]}

    def turns() -> list[str]:
        conn = fresh_server.db()
        try:
            return [r[0] for r in conn.execute("SELECT reply FROM prompt_turn WHERE kind = 'companion'")]
        finally:
            conn.close()

    _abandon(fresh_server, COMPANION_CHAT, body, "comp-1", {"stream": "true"})
    assert _wait(lambda: len(turns()) == 1), turns()
    assert turns() == ["first second third."]
    replay = _retry(fresh_server, COMPANION_CHAT, body, "comp-1", {"stream": "true"})
    assert "event: done" in replay and "first second third." in replay
    assert len(turns()) == 1 and slow.finished == 1


def test_npc_stream_abandoned_after_first_chunk(fresh_server, slow) -> None:
    pid = "abc123"
    with fresh_server.http() as c:
        r = c.post(f"/api/v1/chat/{pid}/init-session",
                   json={"user_session_id": "ab", "player_name": "A", "player_gender": "male"})
        assert r.status_code == 200, r.text
    started = slow.finished
    body = {"message": "What do you sell?", "user_session_id": "ab"}
    path = f"/api/v1/chat/{pid}/message"

    def history() -> list[dict[str, Any]]:
        with fresh_server.http() as c:
            return c.get(f"/api/v1/chat/{pid}/history", params={"user_session_id": "ab"}).json()["messages"]

    before = len(history())
    _abandon(fresh_server, path, body, "npc-1", {"stream": "true"})
    assert _wait(lambda: len(history()) == before + 2), history()
    assert history()[-1]["content"] == "first second third."
    replay = _retry(fresh_server, path, body, "npc-1", {"stream": "true"})
    assert "event: done" in replay
    assert len(history()) == before + 2 and slow.finished == started + 1


def test_cli_retry_after_ctrl_c_is_not_a_second_exchange(fresh_server, slow, phantom_home, memory_keyring,
                                                        monkeypatch) -> None:
    """`phantom instances chat` interrupted by Ctrl-C after the first chunk, then run again:
    the second run sends the same Idempotency-Key and prints the stored reply."""
    from typer.testing import CliRunner

    from phantom_cli.cli import output
    from phantom_cli.cli.main import app

    aid = fresh_server.add_activity(title="A", first_message="Hello")
    with fresh_server.http() as c:
        iid = c.post("/api/v1/activity-instances", json={"activity_id": aid}).json()["id"]
    env = {"PHANTOM_BASE_URL": fresh_server.base_url, "PHANTOM_API_KEY": fresh_server.api_key,
           "PHANTOM_FORCE_TTY": "0"}

    def msgs() -> list[tuple[str, str]]:
        with fresh_server.http() as c:
            return [(m["role"], m["content"]) for m in
                    c.get(f"/api/v1/activity-instances/{iid}/messages").json()["data"]]

    before = len(msgs())
    real = output.OutputMode.write_chunk

    def ctrl_c(self: Any, text: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(output.OutputMode, "write_chunk", ctrl_c)
    first = CliRunner().invoke(app, ["instances", "chat", iid, "tell me more"], env=env)
    assert first.exit_code == 130, first.output
    monkeypatch.setattr(output.OutputMode, "write_chunk", real)
    assert _wait(lambda: len(msgs()) == before + 2), msgs()  # generated and saved all the same
    assert msgs()[0] == ("assistant", "first second third.")

    again = CliRunner().invoke(app, ["instances", "chat", iid, "tell me more"], env=env)
    assert again.exit_code == 0, again.output
    assert again.stdout.strip() == "first second third."
    assert len(msgs()) == before + 2 and slow.finished == 1  # no second exchange
    # once answered, the same text sent again is a new message
    third = CliRunner().invoke(app, ["instances", "chat", iid, "tell me more"], env=env)
    assert third.exit_code == 0
    assert len(msgs()) == before + 4
