"""`phantom admin import-lorebook / export-lorebook / lorebook list|show`, and import-card on a
world-info file, against a real local backend. The fixture Eldoria.worldinfo.json is written by
hand from SillyTavern's world-info format (the ``entries`` map)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from phantom_cli.backend import cards
from phantom_cli.backend.testing import LiveServer

FIXTURE = Path(__file__).parent / "fixtures" / "Eldoria.worldinfo.json"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    s = LiveServer(tmp_path_factory.mktemp("lorebook_cli"), engine="scripted", seed=0).start()
    try:
        yield s
    finally:
        s.stop()


def run(server: LiveServer, *args: str) -> Result:
    from phantom_cli.cli.main import app

    env = {"PHANTOM_BASE_URL": server.base_url, "PHANTOM_API_KEY": server.api_key,
           "PHANTOM_FORCE_TTY": "0", "PHANTOM_PROFILE": None}
    return CliRunner().invoke(app, ["admin", *args], env=env, catch_exceptions=False)


def test_import_card_on_worldinfo_says_use_import_lorebook(server: LiveServer) -> None:
    r = run(server, "import-card", str(FIXTURE))
    assert r.exit_code != 0
    assert "world-info" in r.output and "import-lorebook" in r.output
    assert "spec: missing" not in r.output


def test_import_list_show_export_round_trip(server: LiveServer, tmp_path: Path) -> None:
    with server.http() as h:
        assert h.post("/api/v1/local/admin/activities",
                      json={"id": "act_ilse", "title": "Ilse"}).status_code == 201
    r = run(server, "import-lorebook", str(FIXTURE), "--activity", "act_ilse", "--json")
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["format"] == "worldinfo" and res["entries"] == 5 and res["activity_id"] == "act_ilse"
    assert res["name"] == "Eldoria" and res["constant"] == 1 and res["enabled"] == 4
    with server.http() as h:
        assert h.get("/api/v1/local/admin/activities/act_ilse").json()["lorebook_ids"] == [res["id"]]

    r = run(server, "lorebook", "list", "act_ilse")
    assert r.exit_code == 0, r.output
    assert res["id"] in r.stdout and "Eldoria" in r.stdout

    r = run(server, "lorebook", "show", "act_ilse")
    assert r.exit_code == 0, r.output
    assert "/kraken" in r.stdout and "not_any: enemy" in r.stdout and "at_depth" in r.stdout
    r = run(server, "lorebook", "show", "act_ilse", "--json")
    book = json.loads(r.stdout)
    kraken = next(e for e in book["entries"] if e["comment"] == "Kraken")
    assert kraken["keys"] == ["/kraken\\w*/i"] and kraken["secondary_keys"] == ["lake", "river"]
    assert kraken["insertion_order"] == 200 and kraken["position"] == "after_char"

    out = tmp_path / "back.worldinfo.json"
    r = run(server, "export-lorebook", "act_ilse", "-o", str(out))
    assert r.exit_code == 0, r.output
    exported = json.loads(out.read_text())
    original = json.loads(FIXTURE.read_text())
    assert set(exported["entries"]) == set(original["entries"])
    for uid, e in original["entries"].items():
        got = exported["entries"][uid]
        for key in ("uid", "key", "keysecondary", "comment", "content", "constant", "selective",
                    "selectiveLogic", "order", "position", "disable", "probability",
                    "useProbability", "depth", "caseSensitive", "matchWholeWords",
                    "preventRecursion", "displayIndex"):
            assert got[key] == e[key], (uid, key)
    # an existing file is not overwritten without --force
    r = run(server, "export-lorebook", "act_ilse", "-o", str(out))
    assert r.exit_code != 0 and "--force" in r.output
    # and the export imports again (a lorebook id works as ACTIVITY too)
    r = run(server, "import-lorebook", str(out), "--json")
    assert r.exit_code == 0, r.output
    lid2 = json.loads(r.stdout)["id"]
    r = run(server, "lorebook", "show", lid2, "--json")
    assert len(json.loads(r.stdout)["entries"]) == 5


def test_import_character_book_and_card_forms(server: LiveServer, tmp_path: Path) -> None:
    book = {"name": "cb", "entries": [{"keys": ["x"], "content": "X", "insertion_order": 1}]}
    f = tmp_path / "book.json"
    f.write_text(json.dumps(book))
    r = run(server, "import-lorebook", str(f), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["format"] == "character_book"
    card = {"spec": "chara_card_v2", "data": {"name": "N", "character_book": book}}
    f.write_text(json.dumps(card))
    r = run(server, "import-lorebook", str(f), "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["format"] == "card"


def test_import_lorebook_bad_input_names_the_field(server: LiveServer, tmp_path: Path) -> None:
    doc = json.loads(FIXTURE.read_text())
    doc["entries"]["1"]["selectiveLogic"] = 7
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(doc))
    r = run(server, "import-lorebook", str(f))
    assert r.exit_code == 2, r.output
    assert "entries.1.selectiveLogic" in r.output and "Traceback" not in r.output
    r = run(server, "import-lorebook", str(FIXTURE), "--activity", "act_nope")
    assert r.exit_code != 0 and "act_nope" in r.output
    r = run(server, "lorebook", "show", "act_nope")
    assert r.exit_code != 0 and "no such activity or lorebook" in r.output


def test_lorebook_routes_need_admin_scope(server: LiveServer) -> None:
    key = server.make_key(user="plain", scopes=["instances"])
    with server.http(key) as h:
        assert h.get("/api/v1/local/admin/lorebooks").status_code == 403
        r = h.post("/api/v1/local/admin/lorebooks", json={"lorebook": {"entries": {}}})
        assert r.status_code == 403


def test_worldinfo_conversion_keeps_sillytavern_settings() -> None:
    book, kind = cards.parse_lorebook_file(json.loads(FIXTURE.read_text()))
    assert kind == "worldinfo"
    queen = book["entries"][2]
    assert queen["case_sensitive"] is True
    assert queen["extensions"]["match_whole_words"] is True
    assert queen["extensions"]["selectiveLogic"] == 2 and queen["extensions"]["position"] == 4
    assert book["entries"][4]["enabled"] is False
