"""The per-machine decision mode (`decide: rules | model | rules-then-model`) with an LLM engine.

A stand-in engine that always misjudges (it answers ``threaten``, as a tiny model did) shows who
decided: under the default the authored rules decide seed 001's obvious turns.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest

from phantom_cli.backend.engines import Decision


class _Misjudging:
    name = "fake-llm"
    model = "tiny"

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def decide_info(self, prompt: Any, choices: Any) -> Decision:
        self.asked.append(prompt.last_user)
        pick = "threaten" if "threaten" in choices else "insult" if "insult" in choices else "redirect"
        return Decision(pick, "model", "json_schema")

    async def decide(self, prompt: Any, choices: Any) -> str:
        return (await self.decide_info(prompt, choices)).choice

    async def stream(self, prompt: Any, **kw: Any) -> Any:
        self.max_tokens = kw.get("max_tokens")
        yield "Hm."


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch) -> _Misjudging:
    import phantom_cli.backend.engines as engines

    fake = _Misjudging()
    monkeypatch.setattr(engines, "get_engine", lambda settings=None: fake)
    return fake


def _doc(pid: str, **machine_fields: Any) -> dict[str, Any]:
    raw = resources.files("phantom_cli.backend.npc").joinpath("data/abc123_hollow_market.json").read_text()
    doc = copy.deepcopy(json.loads(raw))
    doc["persona"]["id"] = pid
    doc["machines"][0].update(machine_fields)
    return doc


@pytest.fixture
def persona(http: Any) -> Iterator[Any]:
    made: list[str] = []

    def make(pid: str, **fields: Any) -> str:
        r = http.put(f"/api/v1/local/admin/npcs/{pid}", json=_doc(pid, **fields))
        assert r.status_code == 200, r.text
        made.append(pid)
        return pid

    yield make
    for pid in made:
        http.delete(f"/api/v1/local/admin/npcs/{pid}")


def _turns(http: Any, pid: str, sid: str, *messages: str) -> list[dict[str, Any]]:
    r = http.post(f"/api/v1/chat/{pid}/init-session",
                  json={"user_session_id": sid, "player_name": "Alex", "player_gender": "female"})
    assert r.status_code == 200, r.text
    out = []
    for text in messages:
        r = http.post(f"/api/v1/chat/{pid}/message", json={"message": text, "user_session_id": sid})
        assert r.status_code == 200, r.text
        out.append(r.json())
    return out


SEED_001 = ("I heard you have something rare for sale.", "I'll trade you my silver ring")


def test_default_rules_then_model_lets_the_rules_decide_seed_001(http: Any, sid: str, llm: _Misjudging) -> None:
    first, second = _turns(http, "abc123", sid, *SEED_001)
    assert (first["transition"], first["current_state"]) == ("interest", "negotiation")
    assert (second["transition"], second["current_state"]) == ("coin", "haggling")
    assert first["decide"] == second["decide"] == "rules-then-model"
    assert first["decision_source"] == second["decision_source"] == "rules"
    assert llm.asked == []  # a rule matched both: the model was not asked
    r = http.post("/api/v1/chat/abc123/message",
                  json={"message": "Hmm, the weather is odd today.", "user_session_id": sid})
    third = r.json()
    # no rule matches: the model decides
    assert third["decision_source"] == "model" and llm.asked == ["Hmm, the weather is odd today."]


def test_model_mode_asks_the_model_every_turn(http: Any, sid: str, llm: _Misjudging, persona: Any) -> None:
    pid = persona("abc123-model", decide="model")
    (first,) = _turns(http, pid, sid, SEED_001[0])
    assert first["decide"] == "model" and first["decision_source"] == "model"
    assert first["transition"] == "threaten" and first["outcome"] == "thrown_out"
    assert llm.asked == [SEED_001[0]]


def test_rules_mode_never_asks_the_model(http: Any, sid: str, llm: _Misjudging, persona: Any) -> None:
    pid = persona("abc123-rules", decide="rules")
    first, second = _turns(http, pid, sid, "Lovely weather.", SEED_001[0])
    assert first["decision_source"] == "rules" and first["decision"] == "redirect"
    assert second["transition"] == "interest"
    assert llm.asked == []


def test_reply_cap_comes_from_the_state_then_the_machine(http: Any, sid: str, llm: _Misjudging, persona: Any) -> None:
    pid = persona("abc123-cap", max_tokens=25)
    _turns(http, pid, sid, SEED_001[0])
    assert llm.max_tokens == 25
    doc = _doc("abc123-cap2", max_tokens=25)
    doc["machines"][0]["states"]["negotiation"]["max_tokens"] = 12
    r = http.put("/api/v1/local/admin/npcs/abc123-cap2", json=doc)
    assert r.status_code == 200, r.text
    try:
        _turns(http, "abc123-cap2", sid, SEED_001[0])  # goes to negotiation
        assert llm.max_tokens == 12
    finally:
        http.delete("/api/v1/local/admin/npcs/abc123-cap2")


def test_a_bad_decide_mode_is_refused_with_the_field(http: Any, persona: Any) -> None:
    r = http.put("/api/v1/local/admin/npcs/abc123-bad", json=_doc("abc123-bad", decide="vibes"))
    assert r.status_code == 400 and "decide" in r.json()["error"]["message"]
