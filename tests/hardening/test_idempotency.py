"""Issue 13.5: identical sends are separate turns; only an ``Idempotency-Key`` merges requests.

Attacks: 20 concurrent identical streamed sends without a key (were merged: 7 user messages
for 20 replies); the same with one key (must be one exchange, every caller the same reply);
a key reused by another user (must not see or replay the first user's outcome); a key reused
with another body (409); the client's own retries (must reuse the call's key).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest


def _instance(server: Any) -> str:
    aid = server.add_activity(title="Idem", first_message="Hello")
    with server.http() as c:
        r = c.post("/api/v1/activity-instances", json={"activity_id": aid})
        assert r.status_code == 201
        return r.json()["id"]


def _messages(server: Any, iid: str) -> list[dict[str, Any]]:
    with server.http() as c:
        return c.get(f"/api/v1/activity-instances/{iid}/messages", params={"limit": 100}).json()["data"]


async def _send_many(server: Any, iid: str, n: int, key: str | None) -> list[str]:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    if key:
        headers["Idempotency-Key"] = key
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30, headers=headers) as c:

        async def one() -> str:
            r = await c.post(f"/api/v1/activity-instances/{iid}/chat", json={"content": "same words"})
            assert r.status_code == 200, r.text
            return r.text

        return await asyncio.gather(*(one() for _ in range(n)))


def test_concurrent_identical_sends_without_a_key_are_all_stored(fresh_server) -> None:
    iid = _instance(fresh_server)
    before = _messages(fresh_server, iid)  # the greeting
    replies = asyncio.run(_send_many(fresh_server, iid, 20, None))
    assert all(r.strip() for r in replies)
    msgs = _messages(fresh_server, iid)[: -len(before) or None]
    assert sum(m["role"] == "user" for m in msgs) == 20
    assert sum(m["role"] == "assistant" for m in msgs) == 20


def test_concurrent_sends_with_one_key_are_one_exchange_with_one_outcome(fresh_server) -> None:
    iid = _instance(fresh_server)
    before = len(_messages(fresh_server, iid))  # the greeting
    replies = asyncio.run(_send_many(fresh_server, iid, 20, "k-20-same"))
    assert len(set(replies)) == 1 and replies[0].strip()
    msgs = _messages(fresh_server, iid)
    assert [(m["role"], m["content"]) for m in msgs[:2]] == [("assistant", replies[0]), ("user", "same words")]
    assert len(msgs) == before + 2
    # a later retry with the key replays the same bytes, marked as a replay
    with fresh_server.http() as c:
        r = c.post(f"/api/v1/activity-instances/{iid}/chat", json={"content": "same words"},
                   headers={"Idempotency-Key": "k-20-same"})
    assert r.status_code == 200 and r.text == replies[0]
    assert r.headers["idempotent-replayed"] == "true"
    assert r.headers["content-type"].startswith("text/plain")
    assert len(_messages(fresh_server, iid)) == before + 2


def test_json_outcome_is_replayed_with_status_and_body(fresh_server) -> None:
    with fresh_server.http() as c:
        first = c.post("/api/v1/personas", json={"name": "Ash"}, headers={"Idempotency-Key": "p-1"})
        again = c.post("/api/v1/personas", json={"name": "Ash"}, headers={"Idempotency-Key": "p-1"})
        other = c.post("/api/v1/personas", json={"name": "Ash"})
        listed = c.get("/api/v1/personas").json()["data"]
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert other.json()["id"] != first.json()["id"]
    assert len(listed) == 2


def test_same_key_with_another_body_is_409(fresh_server) -> None:
    with fresh_server.http() as c:
        assert c.post("/api/v1/personas", json={"name": "Ash"}, headers={"Idempotency-Key": "p-2"}).status_code == 201
        r = c.post("/api/v1/personas", json={"name": "Bea"}, headers={"Idempotency-Key": "p-2"})
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "CONFLICT"
        assert "Idempotency-Key" in r.json()["error"]["message"]
        # and on another route
        iid = _instance(fresh_server)
        r = c.post(f"/api/v1/activity-instances/{iid}/messages", json={"role": "user", "content": "x"},
                   headers={"Idempotency-Key": "p-2"})
        assert r.status_code == 409
        assert len(c.get("/api/v1/personas").json()["data"]) == 1


def test_malformed_key_is_400(fresh_server) -> None:
    with fresh_server.http() as c:
        r = c.post("/api/v1/personas", json={"name": "Ash"}, headers={"Idempotency-Key": "x" * 256})
    assert r.status_code == 400
    assert "Idempotency-Key" in r.json()["error"]["message"]


def test_keys_are_scoped_per_user(fresh_server) -> None:
    bob = fresh_server.make_key(user="bob", scopes=["personas"])
    with fresh_server.http() as c:
        mine = c.post("/api/v1/personas", json={"name": "Ash"}, headers={"Idempotency-Key": "shared"})
    with fresh_server.http(api_key=bob) as c:
        his = c.post("/api/v1/personas", json={"name": "Ash"}, headers={"Idempotency-Key": "shared"})
        assert his.status_code == 201
        assert "idempotent-replayed" not in his.headers
        assert his.json()["id"] != mine.json()["id"]
        assert [p["id"] for p in c.get("/api/v1/personas").json()["data"]] == [his.json()["id"]]


def test_an_error_releases_the_key(fresh_server) -> None:
    iid = _instance(fresh_server)
    with fresh_server.http() as c:
        c.patch(f"/api/v1/activity-instances/{iid}", json={"status": "archived"})
        r = c.post(f"/api/v1/activity-instances/{iid}/messages", json={"role": "user", "content": "x"},
                   headers={"Idempotency-Key": "e-1"})
        assert r.status_code == 409
        c.patch(f"/api/v1/activity-instances/{iid}", json={"status": "active"})
        r = c.post(f"/api/v1/activity-instances/{iid}/messages", json={"role": "user", "content": "x"},
                   headers={"Idempotency-Key": "e-1"})
        assert r.status_code == 201


def test_keys_older_than_a_day_are_pruned_and_younger_kept(fresh_server) -> None:
    import time

    from phantom_cli.backend import idempotency

    with fresh_server.http() as c:
        assert c.post("/api/v1/personas", json={"name": "Old"}, headers={"Idempotency-Key": "old"}).status_code == 201
        assert c.post("/api/v1/personas", json={"name": "New"}, headers={"Idempotency-Key": "new"}).status_code == 201
    conn = fresh_server.db()
    conn.execute("UPDATE idempotency_key SET created_ts = ? WHERE key = 'old'", (time.time() - 25 * 3600,))
    conn.execute("UPDATE idempotency_key SET created_ts = ? WHERE key = 'new'", (time.time() - 23 * 3600,))
    conn.close()
    idempotency._last_prune = 0.0
    with fresh_server.http() as c:
        again_new = c.post("/api/v1/personas", json={"name": "New"}, headers={"Idempotency-Key": "new"})
        again_old = c.post("/api/v1/personas", json={"name": "Old"}, headers={"Idempotency-Key": "old"})
    assert again_new.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in again_old.headers  # pruned: a new request


@pytest.mark.parametrize("route", ["companion", "npc"])
def test_streamed_sse_routes_replay_the_stored_stream(fresh_server, route) -> None:
    from phantom_cli.client.paths import COMPANION_CHAT

    with fresh_server.http() as c:
        if route == "companion":
            path, params = COMPANION_CHAT, {"stream": "true"}
            body = {"chat_id": "c1", "persona": {"name": "Mira"},
                    "messages": [{"role": "user", "content": "hello there"}]}
        else:
            pid = "abc123"  # the bundled NPC
            r = c.post(f"/api/v1/chat/{pid}/init-session",
                       json={"user_session_id": "s1", "player_name": "A", "player_gender": "male"})
            assert r.status_code == 200, r.text
            path, params, body = f"/api/v1/chat/{pid}/message", {"stream": "true"}, {
                "message": "hello", "user_session_id": "s1"}
        h = {"Idempotency-Key": f"sse-{route}"}
        first = c.post(path, params=params, json=body, headers=h)
        second = c.post(path, params=params, json=body, headers=h)
    assert first.status_code == second.status_code == 200, first.text
    assert "event: done" in first.text
    assert second.text == first.text
    assert second.headers["content-type"].startswith("text/event-stream")
    assert second.headers["idempotent-replayed"] == "true"
    if route == "npc":
        with fresh_server.http() as c:
            hist = c.get(f"/api/v1/chat/{pid}/history", params={"user_session_id": "s1"}).json()["messages"]
        assert sum(1 for m in hist if m.get("content") == "hello") == 1  # one stored exchange


def test_client_sends_one_key_per_call_and_reuses_it_on_retries() -> None:
    from phantom_cli.client import AsyncPhantom, Phantom

    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("idempotency-key"))
        if len(seen) % 2 == 1:
            return httpx.Response(503, json={"error": {"code": "SERVICE_UNAVAILABLE", "message": "x"}},
                                  headers={"Retry-After": "0"})
        return httpx.Response(201, json={"id": "per_1", "name": "Ash", "is_default": True,
                                         "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"})

    with Phantom(base_url="http://127.0.0.1:9", api_key="k", transport=httpx.MockTransport(handler),
                 sleep=lambda s: None) as c:
        c.personas.create(name="Ash")
        c.personas.create(name="Ash")
        c.personas.create(name="Ash", idempotency_key="mine")
    assert len(seen) == 6 and all(seen)
    assert seen[0] == seen[1] and seen[2] == seen[3] and seen[0] != seen[2]
    assert seen[4] == seen[5] == "mine"

    seen.clear()

    async def run() -> None:
        async def nosleep(s: float) -> None:
            return None

        async with AsyncPhantom(base_url="http://127.0.0.1:9", api_key="k",
                                transport=httpx.MockTransport(handler), sleep=nosleep) as c:
            await c.personas.create(name="Ash")
            await c.personas.create(name="Ash")
            # GETs carry no key
            with pytest.raises(Exception):  # noqa: B017 - the mock answers a persona, not a page
                await c.personas.list()

    asyncio.run(run())
    assert seen[0] == seen[1] and seen[2] == seen[3] and seen[0] != seen[2]
    assert seen[4:] == [None] * len(seen[4:])
