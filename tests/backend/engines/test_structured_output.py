"""NPC decisions and complete_json on OpenAI-compatible servers that differ in structured output.

Each behaviour (json_schema accepted; refused with 400, 422 or 500 as llama-cpp-python does;
``response_format`` ignored; garbage) plays seed 001's merchant to an outcome through a real
local backend whose engine is ``openai`` pointed at a fake server on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from phantom_cli.backend.engines import EngineUnavailable
from phantom_cli.backend.engines.openai import (
    OpenAIEngine,
    clean_provider_text,
    endpoint,
    forget_negotiation,
    negotiated_form,
)
from phantom_cli.backend.memory.extraction import FACT_SCHEMA
from phantom_cli.backend.prompts import extraction_prompt

from .fake_structured import LLAMA_CPP_500, FakeStructured

P = "/api/v1/chat/abc123"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeStructured]:
    f = FakeStructured().start()
    yield f
    f.stop()


@pytest.fixture(scope="module")
def server(fake: FakeStructured, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from phantom_cli.backend.testing import LiveServer

    s = LiveServer(Path(tmp_path_factory.mktemp("structured")), engine="openai",
                   engine_base_url=fake.base_url, engine_model="fake-model").start()
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def _reset(fake: FakeStructured) -> None:
    forget_negotiation()
    fake.mode, fake.decision = "json_schema", "accept"
    fake.requests.clear()


def _say(http: Any, sid: str, text: str) -> dict[str, Any]:
    r = http.post(f"{P}/message", json={"message": text, "user_session_id": sid})
    assert r.status_code == 200, r.text
    return r.json()


def _play(server: Any, sid: str) -> list[dict[str, Any]]:
    """Seed 001 to an outcome: two turns the rules decide, one only the model can."""
    with server.http() as http:
        r = http.post(f"{P}/init-session", json={"user_session_id": sid, "player_name": "Alex",
                                                 "player_gender": "female"})
        assert r.status_code == 200, r.text
        turns = [_say(http, sid, "I heard you have something rare for sale."),
                 _say(http, sid, "I'll trade you my silver ring"),
                 _say(http, sid, "Hmm. Let me think about it, old woman.")]
    return turns


def _stored(server: Any, turn_id: str) -> dict[str, Any]:
    with server.http() as http:
        r = http.get(f"/api/v1/local/prompts/{turn_id}")
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize(
    ("mode", "form", "forms_tried"),
    [
        ("json_schema", "json_schema", ["json_schema"]),
        ("refuse-400", "json_object", ["json_schema", "json_object"]),
        ("refuse-422", "json_object", ["json_schema", "json_object"]),
        ("refuse-500", "json_object", ["json_schema", "json_object"]),
        ("ignored", "json_schema", ["json_schema"]),
    ],
)
def test_conversation_to_an_outcome_records_the_form(
    server: Any, fake: FakeStructured, mode: str, form: str, forms_tried: list[str]
) -> None:
    fake.mode = mode
    first, second, third = _play(server, f"so-{mode}")
    # the default decide mode (rules-then-model): the authored rules decide what they match
    assert (first["transition"], first["decision_source"], first["current_state"]) == ("interest", "rules", "negotiation")
    assert (second["transition"], second["decision_source"], second["current_state"]) == ("coin", "rules", "haggling")
    assert first["structured_output"] is None and first["decide"] == "rules-then-model"
    # nothing matches the third: the model decides, through the form this server takes
    assert third["transition"] == "accept" and third["decision_source"] == "model"
    assert third["structured_output"] == form
    assert third["outcome"] == "deal_struck" and third["machine_completed"] is True
    assert fake.forms() == forms_tried  # only the third turn asked the model
    assert negotiated_form(endpoint(fake.base_url, "chat/completions")) == form
    blob = str(_stored(server, third["turn_id"]))
    assert "'decision_source': 'model'" in blob and f"'structured_output': '{form}'" in blob


def test_garbage_falls_back_to_the_rules_and_says_so(server: Any, fake: FakeStructured) -> None:
    fake.mode = "garbage"
    first, second, third = _play(server, "so-garbage")
    assert first["decision_source"] == second["decision_source"] == "rules"
    # every form tried, none gave a valid choice: the authored rules (no rule matches → redirect)
    assert fake.forms() == ["json_schema", "json_object", "prompt"]
    assert third["decision_source"] == "rules-fallback" and third["structured_output"] is None
    assert third["decision"] == "redirect" and third["current_state"] == "haggling"
    blob = str(_stored(server, third["turn_id"]))
    assert "'decision_source': 'rules-fallback'" in blob and "no structured-output form" in blob
    # the prompt form spells out the schema, since nothing constrains the output
    prompt_req = [b for b in fake.requests if not b.get("stream")][-1]
    assert "response_format" not in prompt_req and "JSON schema" in prompt_req["messages"][0]["content"]
    # a rule still ends the conversation
    with server.http() as http:
        out = _say(http, "so-garbage", "Deal, I'll pay the gold.")
    assert out["outcome"] == "deal_struck" and out["decision_source"] == "rules"


def test_what_worked_is_remembered_per_url(server: Any, fake: FakeStructured) -> None:
    fake.mode = "refuse-500"
    _play(server, "so-remember-1")
    assert fake.forms() == ["json_schema", "json_object"]
    fake.requests.clear()
    _play(server, "so-remember-2")
    assert fake.forms() == ["json_object"]  # json_schema is not tried again


def test_replies_are_capped_and_trimmed_to_the_last_sentence(server: Any, fake: FakeStructured) -> None:
    fake.mode = "json_schema"
    turns = _play(server, "so-cap")
    # the fake's reply ends mid-sentence (finish_reason "length"): the unfinished part is dropped
    assert all(t["message"] == "Ha. A sharp one, you are." for t in turns)
    streamed = [b for b in fake.requests if b.get("stream")]
    assert streamed and all(b["max_tokens"] == 60 for b in streamed)  # the default cap


async def test_complete_json_negotiates_too(fake: FakeStructured) -> None:
    fake.mode = "refuse-500"
    engine = OpenAIEngine(fake.base_url, "fake-model")
    prompt = extraction_prompt(["My cat is called Miso."], None)
    data = await engine.complete_json(prompt, FACT_SCHEMA, "user_facts")
    assert data == {"facts": fake.facts}
    assert fake.forms() == ["json_schema", "json_object"]
    fake.mode = "garbage"
    assert await engine.complete_json(prompt, FACT_SCHEMA, "user_facts") is None
    assert fake.forms()[2:] == ["json_object", "prompt"]  # starts from what worked


async def test_memory_extraction_falls_back_to_rules_on_garbage(fake: FakeStructured) -> None:
    from phantom_cli.backend.memory.extraction import extract

    fake.mode = "garbage"
    facts = await extract(OpenAIEngine(fake.base_url, "m"), ["My cat is called Miso."], None)
    assert any("Miso" in f.text for f in facts)  # the rule-based extractor's
    assert fake.forms() == ["json_schema", "json_object", "prompt"]


def test_provider_errors_name_the_engine_and_hide_paths() -> None:
    text = clean_provider_text(LLAMA_CPP_500)
    assert "Input should be 'text' or 'json_object'" in text
    assert "/opt/venv" not in text and "Traceback" not in text and "errors.py" not in text


async def test_a_failing_provider_is_503_naming_the_engine(fake: FakeStructured) -> None:
    from phantom_cli.backend.prompts import npc_prompt

    engine = OpenAIEngine("http://127.0.0.1:9/v1", "m")  # nothing listens on the discard port
    p = npc_prompt(npc_name="M", state="s", history=[{"role": "player", "content": "hi"}])
    with pytest.raises(EngineUnavailable) as info:
        await engine.decide_info(p, ["pass", "redirect"])
    assert info.value.message.startswith("openai engine (http://127.0.0.1:9/v1): NPC decision failed")


def test_engine_error_shown_to_the_user_has_no_paths(server: Any, fake: FakeStructured) -> None:
    fake.mode = "broken"
    with server.http() as http:
        r = http.post(f"{P}/init-session", json={"user_session_id": "so-broken", "player_name": "A",
                                                 "player_gender": "female"})
    assert r.status_code == 503
    msg = r.json()["error"]["message"]
    assert "openai engine" in msg and "reply failed" in msg and "HTTP 500" in msg
    assert "Input should be 'text' or 'json_object'" in msg
    assert "/opt/venv" not in msg and "Traceback" not in msg


async def test_a_server_that_fails_everything_is_down_not_refusing(fake: FakeStructured) -> None:
    from phantom_cli.backend.prompts import npc_prompt

    engine = OpenAIEngine(fake.base_url, "m")
    p = npc_prompt(npc_name="M", state="s", history=[{"role": "player", "content": "hi"}])
    fake.mode = "broken"
    with pytest.raises(EngineUnavailable, match="HTTP 500"):
        await engine.decide_info(p, ["accept", "redirect"])
    assert fake.forms() == ["json_schema", "json_object", "prompt"]
    fake.mode = "json_schema"  # it recovered: json_schema was not written off
    fake.requests.clear()
    d = await engine.decide_info(p, ["accept", "redirect"])
    assert (d.choice, d.source, d.structured_output) == ("accept", "model", "json_schema")
    assert fake.forms() == ["json_schema"]
