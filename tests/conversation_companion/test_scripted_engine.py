"""The scripted engine and prompt assembly."""

from __future__ import annotations

from phantom_cli.backend.engines import Prompt, complete, get_engine
from phantom_cli.backend.engines.scripted import ScriptedEngine, second_person
from phantom_cli.backend.prompts import (
    companion_prompt,
    decision_prompt,
    instance_prompt,
    npc_prompt,
)

from .conftest import PERSONA


def _prompt(text: str, memories: list[str] | None = None, profile: dict | None = None) -> Prompt:
    return companion_prompt(PERSONA, [{"role": "user", "content": text}], memories=memories or [], profile=profile)


async def test_same_seed_same_reply_other_seed_varies() -> None:
    e = ScriptedEngine()
    p = _prompt("Morning! Remember I had that big presentation?")
    a = await complete(e, p, seed=1)
    assert a == await complete(e, p, seed=1)
    replies = {await complete(e, p, seed=s) for s in range(8)}
    assert len(replies) >= 3  # varied
    assert "presentation" in a  # it answers what was said


async def test_reply_uses_memories_profile_and_persona() -> None:
    e = get_engine({"engine": "scripted"})
    assert e.name == "scripted" and e.model == "scripted"
    p = _prompt("Do you remember where I live?", ["The user lives in Lisbon."], {"name": "Sam"})
    text = await complete(e, p, seed=3)
    assert "you live in Lisbon" in text
    assert "Sam" in text
    texts = [await complete(e, _prompt("hello there"), seed=s) for s in range(10)]
    assert any("astronomy" in t for t in texts)  # the persona's interest colours replies


async def test_streams_word_chunks_and_respects_max_tokens() -> None:
    e = ScriptedEngine()
    p = _prompt("Tell me about black holes")
    chunks = [c async for c in e.stream(p, seed=0)]
    assert len(chunks) > 3
    assert all(len(c.split()) == 1 for c in chunks)
    short = [c async for c in e.stream(p, seed=0, max_tokens=2)]
    assert len(short) == 2 and "".join(short) == "".join(chunks[:2]).rstrip()


async def test_temperature_zero_is_greedy() -> None:
    e = ScriptedEngine()
    p = _prompt("hi")
    assert await complete(e, p, temperature=0, seed=1) == await complete(e, p, temperature=0, seed=99)


async def test_npc_lines_and_rule_decisions() -> None:
    e = ScriptedEngine()
    rules = [{"decision": "pass", "keywords": ["deal"]}, {"decision": "fail", "patterns": [r"\bnever\b"]}]
    p = npc_prompt(npc_name="Merchant", state="haggle", lines=["Coin first, {player_name}."],
                   player_name="Kai", history=[{"role": "player", "content": "Fine, it's a deal"}],
                   decision_rules=rules, default_decision="redirect")
    assert await complete(e, p) == "Coin first, Kai."
    choices = ["pass", "fail", "redirect"]
    assert await e.decide(p, choices) == "pass"
    p.context["user_message"] = "Never in my life"
    assert await e.decide(p, choices) == "fail"
    p.context["user_message"] = "what is that smell"
    assert await e.decide(p, choices) == "redirect"
    assert await e.decide(p, ["fail"]) == "fail"  # a decision that is not a choice is skipped
    dp = decision_prompt(p, choices)
    assert '{"decision"' in dp.messages[0].content and "pass" in dp.messages[0].content


async def test_instance_prompt_and_reply() -> None:
    row = {"snapshot_title": "Captain Reyes", "snapshot_personality": "Gruff but fair.",
           "snapshot_scenario": "A storm hits the ship.", "snapshot_system_prompt": "You are Captain Reyes.",
           "snapshot_post_history_instructions": "Keep replies short."}
    p = instance_prompt(row, [{"role": "system", "content": "The crew is tired."},
                              {"role": "user", "content": "What about the sails?"}])
    sys = p.messages[0].content
    assert sys.startswith("You are Captain Reyes.") and "A storm hits" in sys and "crew is tired" in sys
    assert sys.rstrip().endswith("Keep replies short.")
    assert [m.role for m in p.messages] == ["system", "user"]
    assert await complete(ScriptedEngine(), p)


def test_companion_prompt_sections_in_order() -> None:
    persona = {**PERSONA, "lives_in_city": "Porto", "boundaries": "No politics.", "custom_instructions": "Be brief."}
    msgs = [{"role": "user", "content": f"m{i}"} if i % 2 == 0 else {"role": "assistant", "content": f"r{i}"}
            for i in range(41)]
    p = companion_prompt(persona, msgs, memories=["The user lives in Lisbon."], profile={"name": "Sam", "likes": ["tea"]})
    sys = p.messages[0].content
    order = [sys.index(s) for s in ("You are Luna", "About Luna", "remembers about the user",
                                    "The user's profile", "Be brief.")]
    assert order == sorted(order)
    assert "- Likes: tea" in sys and "Lives in (city): Porto" in sys
    assert len(p.messages) == 21 and p.messages[-1].content == "m40"  # the recent window
    js = p.to_json()
    assert js["context"]["memories"] == ["The user lives in Lisbon."] and js["messages"][0]["role"] == "system"


def test_second_person() -> None:
    assert second_person("The user lives in Lisbon.") == "you live in Lisbon"
    assert second_person("The user's sister is Ana.") == "your sister is Ana"
    assert second_person("The user is 31 years old.") == "you are 31 years old"
    assert second_person("The user studies law.") == "you study law"
