"""Issue 18, point 10: the extraction job's bookkeeping (which line holds the fact of which key)
is kept out of the text the user reads and edits — in the ``scratchpad_facts`` table — and
existing ``<!-- fact:KEY -->`` markers are migrated out of stored scratchpads. The scratchpad
API (content, version, 409 on a stale version) is unchanged."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from phantom_cli.backend import db
from phantom_cli.backend import scratchpad as sp

URL = "/api/v1/companion/scratchpad"


def _conn(tmp_path: Path) -> sqlite3.Connection:
    conn = db.connect(tmp_path / "t.db")
    db.migrate(conn)
    conn.execute("INSERT INTO users(id, name, created_at) VALUES ('u1', 'u1', 'now')")
    return conn


def test_facts_leave_no_marker_in_the_text(tmp_path: Path) -> None:
    conn = _conn(tmp_path)
    a = sp.update_scratchpad_facts(conn, "u1", companion_id="luna",
                                   facts=[("pref:pizza", "Loves pizza with pineapple")])
    assert a.content == "- Loves pizza with pineapple\n"
    assert sp.known_facts(conn, a.id) == {"pref:pizza": "Loves pizza with pineapple"}
    b = sp.update_scratchpad_facts(conn, "u1", companion_id="luna",
                                   facts=[("pref:pizza", "Hates pizza with pineapple")])
    assert b.content == "- Hates pizza with pineapple\n"  # the keyed line was replaced
    assert sp.known_facts(conn, b.id) == {"pref:pizza": "Hates pizza with pineapple"}
    conn.close()


def test_a_user_edit_is_never_overwritten_by_a_stale_key(tmp_path: Path) -> None:
    conn = _conn(tmp_path)
    a = sp.update_scratchpad_facts(conn, "u1", companion_id="luna",
                                   facts=[("pref:pizza", "Loves pizza with pineapple")])
    edited = sp.write(conn, "u1", "companion", companion_id="luna", version=a.version,
                      content="- Only on Fridays: pizza with pineapple (my words)\n")
    c = sp.update_scratchpad_facts(conn, "u1", companion_id="luna",
                                   facts=[("pref:pizza", "Likes pizza")])
    assert c.version == edited.version + 1
    assert c.content == "- Only on Fridays: pizza with pineapple (my words)\n- Likes pizza\n"
    conn.close()


def test_a_written_marker_is_moved_out_of_the_text(tmp_path: Path) -> None:
    """An old client writing back text that still carries markers: they go to the table."""
    conn = _conn(tmp_path)
    w = sp.write(conn, "u1", "companion", companion_id="luna", version=0,
                 content="# notes\n- Likes tea  <!-- fact:pref:tea -->\n")
    assert w.content == "# notes\n- Likes tea\n" and w.version == 1
    assert sp.known_facts(conn, w.id) == {"pref:tea": "Likes tea"}
    conn.close()


def test_migration_strips_markers_from_stored_scratchpads(tmp_path: Path) -> None:
    conn = _conn(tmp_path)
    # a database as version 1 of the scratchpad schema left it: marked text, no facts table
    conn.execute("DROP TABLE scratchpad_facts")
    conn.execute("DELETE FROM schema_version WHERE area = 'scratchpad' AND version = 2")
    legacy = ("My notes\n- Loves pizza with pineapple  <!-- fact:pref:pizza -->\n"
              "- Works nights <!--fact:job-->\n")
    conn.execute(
        "INSERT INTO scratchpads(id, user_id, type, key, content, version, created_at, updated_at)"
        " VALUES ('scr_1', 'u1', 'companion', 'luna', ?, 7, 'now', 'now')", (legacy,))
    applied = db.migrate(conn)
    assert [(m.area, m.version) for m in applied] == [("scratchpad", 2)]
    got = sp.get_or_create(conn, "u1", companion_id="luna")
    assert got.content == "My notes\n- Loves pizza with pineapple\n- Works nights\n"
    assert got.version == 7  # the user's notes are unchanged: no version bump
    assert sp.known_facts(conn, "scr_1") == {"pref:pizza": "Loves pizza with pineapple",
                                             "job": "Works nights"}
    # and the next extraction still finds its line
    after = sp.update_scratchpad_facts(conn, "u1", companion_id="luna",
                                       facts=[("job", "Works days now")])
    assert after.content == "My notes\n- Loves pizza with pineapple\n- Works days now\n"
    conn.close()


def test_the_api_contract_is_unchanged(live_server: Any) -> None:
    with live_server.http() as http:
        first = http.get(URL, params={"companion_id": "facts-api"})
        assert first.status_code == 200 and set(first.json()) >= {"id", "content", "version", "type"}
        put = http.put(URL, params={"companion_id": "facts-api"},
                       json={"content": "- Likes tea  <!-- fact:pref:tea -->\n", "version": 0})
        assert put.status_code == 200, put.text
        assert put.json()["content"] == "- Likes tea\n" and put.json()["version"] == 1
        stale = http.put(URL, params={"companion_id": "facts-api"},
                         json={"content": "x", "version": 0})
        assert stale.status_code == 409
        assert "<!--" not in http.get(URL, params={"companion_id": "facts-api"}).json()["content"]
