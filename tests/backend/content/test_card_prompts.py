"""Cards become SillyTavern-faithful prompts, checked against the recorded prompt of each
instance turn (GET /api/v1/local/prompts/{turn_id}): macros, the greeting, post-history order,
lorebook activation (and what fired it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from phantom_cli.backend.routes.instances import TURN_ID_HEADER
from phantom_cli.backend.testing import LiveServer

ADMIN = "/api/v1/local/admin"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    s = LiveServer(tmp_path_factory.mktemp("card_prompts"), engine="scripted", seed=0).start()
    try:
        yield s
    finally:
        s.stop()


def seraphina(**data: Any) -> dict[str, Any]:
    return {
        "spec": "chara_card_v3",
        "spec_version": "3.0",
        "data": {
            "name": "Seraphina",
            "description": "{{char}} guards the glade where {{user}} woke.{{// author note}}",
            "personality": "gentle toward {{user}}",
            "scenario": "{{user}} ({{persona}}) wakes in {{char}}'s glade.",
            "first_mes": "*{{char}} kneels beside {{user}}.* Rest now.",
            "mes_example": "<START>\n{{user}}: Who are you?\n{{char}}: A friend.",
            "system_prompt": "{{original}}{{newline}}Write as {{char}}, never as {{user}}.",
            "post_history_instructions": "Keep {{char}}'s calm voice.",
            "alternate_greetings": ["Welcome back, {{user}}.", "{{char}} hums a tune."],
            "character_book": {
                "name": "glade",
                "entries": [
                    {"keys": ["/kraken\\w*/i"], "content": "A kraken sleeps in {{char}}'s lake.",
                     "insertion_order": 5, "secondary_keys": ["lake"], "selective": True,
                     "position": "after_char", "name": "Kraken"},
                ],
            },
            **data,
        },
    }


@pytest.fixture(scope="module")
def player(server: LiveServer) -> httpx.Client:
    """A user whose default persona is 'Ada' ({{user}}), with the card imported and published."""
    with server.http() as admin:
        r = admin.post(f"{ADMIN}/cards", json={"card": seraphina(), "published": True, "id": "act_sera"})
        assert r.status_code == 201, r.text
    key = server.make_key(user="ada-player")
    c = httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    r = c.post("/api/v1/personas", json={"name": "Ada", "description": "A lost cartographer.",
                                          "is_default": True})
    assert r.status_code == 201, r.text
    yield c
    c.close()


def new_instance(c: httpx.Client, activity_id: str = "act_sera", **body: Any) -> str:
    r = c.post("/api/v1/activity-instances", json={"activity_id": activity_id, **body})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def turn(c: httpx.Client, iid: str, content: str) -> tuple[str, dict[str, Any]]:
    r = c.post(f"/api/v1/activity-instances/{iid}/chat", json={"content": content})
    assert r.status_code == 200, r.text
    turn_id = r.headers[TURN_ID_HEADER]
    p = c.get(f"/api/v1/local/prompts/{turn_id}")
    assert p.status_code == 200, p.text
    rec = p.json()
    assert rec["kind"] == "instance" and rec["reply"] == r.text
    return r.text, rec


def messages_of(c: httpx.Client, iid: str) -> list[dict[str, Any]]:
    r = c.get(f"/api/v1/activity-instances/{iid}/messages", params={"limit": 100})
    return list(reversed(r.json()["data"]))  # oldest first


def test_greeting_is_the_first_assistant_message_and_reaches_the_model(player: httpx.Client) -> None:
    iid = new_instance(player)
    msgs = messages_of(player, iid)
    assert [(m["role"], m["content"]) for m in msgs] == [
        ("assistant", "*Seraphina kneels beside Ada.* Rest now.")]
    _, rec = turn(player, iid, "Where am I?")
    roles = [(m["role"], m["content"]) for m in rec["messages"]]
    assert roles[1] == ("assistant", "*Seraphina kneels beside Ada.* Rest now.")
    assert roles[2] == ("user", "Where am I?")


def test_alternate_greeting_is_chosen(player: httpx.Client) -> None:
    iid = new_instance(player, greeting=1)
    assert [m["content"] for m in messages_of(player, iid)] == ["Welcome back, Ada."]
    r = player.post("/api/v1/activity-instances", json={"activity_id": "act_sera", "greeting": 3})
    assert r.status_code == 400 and "greeting" in r.json()["error"]["message"]


def test_macros_expanded_everywhere_in_the_recorded_prompt(player: httpx.Client) -> None:
    iid = new_instance(player)
    _, rec = turn(player, iid, "Is there a kraken in the lake?")
    text = "\n".join(m["content"] for m in rec["messages"])
    assert "{{" not in text and "author note" not in text
    system = rec["messages"][0]["content"]
    # {{original}} is the default main prompt; {{newline}} a line break
    assert system.startswith("You are Seraphina. Stay in character")
    assert "\nWrite as Seraphina, never as Ada." in system
    assert "Seraphina guards the glade where Ada woke." in system
    assert "gentle toward Ada" in system
    assert "Ada (A lost cartographer.) wakes in Seraphina's glade." in system
    assert "Ada: Who are you?\nSeraphina: A friend." in system
    assert "A kraken sleeps in Seraphina's lake." in system  # lore entry content
    assert rec["messages"][-1] == {"role": "system", "content": "Keep Seraphina's calm voice."}
    assert rec["context"]["user_name"] == "Ada"


def test_post_history_instructions_come_last_after_the_history(player: httpx.Client) -> None:
    iid = new_instance(player)
    turn(player, iid, "Hello.")
    _, rec = turn(player, iid, "Tell me more.")
    roles = [m["role"] for m in rec["messages"]]
    assert roles == ["system", "assistant", "user", "assistant", "user", "system"]
    assert rec["messages"][-2] == {"role": "user", "content": "Tell me more."}
    assert "Keep Seraphina's calm voice." not in rec["messages"][0]["content"]


def test_lore_from_card_records_what_fired(player: httpx.Client) -> None:
    iid = new_instance(player)
    _, rec = turn(player, iid, "No monsters here, right?")
    assert rec["context"]["lore"] == []  # neither key
    iid = new_instance(player)
    _, rec = turn(player, iid, "What lives in the lake? KRAKENS?")
    (lore,) = rec["context"]["lore"]
    assert lore["matched_key"] == "/kraken\\w*/i" and lore["matched_secondary"] == ["lake"]
    assert lore["name"] == "Kraken" and lore["position"] == "after_char"
    system = rec["messages"][0]["content"]
    assert system.index("Scenario:") < system.index("A kraken sleeps")  # after the character


def test_worldinfo_lorebook_in_instance_prompt(server: LiveServer, player: httpx.Client) -> None:
    doc = json.loads((FIXTURES / "Eldoria.worldinfo.json").read_text())
    with server.http() as admin:
        r = admin.post(f"{ADMIN}/activities", json={"id": "act_eldoria", "title": "Ilse",
                                                    "description": "{{char}} is a ferrywoman.",
                                                    "first_message": "Fare, {{user}}?",
                                                    "published": True})
        assert r.status_code == 201, r.text
        r = admin.post(f"{ADMIN}/lorebooks", json={"lorebook": doc, "activity_id": "act_eldoria"})
        assert r.status_code == 201, r.text
        assert r.json()["format"] == "worldinfo" and r.json()["entries"] == 5
    iid = new_instance(player, "act_eldoria")
    _, rec = turn(player, iid, "Does Maren rule Eldoria? I hear of a kraken in the river.")
    fired = {x["name"]: x for x in rec["context"]["lore"]}
    assert set(fired) == {"Kingdom", "Kraken", "Queen, unless spoken of as an enemy",
                          "Always: the calendar"}
    assert fired["Always: the calendar"]["constant"] is True
    assert fired["Kraken"]["matched_secondary"] == ["river"]
    assert fired["Queen, unless spoken of as an enemy"]["position"] == "at_depth"
    msgs = rec["messages"]
    system = msgs[0]["content"]
    # before_char: the constant (order 10) then Kingdom (100), before the description
    assert system.index("festival of lanterns") < system.index("Eldoria is a river kingdom") \
        < system.index("Ilse is a ferrywoman.")
    assert system.index("Ilse is a ferrywoman.") < system.index("Ilse fears it.")  # after_char + macro
    # at depth 1: one message before the end of the history
    assert msgs[-2] == {"role": "system", "content": "Queen Maren is kind to travellers."}
    assert msgs[-1]["role"] == "user"
    # NOT ANY: speaking of Maren as an enemy keeps the entry out; whole words + case sensitive
    _, rec = turn(player, iid, "Maren is my enemy.")
    assert "Queen, unless spoken of as an enemy" not in {x["name"] for x in rec["context"]["lore"]}
    iid2 = new_instance(player, "act_eldoria")
    _, rec = turn(player, iid2, "maren? Marenwood?")
    assert "Queen, unless spoken of as an enemy" not in {x["name"] for x in rec["context"]["lore"]}


def test_instance_prompt_is_private_to_its_user(server: LiveServer, player: httpx.Client) -> None:
    iid = new_instance(player)
    r = player.post(f"/api/v1/activity-instances/{iid}/chat", json={"content": "hi"})
    turn_id = r.headers[TURN_ID_HEADER]
    other = server.make_key(user="someone-else")
    with server.http(other) as c:
        assert c.get(f"/api/v1/local/prompts/{turn_id}").status_code == 404


def test_player_name_given_at_creation_is_user(player: httpx.Client) -> None:
    iid = new_instance(player, player_name="Brann")
    assert [m["content"] for m in messages_of(player, iid)] == ["*Seraphina kneels beside Brann.* Rest now."]
    _, rec = turn(player, iid, "Hello")
    assert rec["context"]["user_name"] == "Brann"
    assert "Seraphina guards the glade where Brann woke." in rec["messages"][0]["content"]


def test_without_persona_user_is_user(server: LiveServer, player: httpx.Client) -> None:
    key = server.make_key(user="no-persona")
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}) as c:
        iid = new_instance(c)
        assert [m["content"] for m in messages_of(c, iid)] == ["*Seraphina kneels beside User.* Rest now."]


def test_a_greeting_swapped_in_raw_is_expanded_in_the_prompt(player: httpx.Client) -> None:
    iid = new_instance(player)
    first = messages_of(player, iid)[0]
    r = player.patch(f"/api/v1/activity-instances/{iid}/messages/{first['id']}",
                     json={"content": "{{char}} hums a tune for {{user}}."})
    assert r.status_code == 200
    _, rec = turn(player, iid, "Nice.")
    assert rec["messages"][1] == {"role": "assistant", "content": "Seraphina hums a tune for Ada."}
