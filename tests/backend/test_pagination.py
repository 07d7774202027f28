"""Keyset pagination: 250 items walked with no duplicate and no gap while items are inserted."""

from __future__ import annotations

import threading

from phantom_cli.backend.db import new_id, now

from .helpers import error_of, user_client


def _insert_messages(server, instance_id: str, n: int) -> list[str]:
    conn = server.db()
    ids = []
    try:
        conn.execute("BEGIN")
        for i in range(n):
            mid, ts = new_id("msg"), now()
            conn.execute(
                "INSERT INTO messages(id, instance_id, role, medium, content, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?)",
                (mid, instance_id, "user", "text", f"m{i}", ts, ts),
            )
            ids.append(mid)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return ids


def test_walk_250_while_inserting(live_server) -> None:
    aid = live_server.add_activity(title="Paging")
    c, key = user_client(live_server)
    inst = c.instances.create(aid)
    original = _insert_messages(live_server, inst.id, 250)

    stop = threading.Event()
    inserted: list[str] = []

    def writer() -> None:
        with live_server.http(key) as w:
            while not stop.is_set() and len(inserted) < 200:
                r = w.post(f"/api/v1/activity-instances/{inst.id}/messages", json={"content": "new"})
                assert r.status_code == 201
                inserted.append(r.json()["id"])

    t = threading.Thread(target=writer)
    seen: list[str] = []
    stamps: list[tuple[str, str]] = []
    t.start()
    try:
        with live_server.http(key) as r:
            cursor = None
            pages = 0
            while True:
                params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
                page = r.get(f"/api/v1/activity-instances/{inst.id}/messages", params=params).json()
                seen += [m["id"] for m in page["data"]]
                stamps += [(m["created_at"], m["id"]) for m in page["data"]]
                pages += 1
                if not page["has_more"]:
                    assert page["next_cursor"] is None
                    break
                cursor = page["next_cursor"]
    finally:
        stop.set()
        t.join()
    assert len(seen) == len(set(seen)), "duplicate item across pages"
    assert set(original) <= set(seen), "an item that existed before the walk was skipped"
    assert stamps == sorted(stamps, reverse=True), "not newest first"
    assert pages >= 250 // 7
    assert inserted, "the writer did not run concurrently"


def test_iter_through_client_and_limits(live_server) -> None:
    aid = live_server.add_activity(title="Paging 2")
    c, _ = user_client(live_server)
    inst = c.instances.create(aid)
    ids = _insert_messages(live_server, inst.id, 45)
    walked = [m.id for m in c.instances.messages.iter(inst.id, page_size=10)]
    assert walked == list(reversed(ids))
    first = c.instances.messages.list(inst.id)
    assert len(first.data) == 20 and first.has_more  # default limit 20
    full = c.instances.messages.list(inst.id, limit=100)
    assert len(full.data) == 45 and not full.has_more and full.next_cursor is None


def test_cursor_from_other_listing_is_harmless(live_server) -> None:
    with live_server.http() as c:
        r = c.get("/api/v1/activities", params={"cursor": "fA"})  # decodes to no separator
        assert r.status_code == 400 and error_of(r)["details"][0]["loc"] == ["query", "cursor"]
        # a well-formed cursor issued by another listing only positions this one: no error
        c.post("/api/v1/personas", json={"name": "P1"}).raise_for_status()
        c.post("/api/v1/personas", json={"name": "P2"}).raise_for_status()
        other = c.get("/api/v1/personas", params={"limit": 1}).json()["next_cursor"]
        assert other
        r = c.get("/api/v1/activities", params={"cursor": other})
        assert r.status_code == 200 and isinstance(r.json()["data"], list)
