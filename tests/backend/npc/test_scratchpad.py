"""The scratchpad: create-on-read, versioned writes with 409, condensing, extraction facts."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from phantom_cli.backend import scratchpad as sp
from phantom_cli.client.errors import ConflictError

URL = "/api/v1/companion/scratchpad"

NOTES = """# About the user
- Lives in Lisbon with two cats, Miso and Tofu.
- Works as a nurse on night shifts at the city hospital.
- Favourite food is grilled sardines with lemon.
- Learning to play the cello; practises on Sundays.
- Sister Ana lives in Porto and is getting married in June.
- Allergic to peanuts and shellfish.
- Prefers short replies in the morning, long talks at night.
- Dislikes horror films but loves old musicals.
"""


def ok(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def cid(sid: str) -> str:
    return f"mira-{sid}"


def test_created_empty_on_first_read(http: Any, cid: str) -> None:
    a = ok(http.get(URL, params={"companion_id": cid}))
    assert a["content"] == "" and a["version"] == 0 and a["type"] == "companion" and a["id"]
    assert a["updated_at"].endswith("Z")
    b = ok(http.get(URL, params={"companion_id": cid}))
    assert b["id"] == a["id"] and b["version"] == 0
    conv = ok(http.get(URL, params={"type": "conversation", "conversation_id": cid}))
    assert conv["type"] == "conversation" and conv["id"] != a["id"]


def test_versions_increment_and_stale_writes_get_409(http: Any, cid: str) -> None:
    ok(http.get(URL, params={"companion_id": cid}))
    w1 = ok(http.put(URL, params={"companion_id": cid}, json={"content": "likes tea", "version": 0}))
    assert w1["version"] == 1 and w1["content"] == "likes tea"
    w2 = ok(http.put(URL, params={"companion_id": cid}, json={"content": "likes green tea", "version": 1}))
    assert w2["version"] == 2
    stale = http.put(URL, params={"companion_id": cid}, json={"content": "likes coffee", "version": 1})
    assert stale.status_code == 409
    err = stale.json()["error"]
    assert err["code"] == "CONFLICT" and "version" in err["message"]
    assert err["details"]["content"] == "likes green tea" and err["details"]["version"] == 2
    assert err["details"]["expected_version"] == 1
    # nothing was overwritten
    now = ok(http.get(URL, params={"companion_id": cid}))
    assert now["content"] == "likes green tea" and now["version"] == 2
    # the conflict flow: re-read, merge, write with the current version
    merged = ok(http.put(URL, params={"companion_id": cid},
                         json={"content": "likes green tea\nlikes coffee", "version": err["details"]["version"]}))
    assert merged["version"] == 3


def test_put_before_any_read_creates_at_version_one(http: Any, cid: str) -> None:
    w = ok(http.put(URL, params={"type": "conversation", "conversation_id": cid}, json={"content": "x", "version": 0}))
    assert w["version"] == 1 and w["type"] == "conversation"


def test_validation(http: Any, cid: str) -> None:
    r = http.get(URL, params={"type": "conversation"})
    assert r.status_code == 400 and "conversation_id" in r.json()["error"]["message"]
    r = http.get(URL, params={"type": "diary", "companion_id": cid})
    assert r.status_code == 400 and r.json()["error"]["details"][0]["loc"] == ["query", "type"]
    r = http.put(URL, params={"companion_id": cid}, json={"content": "x" * 64001, "version": 0})
    assert r.status_code == 400 and "content" in r.json()["error"]["message"]
    r = http.get(URL, params={"companion_id": cid, "max_words": 0})
    assert r.status_code == 400 and "max_words" in r.json()["error"]["message"]


def test_condense_within_budget_honours_hint_and_keeps_the_stored_copy(http: Any, cid: str) -> None:
    ok(http.put(URL, params={"companion_id": cid}, json={"content": NOTES, "version": 0}))
    c = ok(http.get(URL, params={"companion_id": cid, "max_words": 25, "hint": "food allergies and diet"}))
    assert c["condensed"] is True and c["word_count"] <= 25 and len(c["content"].split()) <= 25
    assert "peanuts" in c["content"] and "sardines" in c["content"]
    assert "cello" not in c["content"]
    assert c["version"] == 1 and c["original_word_count"] == len(NOTES.split())
    pets = ok(http.get(URL, params={"companion_id": cid, "max_words": 12, "hint": "pets, cats"}))
    assert "Miso" in pets["content"] and len(pets["content"].split()) <= 12
    stored = ok(http.get(URL, params={"companion_id": cid}))
    assert stored["content"] == NOTES and stored["version"] == 1 and "condensed" not in stored


def test_condense_unit_rules() -> None:
    assert sp.condense("short text", 10, "x") == "short text"
    text = "alpha beta gamma.\nThe cat sleeps all day on the warm sofa by the window.\nzeta eta."
    out = sp.condense(text, 5, "cat sofa")
    assert len(out.split()) <= 5 and out.endswith("…") and out.startswith("The cat")
    # no hint: the earliest lines that fit are kept, in order
    assert sp.condense("one two\nthree four\nfive six", 4) == "one two\nthree four"
    # lines keep their original order whatever their rank
    ranked = sp.condense("dogs bark\ncats purr\nbirds sing", 4, "birds and dogs")
    assert ranked == "dogs bark\nbirds sing"
    with pytest.raises(ValueError, match="max_words"):
        sp.condense("x", 0)


def test_user_isolation(live_server: Any, cid: str) -> None:
    key = live_server.make_key(user="dora", scopes=["scratchpad"])
    with live_server.http() as a, live_server.http(key) as d:
        ok(a.put(URL, params={"companion_id": cid}, json={"content": "alice's secret", "version": 0}))
        mine = ok(d.get(URL, params={"companion_id": cid}))
        assert mine["content"] == "" and mine["version"] == 0
    npc_only = live_server.make_key(user="dora", scopes=["chat:npc"])
    with live_server.http(npc_only) as c:
        assert c.get(URL, params={"companion_id": cid}).status_code == 403


def test_client_conflict_error_carries_the_current_content(client: Any, cid: str) -> None:
    pad = client.scratchpad.get(companion_id=cid)
    client.scratchpad.update(content="first", version=pad.version, companion_id=cid)
    with pytest.raises(ConflictError) as exc:
        client.scratchpad.update(content="second", version=pad.version, companion_id=cid)
    assert exc.value.details["content"] == "first" and exc.value.details["version"] == 1


# --------------------------------------------------------------------------- extraction facts


def _conn(tmp_path: Path) -> sqlite3.Connection:
    from phantom_cli.backend import db

    conn = db.connect(tmp_path / "t.db")
    db.migrate(conn)
    conn.execute("INSERT INTO users(id, name, created_at) VALUES ('u1', 'u1', 'now')")
    return conn


def test_update_facts_appends_dedupes_and_updates_keyed_lines(tmp_path: Path) -> None:
    conn = _conn(tmp_path)
    key = sp.companion_key("Mira Vale")
    assert key == "mira-vale"
    a = sp.update_scratchpad_facts(conn, "u1", companion_id=key, facts=["Lives in Lisbon", ("job", "Is a nurse")])
    assert a.version == 1 and "- Lives in Lisbon" in a.content and "Is a nurse" in a.content
    b = sp.update_scratchpad_facts(conn, "u1", companion_id=key, facts=["lives in lisbon!", ("job", "Is a doctor")])
    assert b.version == 2 and b.content.count("Lisbon") == 1
    assert "Is a doctor" in b.content and "nurse" not in b.content
    same = sp.update_scratchpad_facts(conn, "u1", companion_id=key, facts=["Lives in Lisbon"])
    assert same.version == 2  # nothing new: no write
    conv = sp.update_scratchpad_facts(conn, "u1", conversation_id="chat-1", facts=["Talked about cats"])
    assert conv.type == "conversation" and conv.version == 1
    with pytest.raises(ValueError, match="exactly one"):
        sp.update_scratchpad_facts(conn, "u1", facts=["x"])
    conn.close()


def test_extraction_and_user_edit_race_loses_nothing(tmp_path: Path) -> None:
    conn = _conn(tmp_path)
    user_view = sp.get_or_create(conn, "u1", companion_id="mira")  # the user opens the editor (v0)
    sp.update_scratchpad_facts(conn, "u1", companion_id="mira", facts=["Has a dog named Rex"])  # v1
    with pytest.raises(sp.VersionConflict) as exc:
        sp.write(conn, "u1", "companion", content="My name is Sam", version=user_view.version, companion_id="mira")
    current = exc.value.current
    assert current.version == 1 and "Rex" in current.content
    merged = sp.write(conn, "u1", "companion", content=current.content + "My name is Sam\n",
                      version=current.version, companion_id="mira")
    assert merged.version == 2 and "Rex" in merged.content and "Sam" in merged.content
    # and the job's next merge keeps the user's line
    after = sp.update_scratchpad_facts(conn, "u1", companion_id="mira", facts=["Likes jazz"])
    assert after.version == 3 and all(x in after.content for x in ("Rex", "Sam", "jazz"))
    conn.close()


def test_condensed_copy_leaves_out_fact_markers() -> None:
    """QA: `scratchpad get --max-words 5` returned "Prefers coffee.\\n<!-- fact:pref:tea -->":
    the fact's text did not fit but its bookkeeping marker did, alone."""
    # a legacy text (markers are no longer written: scratchpad_facts keeps that bookkeeping)
    content = "Prefers coffee.\n- The user likes coffee.  <!-- fact:pref:tea -->\n"
    assert "<!--" not in sp.merge_facts("Prefers coffee.\n", [("pref:tea", "The user likes coffee.")])
    out = sp.condense(content, 5)
    assert out == "Prefers coffee."
    out = sp.condense(content, 7, "coffee")
    assert out == "Prefers coffee.\n- The user likes coffee."
    assert "<!--" not in sp.condense(content + "- more notes here\n", 9, "notes")
    assert sp.condense(content, 100) == content  # nothing to condense: the stored text as is
