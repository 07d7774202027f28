"""Seed content: loaded on first start, idempotent, versioned upgrades that respect user edits."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from phantom_cli.backend import content as ct
from phantom_cli.backend import db as dbmod
from phantom_cli.backend import schema as _schema  # noqa: F401  (core tables)
from phantom_cli.backend.routes import admin as _admin  # noqa: F401  (registers every route's tables)
from phantom_cli.backend.testing import LiveServer
from phantom_cli.client import models as m


@pytest.fixture
def conn(tmp_path: Path):
    c = dbmod.connect(tmp_path / "t.db")
    dbmod.migrate(c)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def seed_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A writable copy of the shipped seed files, used by the loader."""
    d = tmp_path / "seed"
    d.mkdir()
    for name in ct.SEED_FILES:
        shutil.copy(ct.DATA_DIR / name, d / name)
    monkeypatch.setattr(ct, "DATA_DIR", d)
    return d


def _activities(conn) -> dict[str, dict]:
    return {r["id"]: json.loads(r["data"]) for r in conn.execute("SELECT id, data FROM activities")}


def test_shipped_seed_is_valid_and_complete(conn) -> None:
    counts = ct.load_seed(conn)
    assert counts["activities"] >= 6 and counts["skins"] >= 6 and counts["media"] >= 3
    acts = _activities(conn)
    for a in acts.values():
        m.Activity.model_validate(a)
    published = {r[0]: r[1] for r in conn.execute("SELECT id, published FROM activities")}
    assert published["act_clockwork_orchard_draft"] == 0
    companions = [a for a in acts.values() if a["is_companion"]]
    others = [a for a in acts.values() if not a["is_companion"]]
    assert len(companions) >= 2 and len(others) >= 2
    assert any(a["featured"] for a in acts.values())
    for a in acts.values():
        if published[a["id"]]:
            assert a["first_message"] and a["category"] and a["tags"] and a["description"]
    assert any(a.get("alternate_greetings") for a in acts.values())
    assert {a["category"] for a in acts.values()} >= {"companion", "adventure"}
    # seed 000's Luna
    luna = acts["act_luna"]
    assert luna["title"] == "Luna" and "astronomy" in luna["short_description"]
    # every skin referenced by an activity or a seeded medium exists; both genders and styles
    skins = {r["id"]: dict(r) for r in conn.execute("SELECT * FROM skins")}
    for a in acts.values():
        for key in ("anime_skin_id", "realistic_skin_id"):
            if a.get(key):
                assert a[key] in skins, (a["id"], key)
    assert {s["gender"] for s in skins.values()} >= {"female", "male"}
    assert {s["style"] for s in skins.values()} == {"anime", "realistic"}
    media = {r["id"]: r["type"] for r in conn.execute("SELECT id, type FROM media")}
    assert {"image", "video"} <= set(media.values())
    # the lorebook is kept and referenced
    assert ct.activity_lorebook(conn, luna)["entries"][0]["keys"]


def test_load_is_idempotent(conn) -> None:
    ct.load_seed(conn)
    before = conn.execute(
        "SELECT id, data, created_at, updated_at FROM activities ORDER BY id"
    ).fetchall()
    assert ct.load_seed(conn) == {"activities": 0, "skins": 0, "media": 0}
    assert ct.load_seed(conn, force=True) == {"activities": 0, "skins": 0, "media": 0}
    after = conn.execute(
        "SELECT id, data, created_at, updated_at FROM activities ORDER BY id"
    ).fetchall()
    assert [tuple(r) for r in before] == [tuple(r) for r in after]


def test_upgrade_brings_new_items_without_clobbering_edits(conn, seed_dir: Path) -> None:
    ct.load_seed(conn)
    # the user edits one seeded activity and deletes another
    theo = _activities(conn)["act_theo"]
    theo["title"] = "Theo (my edit)"
    from phantom_cli.backend.routes.activities import upsert_activity

    upsert_activity(conn, theo, published=True)
    conn.execute("DELETE FROM activities WHERE id = 'act_last_train'")
    # a new release: three items get a new version, one item is new
    doc = json.loads((seed_dir / "activities.json").read_text())
    for item in doc["activities"]:
        if item["id"] in ("act_theo", "act_last_train", "act_luna"):
            item["seed_version"] = 2
            item["short_description"] = "v2 text"
    doc["activities"].append(
        {
            "id": "act_new_in_v2",
            "seed_version": 1,
            "title": "New in v2",
            "category": "companion",
            "is_companion": True,
            "first_message": "Hi!",
        }
    )
    (seed_dir / "activities.json").write_text(json.dumps(doc))
    counts = ct.load_seed(conn)
    acts = _activities(conn)
    assert counts["activities"] == 2  # luna updated + the new one
    assert acts["act_luna"]["short_description"] == "v2 text"  # unedited: upgraded
    assert acts["act_theo"]["title"] == "Theo (my edit)"  # edited: kept
    assert acts["act_theo"]["short_description"] != "v2 text"
    assert "act_last_train" not in acts  # deleted by the user: not recreated
    assert acts["act_new_in_v2"]["title"] == "New in v2"
    assert ct.load_seed(conn) == {"activities": 0, "skins": 0, "media": 0}


