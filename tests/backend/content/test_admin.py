"""Local admin: the API (activities, cards, skins, scopes) and the `phantom admin` commands."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from PIL import Image, PngImagePlugin
from typer.testing import CliRunner

from phantom_cli.backend import cards
from phantom_cli.backend.testing import LiveServer

ADMIN = "/api/v1/local/admin"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    s = LiveServer(tmp_path_factory.mktemp("admin_srv"), engine="scripted", seed=0).start()
    try:
        yield s
    finally:
        s.stop()


def card_v3(name: str = "Mira") -> dict[str, Any]:
    return {
        "spec": "chara_card_v3",
        "spec_version": "3.0",
        "data": {
            "name": name,
            "description": "A cartographer who maps places that do not exist yet. She is kind.",
            "personality": "curious",
            "scenario": "{{user}} finds Mira's map case.",
            "first_mes": "Oh! You found it.",
            "mes_example": "<START>\n{{char}}: Careful.",
            "creator_notes": "notes",
            "system_prompt": "You are {{char}}.",
            "post_history_instructions": "Stay in character.",
            "alternate_greetings": ["You again?"],
            "tags": ["maps"],
            "creator": "tester",
            "character_version": "2",
            "extensions": {"world": "Emberfall"},
            "nickname": "Mi",
            "group_only_greetings": [],
            "character_book": {
                "name": "lore",
                "entries": [
                    {
                        "keys": ["Emberfall"],
                        "content": "A caldera city.",
                        "enabled": True,
                        "insertion_order": 1,
                        "extensions": {},
                    }
                ],
            },
        },
    }


def png_card(card: dict[str, Any], key: str = "ccv3") -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text(key, base64.b64encode(json.dumps(card).encode()).decode())
    buf = io.BytesIO()
    Image.new("RGB", (20, 30), (200, 10, 10)).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def test_admin_needs_the_admin_scope(server: LiveServer) -> None:
    key = server.make_key(user="dana", scopes=["activities", "skins"])
    with server.http(key) as h:
        for method, path in (
            ("GET", f"{ADMIN}/activities"),
            ("POST", f"{ADMIN}/cards"),
            ("POST", f"{ADMIN}/activities/act_luna/publish"),
        ):
            r = h.request(method, path, json={})
            assert r.status_code == 403, (method, path, r.text)
            assert r.json()["error"]["code"] == "FORBIDDEN"
    with server.http("nope") as h:
        assert h.get(f"{ADMIN}/activities").status_code == 401


def test_card_import_publish_cycle_and_instance_lorebook(server: LiveServer) -> None:
    with server.http() as h:
        r = h.post(f"{ADMIN}/cards", json={"card": card_v3("Mira"), "id": "act_mira"})
        assert r.status_code == 201, r.text
        act = r.json()
        assert act["published"] is False and act["title"] == "Mira"
        assert act["first_message"] == "Oh! You found it."
        assert act["short_description"].startswith("A cartographer")
        assert act["lorebook_ids"]
        assert h.get("/api/v1/activities/act_mira").status_code == 404  # unpublished
        assert (
            h.post(f"{ADMIN}/cards", json={"card": card_v3(), "id": "act_mira"}).status_code == 409
        )
        assert h.post(f"{ADMIN}/activities/act_mira/publish").json()["published"] is True
        pub = h.get("/api/v1/activities/act_mira")
        assert pub.status_code == 200 and pub.json()["alternate_greetings"] == ["You again?"]
        inst = h.post("/api/v1/activity-instances", json={"activity_id": "act_mira"})
        assert inst.status_code == 201, inst.text
        assert inst.json()["snapshot_lorebook_ids"] == act["lorebook_ids"]
        assert h.post(f"{ADMIN}/activities/act_mira/unpublish").json()["published"] is False
        assert h.get("/api/v1/activities/act_mira").status_code == 404
        listed = h.get(f"{ADMIN}/activities", params={"published": "false", "limit": 100}).json()
        assert "act_mira" in [a["id"] for a in listed["data"]]
        assert h.post(f"{ADMIN}/activities/nope/publish").status_code == 404


def test_card_errors_name_the_field(server: LiveServer) -> None:
    with server.http() as h:
        bad = card_v3()
        bad["data"]["tags"] = "not-a-list"
        r = h.post(f"{ADMIN}/cards", json={"card": bad})
        assert r.status_code == 400
        err = r.json()["error"]
        assert "data.tags" in err["message"] and err["details"][0]["loc"][:3] == [
            "body",
            "card",
            "data",
        ]
        r = h.post(f"{ADMIN}/cards", json={"png_base64": "!!!"})
        assert r.status_code == 400 and "png_base64" in r.json()["error"]["message"]
        r = h.post(f"{ADMIN}/cards", json={})
        assert r.status_code == 400 and "exactly one" in r.json()["error"]["message"]
        noc = base64.b64encode(png_card({"x": 1}, key="Comment")).decode()
        r = h.post(f"{ADMIN}/cards", json={"png_base64": noc})
        assert r.status_code == 400 and "no 'ccv3' or 'chara'" in r.json()["error"]["message"]


def test_png_import_and_export_round_trip(server: LiveServer) -> None:
    src = png_card(card_v3("Pip"))
    with server.http() as h:
        r = h.post(
            f"{ADMIN}/cards",
            json={
                "png_base64": base64.b64encode(src).decode(),
                "published": True,
                "category": "adventure",
                "is_companion": False,
            },
        )
        assert r.status_code == 201, r.text
        act = r.json()
        assert act["imported_from"] == "png:ccv3" and act["published"] is True
        assert act["category"] == "adventure" and act["is_companion"] is False
        aid = act["id"]
        png = h.get(f"{ADMIN}/activities/{aid}/card", params={"png": "true"})
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(png.content)).size == (20, 30)  # the card's own image kept
        texts = cards.read_png_text(png.content)
        assert {"chara", "ccv3"} <= set(texts)
        again = cards.parse_card(png.content)
        assert again.activity["title"] == "Pip"
        assert again.extra["nickname"] == "Mi" and again.extra["extensions"] == {
            "world": "Emberfall"
        }
        assert again.lorebook["entries"][0]["content"] == "A caldera city."
        v2 = h.get(f"{ADMIN}/activities/{aid}/card", params={"format": "v2"}).json()
        assert v2["spec"] == "chara_card_v2" and v2["data"]["first_mes"] == "Oh! You found it."
        v3 = h.get(f"{ADMIN}/activities/{aid}/card").json()
        assert v3["spec"] == "chara_card_v3" and v3["data"]["nickname"] == "Mi"
        assert v3["data"]["character_book"]["entries"][0]["keys"] == ["Emberfall"]
        assert h.get(f"{ADMIN}/activities/{aid}/card", params={"format": "v9"}).status_code == 400
        # a seeded activity exports too (it never was a card)
        luna = h.get(f"{ADMIN}/activities/act_luna/card").json()
        assert luna["data"]["name"] == "Luna" and luna["data"]["character_book"]["entries"]


def test_create_update_delete_activity(server: LiveServer) -> None:
    with server.http() as h:
        r = h.post(
            f"{ADMIN}/activities",
            json={"title": "Quiz night", "category": "game", "published": True, "tags": ["trivia"]},
        )
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
        assert h.get(f"/api/v1/activities/{aid}").json()["tags"] == ["trivia"]
        r = h.patch(f"{ADMIN}/activities/{aid}", json={"featured": True, "title": "Quiz night II"})
        assert (
            r.status_code == 200 and r.json()["featured"] is True and r.json()["published"] is True
        )
        assert h.get(f"/api/v1/activities/{aid}").json()["title"] == "Quiz night II"
        r = h.patch(f"{ADMIN}/activities/{aid}", json={"title": ""})
        assert r.status_code == 400 and r.json()["error"]["details"][0]["loc"] == ["body", "title"]
        r = h.patch(f"{ADMIN}/activities/{aid}", json={"not_a_field": 1})
        assert r.status_code == 400 and "not_a_field" in r.json()["error"]["message"]
        r = h.post(f"{ADMIN}/activities", json={"description": "no title"})
        assert r.status_code == 400 and "title" in r.json()["error"]["message"]
        assert h.delete(f"{ADMIN}/activities/{aid}").status_code == 204
        assert h.get(f"{ADMIN}/activities/{aid}").status_code == 404
        assert h.delete(f"{ADMIN}/activities/{aid}").status_code == 404


def test_skins_import_and_validation(server: LiveServer) -> None:
    with server.http() as h:
        r = h.post(
            f"{ADMIN}/skins",
            json={
                "skins": [
                    {
                        "id": "skin_ada",
                        "name": "Ada",
                        "gender": "female",
                        "style": "anime",
                        "palette": ["#102030"],
                    }
                ]
            },
        )
        assert r.status_code == 201, r.text
        assert h.get("/api/v1/skins/skin_ada").json()["name"] == "Ada"
        r = h.post(f"{ADMIN}/skins", json={"skins": [{"name": "X", "style": "watercolour"}]})
        assert r.status_code == 400 and "skins[0].style" in r.json()["error"]["message"]
        r = h.post(f"{ADMIN}/skins", json={"skins": [{"name": ""}]})
        assert r.status_code == 400 and "skins[0].name" in r.json()["error"]["message"]
        job = h.post("/api/v1/generate/image", json={"skin_id": "skin_ada", "category": "portrait"})
        assert job.status_code == 202


# --------------------------------------------------------------------------- CLI


def run(server: LiveServer, *args: str) -> Result:
    from phantom_cli.cli.main import app

    env = {
        "PHANTOM_BASE_URL": server.base_url,
        "PHANTOM_API_KEY": server.api_key,
        "PHANTOM_FORCE_TTY": "0",
        "PHANTOM_PROFILE": None,
    }
    return CliRunner().invoke(app, ["admin", *args], env=env, catch_exceptions=False)


def test_cli_import_publish_export(server: LiveServer, tmp_path: Path) -> None:
    f = tmp_path / "rook.json"
    f.write_text(json.dumps(card_v3("Rook")))
    r = run(server, "import-card", str(f), "--id", "act_rook", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["published"] is False
    r = run(server, "activities", "--unpublished")
    assert r.exit_code == 0 and "act_rook" in r.stdout and "act_clockwork_orchard_draft" in r.stdout
    assert run(server, "publish", "act_rook").exit_code == 0
    r = run(server, "activities", "--published", "--all", "--json")
    ids = [json.loads(line)["id"] for line in r.stdout.splitlines()]
    assert "act_rook" in ids and "act_luna" in ids
    out = tmp_path / "rook.png"
    r = run(server, "export-card", "act_rook", "--png", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert cards.parse_card(out.read_bytes()).activity["title"] == "Rook"
    r = run(server, "export-card", "act_rook", "--png", "-o", str(out))
    assert r.exit_code == 2 and "already exists" in r.output
    v2 = tmp_path / "rook-v2.json"
    assert run(server, "export-card", "act_rook", "--format", "v2", "-o", str(v2)).exit_code == 0
    assert json.loads(v2.read_text())["spec"] == "chara_card_v2"
    # the exported PNG imports again as a new activity
    r = run(server, "import-card", str(out), "--publish", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["imported_from"] == "png:ccv3"
    assert run(server, "unpublish", "act_rook").exit_code == 0
    assert run(server, "publish", "act_nope").exit_code == 5


def test_cli_errors_are_clear(server: LiveServer, tmp_path: Path) -> None:
    r = run(server, "import-card", str(tmp_path / "missing.json"))
    assert r.exit_code == 2 and "no such file" in r.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"spec": "chara_card_v2", "data": {"name": 3}}))
    r = run(server, "import-card", str(bad))
    assert r.exit_code == 2 and "data.name: must be a string" in r.output
    r = run(server, "export-card", "act_luna", "--format", "v4", "-o", str(tmp_path / "x"))
    assert r.exit_code == 2 and "v2 or v3" in r.output
    assert "Traceback" not in r.output


def test_cli_import_skins_and_npc(server: LiveServer, tmp_path: Path) -> None:
    skins = tmp_path / "skins.toml"
    skins.write_text(
        '[[skins]]\nid = "skin_bo"\nname = "Bo"\ngender = "male"\nstyle = "realistic"\n'
    )
    r = run(server, "import-skins", str(skins))
    assert r.exit_code == 0, r.output
    assert "skin_bo" in r.stdout
    badskins = tmp_path / "bad.yaml"
    badskins.write_text("skins:\n  - name: Q\n    gender: robot\n")
    r = run(server, "import-skins", str(badskins))
    assert r.exit_code != 0 and "skins[0].gender" in r.output
    npc = {
        "format": "phantom-npc/1",
        "persona": {"id": "npc_gatekeeper", "name": "The Gatekeeper", "primary_machine": "gate"},
        "machines": [
            {
                "id": "gate",
                "initial_state": "ask",
                "scoring_mode": "pass_fail",
                "opening": ["Halt, {player_name}. What is the password?"],
                "states": {
                    "ask": {
                        "goal": "Get the password.",
                        "redirect_lines": ["The password, {player_name}. Now."],
                        "transitions": [
                            {
                                "decision": "pass",
                                "to": "open",
                                "when": {"keywords": ["swordfish"]},
                                "lines": ["Correct. Pass."],
                            },
                            {
                                "decision": "fail",
                                "to": "closed",
                                "when": {"keywords": ["fish"]},
                                "lines": ["Wrong fish."],
                            },
                        ],
                    },
                    "open": {"terminal": True, "outcome": "passed"},
                    "closed": {"terminal": True, "outcome": "refused"},
                },
            }
        ],
    }
    f = tmp_path / "gate.json"
    f.write_text(json.dumps(npc))
    r = run(server, "import-npc", str(f), "--json")
    assert r.exit_code == 0, r.output
    with server.http() as h:
        assert h.get("/api/v1/local/npcs/npc_gatekeeper").status_code == 200
    f.write_text(json.dumps({"persona": {"name": "no id"}}))
    r = run(server, "import-npc", str(f))
    assert r.exit_code == 2 and "persona.id" in r.output


def test_cli_create_update_delete_activity(server: LiveServer, tmp_path: Path) -> None:
    f = tmp_path / "quiz.toml"
    f.write_text('id = "act_quiz"\ntitle = "Quiz night"\ncategory = "game"\ntags = ["trivia"]\n')
    r = run(server, "create-activity", str(f), "--publish", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["published"] is True
    ch = tmp_path / "changes.yaml"
    ch.write_text("featured: true\nfirst_message: Ready?\n")
    r = run(server, "update-activity", "act_quiz", str(ch), "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["first_message"] == "Ready?"
    with server.http() as h:
        assert h.get("/api/v1/activities/act_quiz").json()["featured"] is True
    ch.write_text("nope: 1\n")
    r = run(server, "update-activity", "act_quiz", str(ch))
    assert r.exit_code == 2 and "nope" in r.output
    r = run(server, "delete", "act_quiz")
    assert r.exit_code == 2 and "--yes" in r.output
    assert run(server, "delete", "act_quiz", "--yes").exit_code == 0
    assert run(server, "delete", "act_quiz", "--yes").exit_code == 5


def test_export_card_to_a_png_name_writes_a_png(server: LiveServer, tmp_path: Path) -> None:
    """`export-card act_luna -o luna.png` (no --png) wrote JSON into the .png file."""
    out = tmp_path / "luna.PNG"
    r = run(server, "export-card", "act_luna", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert cards.parse_card(out.read_bytes()).activity["title"] == "Luna"
    assert "PNG card" in r.output


def test_export_card_refuses_png_into_a_json_name(server: LiveServer, tmp_path: Path) -> None:
    out = tmp_path / "luna.json"
    r = run(server, "export-card", "act_luna", "--png", "-o", str(out))
    assert r.exit_code == 2 and ".png" in r.output
    assert not out.exists()
