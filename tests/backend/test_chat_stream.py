"""Streamed instance chat: text/plain chunks as produced, user message first, assistant at end."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest


class SlowEngine:
    """Yields ``chunks`` with ``delay`` seconds between them; records how the stream ended."""

    name = "slow"
    model = "slow"

    def __init__(self, chunks: list[str], delay: float) -> None:
        self.chunks = chunks
        self.delay = delay
        self.ended = threading.Event()
        self.finished = False

    async def stream(self, prompt: Any, **kw: Any) -> AsyncIterator[str]:
        try:
            for i, ch in enumerate(self.chunks):
                if i:
                    await asyncio.sleep(self.delay)
                yield ch
            self.finished = True
        finally:
            self.ended.set()

    async def decide(self, prompt: Any, choices: Any) -> str:
        return choices[0]


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> Any:
    holder: dict[str, SlowEngine] = {}

    def install(chunks: list[str], delay: float) -> SlowEngine:
        holder["e"] = SlowEngine(chunks, delay)
        monkeypatch.setattr("phantom_cli.backend.engines.get_engine", lambda settings=None: holder["e"])
        return holder["e"]

    return install


def _messages(server, iid: str) -> list[dict]:
    with server.http() as c:
        return c.get(f"/api/v1/activity-instances/{iid}/messages", params={"limit": 100}).json()["data"]


def _instance(server, **fields: Any) -> str:
    """An instance of a new activity (no greeting unless ``first_message`` is given)."""
    aid = server.add_activity(title="Streamer", **fields)
    with server.http() as c:
        return c.post("/api/v1/activity-instances", json={"activity_id": aid}).json()["id"]


def test_scripted_engine_streams_and_saves(live_server) -> None:
    iid = _instance(live_server, first_message="Hello")
    with live_server.client() as c:
        text = "".join(c.instances.chat_stream(iid, "Tell me about the market"))
    assert text.strip()
    msgs = _messages(live_server, iid)
    # newest first; the activity's first_message is the instance's first (greeting) message
    assert [(m["role"], m["content"]) for m in msgs] == [
        ("assistant", text), ("user", "Tell me about the market"), ("assistant", "Hello")]


def test_chunks_are_flushed_as_produced(fresh_server, engine) -> None:
    eng = engine(["first ", "second ", "third"], delay=0.4)
    iid = _instance(fresh_server)
    with httpx.Client(base_url=fresh_server.base_url, timeout=10,
                      headers={"Authorization": f"Bearer {fresh_server.api_key}"}) as c:
        t0 = time.monotonic()
        with c.stream("POST", f"/api/v1/activity-instances/{iid}/chat", json={"content": "hi"}) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/plain")
            it = r.iter_text()
            first = next(it)
            t_first = time.monotonic() - t0
            assert first == "first "
            # the user message is saved at the start; the assistant's not before the end
            mid = _messages(fresh_server, iid)
            assert [m["role"] for m in mid] == ["user"]
            rest = "".join(it)
        total = time.monotonic() - t0
    assert first + rest == "first second third"
    assert t_first < total - 0.5, (t_first, total)  # the first chunk did not wait for the others
    assert eng.finished
    msgs = _messages(fresh_server, iid)
    assert [(m["role"], m["content"]) for m in msgs] == [("assistant", "first second third"), ("user", "hi")]


def test_disconnect_still_saves_the_whole_reply_and_a_keyed_retry_replays_it(fresh_server, engine) -> None:
    # the rule (endpoints.stream_response): a reply is generated to its end and saved even when
    # the client leaves; a retry with the same Idempotency-Key replays it, no second exchange
    eng = engine(["partial ", "then ", "more"], delay=0.3)
    iid = _instance(fresh_server)
    headers = {"Authorization": f"Bearer {fresh_server.api_key}", "Idempotency-Key": "ctrl-c-1"}
    with httpx.Client(base_url=fresh_server.base_url, timeout=10, headers=headers) as c:
        with c.stream("POST", f"/api/v1/activity-instances/{iid}/chat", json={"content": "hi"}) as r:
            assert next(r.iter_text()) == "partial "
        # leaving the block closes the connection mid-stream
    assert eng.ended.wait(5), "the engine stream did not end"
    assert eng.finished, "the reply was not generated to its end"
    time.sleep(0.2)
    msgs = _messages(fresh_server, iid)
    assert [(m["role"], m["content"]) for m in msgs] == [("assistant", "partial then more"), ("user", "hi")]

    engine(["another reply"], delay=0)
    with fresh_server.client() as cl:
        again = "".join(cl.instances.chat_stream(iid, "hi", idempotency_key="ctrl-c-1"))
    assert again == "partial then more"
    assert len(_messages(fresh_server, iid)) == 2


def test_engine_unavailable_is_503(fresh_server, monkeypatch) -> None:
    from phantom_cli.backend.engines import EngineUnavailable

    class Down:
        name = model = "down"

        async def stream(self, prompt: Any, **kw: Any) -> AsyncIterator[str]:
            raise EngineUnavailable("provider down")
            yield ""  # pragma: no cover

    monkeypatch.setattr("phantom_cli.backend.engines.get_engine", lambda settings=None: Down())
    iid = _instance(fresh_server)
    with fresh_server.http() as c:
        r = c.post(f"/api/v1/activity-instances/{iid}/chat", json={"content": "hi"})
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "SERVICE_UNAVAILABLE"


def test_lorebook_entries_reach_the_prompt(fresh_server, monkeypatch) -> None:
    from phantom_cli.backend.content import save_lorebook

    seen: list[Any] = []

    class Recorder:
        name = model = "recorder"

        async def stream(self, prompt: Any, **kw: Any) -> AsyncIterator[str]:
            seen.append(prompt)
            yield "ok"

    monkeypatch.setattr("phantom_cli.backend.engines.get_engine", lambda settings=None: Recorder())
    conn = fresh_server.db()
    try:
        lid = save_lorebook(conn, {"entries": [
            {"keys": ["lighthouse"], "content": "The lighthouse has been dark for ten years."},
            {"keys": ["dragon"], "content": "Dragons are extinct."},
        ]}, activity_id="act-lore")
    finally:
        conn.close()
    aid = fresh_server.add_activity(id="act-lore", title="Lore", lorebook_ids=[lid])
    with fresh_server.client() as c:
        inst = c.instances.create(aid)
        assert inst.snapshot_lorebook_ids == [lid]
        assert "".join(c.instances.chat_stream(inst.id, "What about the lighthouse?")) == "ok"
    system = seen[0].messages[0].content
    assert "The lighthouse has been dark" in system and "Dragons" not in system


def test_instance_chat_refuses_an_unknown_skin(live_server) -> None:  # type: ignore[no-untyped-def]
    """`instances chat --skin nope` was accepted silently (skin_id scopes play-mode XP)."""
    from phantom_cli.client.errors import NotFoundError

    aid = live_server.add_activity(title="Skinned", first_message="Hi")
    with live_server.client() as c:
        inst = c.instances.create(aid)
        with pytest.raises(NotFoundError) as info:
            "".join(c.instances.chat_stream(inst.id, "hello", skin_id="skin_nope"))
        assert "skin" in str(info.value)
        # nothing saved: only the greeting the instance opened with
        assert [(m.role, m.content) for m in c.instances.messages.list(inst.id).data] == [("assistant", "Hi")]
        skin = c.skins.list(limit=1).data[0].id
        assert "".join(c.instances.chat_stream(inst.id, "hello", skin_id=skin))