def test_users_activity_with_a_seed_id_wins(conn) -> None:
    from phantom_cli.backend.routes.activities import upsert_activity

    upsert_activity(conn, {"id": "act_luna", "title": "My own Luna"}, published=True)
    ct.load_seed(conn)
    assert _activities(conn)["act_luna"]["title"] == "My own Luna"


def test_server_loads_seed_unless_disabled(tmp_path: Path) -> None:
    s = LiveServer(tmp_path / "a", engine="scripted", seed=0, load_seed_content=False).start()
    try:
        with s.http() as h:
            assert h.get("/api/v1/activities").json()["data"] == []
    finally:
        s.stop()
    s = LiveServer(tmp_path / "b", engine="scripted", seed=0).start()
    try:
        with s.http() as h:
            feat = h.get(
                "/api/v1/activities", params={"featured": "true", "is_companion": "true"}
            ).json()
            assert "act_luna" in [a["id"] for a in feat["data"]]
            assert h.get("/api/v1/activities/act_clockwork_orchard_draft").status_code == 404
            assert h.get("/api/v1/skins", params={"style": "realistic", "gender": "male"}).json()[
                "data"
            ]
            # seed 001's curl example works verbatim against the seeded NPC persona abc123
            r = h.post(
                "/api/v1/chat/abc123/init-session",
                json={
                    "user_session_id": "player-session-001",
                    "player_name": "Alex",
                    "player_gender": "non-binary",
                },
            )
            assert r.status_code == 200, r.text
            assert "Hollow Market" in r.json()["message"]
    finally:
        s.stop()


def test_lorebook_entries_activate_by_keys(conn) -> None:
    book = {
        "name": "b",
        "scan_depth": 2,
        "token_budget": 30,
        "entries": [
            {"keys": ["Emberfall"], "content": "City lore.", "insertion_order": 5},
            {"keys": ["guild"], "content": "Guild lore.", "insertion_order": 1},
            {"keys": ["ASH"], "content": "Case lore.", "case_sensitive": True},
            {"keys": [], "content": "Always.", "constant": True, "insertion_order": 9},
            {"keys": ["Emberfall"], "content": "Off.", "enabled": False},
            {
                "keys": ["Emberfall"],
                "content": "Needs night.",
                "selective": True,
                "secondary_keys": ["night"],
                "insertion_order": 2,
            },
            {
                "keys": ["^map\\b"],
                "content": "Regex lore.",
                "use_regex": True,
                "insertion_order": 3,
            },
            {"keys": ["Emberfall"], "content": "x" * 200, "insertion_order": 0},
        ],
    }
    lid = ct.save_lorebook(conn, book, "act_x", "lb_test")
    got = ct.lorebook_entries_for(
        conn, [lid, "lb_missing"], ["the guild", "old", "to emberfall, ash"]
    )
    # scan depth 2: "the guild" is out of range; budget 30*4: the lowest-order 200-char entry
    # overflows it and is dropped (SillyTavern serves constant, then high order, first)
    assert [e["content"] for e in got] == ["City lore.", "Always."]
    got = ct.lorebook_entries_for(conn, [lid], ["map of Emberfall at night", "the guild"])
    assert [e["content"] for e in got] == [
        "Guild lore.",
        "Needs night.",
        "Regex lore.",
        "City lore.",
        "Always.",
    ]
    assert all(e["lorebook_id"] == lid for e in got)
    # the seeded Luna lorebook answers to its keys
    ct.load_seed(conn)
    luna = _activities(conn)["act_luna"]
    got = ct.lorebook_entries_for(conn, luna["lorebook_ids"], ["Did you see the Perseids?"])
    assert got and "12 August" in got[0]["content"]
