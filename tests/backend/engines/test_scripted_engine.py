"""The scripted engine and prompt assembly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import phantom_cli.backend.content as content_pkg
from phantom_cli.backend.engines import Prompt, complete, get_engine
from phantom_cli.backend.engines.scripted import ScriptedEngine, second_person
from phantom_cli.backend.prompts import (
    companion_prompt,
    decision_prompt,
    instance_prompt,
    npc_prompt,
)

from ..conftest import PERSONA


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
    e = get_engine({"engine": "scripted", "scripted_pace": 0})
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
    # post-history instructions come last, after the history (SillyTavern's order, issue 15)
    assert "Keep replies short." not in sys
    assert [(m.role, m.content) for m in p.messages[1:]] == [
        ("user", "What about the sails?"), ("system", "Keep replies short.")]
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


# --------------------------------------------------------------------------- issue 15, point 5


def _chat(*user_messages: str, memories: list[str] | None = None) -> Prompt:
    msgs: list[dict[str, str]] = []
    for i, text in enumerate(user_messages):
        msgs.append({"role": "user", "content": text})
        if i < len(user_messages) - 1:
            msgs.append({"role": "assistant", "content": "Mm, go on."})
    return companion_prompt(PERSONA, msgs, memories=memories or [])


async def test_answers_from_something_said_earlier() -> None:
    e = ScriptedEngine()
    p = _chat("We went to the beach on Sunday.", "Work was busy.", "Where did we go on Sunday?")
    replies = {await complete(e, p, seed=s) for s in range(4)}
    for r in replies:  # whatever the seed: the memory answers the question
        assert "the beach" in r and "Good question" not in r
    when = await complete(e, _chat("My sister visited last weekend.", "When did my sister visit?"), seed=0)
    assert "last weekend" in when and "your sister visited last weekend" in when


async def test_answers_from_a_profile_fact_first() -> None:
    e = ScriptedEngine()
    p = _chat("My cat is called Pixel.", "What is my cat called?", memories=["The user's cat is named Miso."])
    text = await complete(e, p, seed=2)
    assert "Miso" in text and "Pixel" not in text  # the (updated) fact wins a tie


async def test_no_memory_matches_no_recall() -> None:
    e = ScriptedEngine()
    text = await complete(e, _chat("We went to the beach on Sunday.", "What's the capital of Peru?"), seed=0)
    assert "beach" not in text


def test_topics_are_content_words_only() -> None:
    from phantom_cli.backend.engines.scripted import topic_of

    assert topic_of("I keep thinking about your cat's tail") in ("the tail", "cat tail", "tail")
    assert topic_of("my cat's toys are everywhere") == "your cat"
    assert topic_of("I don't like the way he talks") not in ("the way", "way")
    assert topic_of("I heard you have something rare for sale.") in ("rare", "sale", "rare sale")
    for msg in ("I heard it yesterday.", "That's the way it is.", "I said what I thought."):
        assert topic_of(msg) is None, msg


async def test_topic_in_replies_never_a_function_word() -> None:
    e = ScriptedEngine()
    for s in range(6):
        text = await complete(e, _prompt("I heard about the way your cat's collar broke."), seed=s)
        assert "about heard" not in text and "the way" not in text and "cat's?" not in text
        assert "your cat's" not in text


async def test_a_retry_with_the_next_seed_differs_and_a_seed_repeats() -> None:
    e = ScriptedEngine()
    for text in ("Hi there!", "I had a rough day at work.", "My dog learned a new trick!"):
        p = _prompt(text)
        replies = [await complete(e, p, seed=s) for s in range(5)]
        assert all(a != b for a, b in zip(replies, replies[1:], strict=False)), replies
        assert replies == [await complete(e, p, seed=s) for s in range(5)]


async def test_streams_word_by_word_at_the_configured_pace() -> None:
    import time

    p = _prompt("Hello! I had a long day at the office today.")
    fast = ScriptedEngine(pace=0)
    t0 = time.perf_counter()
    words = [c async for c in fast.stream(p, seed=1)]
    assert time.perf_counter() - t0 < 0.05 and len(words) >= 5
    assert all(len(w.split()) == 1 for w in words)  # one word per chunk
    paced = ScriptedEngine(pace=200)  # 5 ms a word
    t0 = time.perf_counter()
    again = [c async for c in paced.stream(p, seed=1)]
    assert again == words
    assert time.perf_counter() - t0 >= 0.9 * len(words) * 0.005
    assert get_engine({"engine": "scripted", "scripted_pace": 200}).chunk_delay == 0.005
    assert get_engine({"engine": "scripted"}).pace == ScriptedEngine.DEFAULT_PACE == 40


def test_scripted_pace_setting_reaches_the_server(monkeypatch: object) -> None:
    import pytest

    from phantom_cli.backend.runtime import _server_env
    from phantom_cli.backend.settings import ServerSettings

    assert ServerSettings().scripted_pace == 40
    assert _server_env({"scripted_pace": 0})["PHANTOM_SERVER_SCRIPTED_PACE"] == "0"
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("PHANTOM_SERVER_SCRIPTED_PACE", "12.5")
        assert ServerSettings.from_env().scripted_pace == 12.5
    finally:
        mp.undo()
    with pytest.raises(ValueError, match="scripted_pace"):
        ServerSettings(scripted_pace=-1)


def test_the_request_seed_picks_the_attempt(live_server: object) -> None:
    """Local extension: ``seed`` in the companion request (a retry sends the next one)."""
    from ..conftest import PERSONA as persona

    def ask(seed: int | None) -> dict:
        body = {"chat_id": "seeded-1", "persona": persona, "extract_memory": False,
                "messages": [{"role": "user", "content": "I finally finished my pottery class!"}]}
        if seed is not None:
            body["seed"] = seed
        with live_server.http() as http:  # type: ignore[attr-defined]
            r = http.post("/api/v1/companion/chat", json=body)
            assert r.status_code == 200, r.text
            out = r.json()
            out["params"] = http.get(f"/api/v1/local/prompts/{out['turn_id']}").json()["params"]
        return out

    a, b, a2 = ask(1), ask(2), ask(1)
    assert a["reply"] != b["reply"] and a["reply"] == a2["reply"]
    assert a["params"]["seed"] == 1 and b["params"]["seed"] == 2
    assert ask(None)["params"]["seed"] == 0  # the server's setting
    with live_server.http() as http:  # type: ignore[attr-defined]
        r = http.post("/api/v1/companion/chat", json={"chat_id": "seeded-1", "persona": persona, "seed": -1,
                                                      "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 400 and "seed" in r.text


async def test_a_reply_nobody_watches_is_not_paced() -> None:
    """The word-by-word pace is for a stream someone watches: a JSON answer (non-streamed
    turn, an NPC opening) is written at once, with the same text."""
    import time

    from phantom_cli.backend.engines import unpaced
    from phantom_cli.backend.engines.scripted import ScriptedEngine
    from phantom_cli.backend.prompts import npc_prompt

    paced = ScriptedEngine(pace=20.0)
    quick = unpaced(paced)
    assert quick.chunk_delay == 0 and unpaced(quick) is quick
    p = npc_prompt(npc_name="M", state="s", history=[{"role": "player", "content": "hi there"}])
    t0 = time.perf_counter()
    fast = "".join([c async for c in quick.stream(p, seed=1)])
    assert time.perf_counter() - t0 < 0.2
    assert fast == "".join([c async for c in paced.stream(p, seed=1)])
    assert unpaced(object) is object  # other engines are returned as they are


def _shipped_activities() -> list[dict]:
    data = json.loads((Path(content_pkg.__file__).parent / "activities.json").read_text())
    return data if isinstance(data, list) else data["activities"]


def _row(activity: dict) -> dict:
    keys = ("title", "personality", "scenario", "first_message", "system_prompt")
    return {f"snapshot_{k}": activity.get(k) for k in keys}


@pytest.mark.parametrize("activity", _shipped_activities(), ids=lambda a: a["id"])
async def test_first_instance_reply_answers_instead_of_repeating_the_greeting(activity: dict) -> None:
    """The first reply was the activity's first_message, word for word, half the time."""
    greeting = " ".join(activity["first_message"].split())
    engine = ScriptedEngine()
    p = instance_prompt(_row(activity), [{"role": "user", "content": "What is in the briefcase?"}])
    assert p.context["turn_index"] == 1
    for seed in range(12):
        reply = await complete(engine, p, seed=seed)
        assert greeting not in reply and reply != greeting
        assert "briefcase" in reply  # it answers what was said
        assert "{{" not in reply  # card placeholders are filled in


async def test_rough_day_gets_sympathy_not_a_greeting_only() -> None:
    luna = next(a for a in _shipped_activities() if a["id"] == "act_luna")
    p = instance_prompt(_row(luna), [{"role": "user", "content": "Hi Luna, I had a rough day"}])
    replies = [await complete(ScriptedEngine(), p, seed=s) for s in range(8)]
    assert all(any(w in r for w in ("sorry", "hard", "a lot", "happened")) for r in replies)


async def test_named_character_keeps_its_capitals() -> None:
    """It said "Being inspector wren: meticulous…" (the name was lower-cased with the traits)."""
    train = next(a for a in _shipped_activities() if a["id"] == "act_last_train")
    p = instance_prompt(_row(train), [{"role": "user", "content": "Good evening, Inspector."}])
    replies = [await complete(ScriptedEngine(), p, seed=s) for s in range(16)]
    assert not any("inspector wren" in r for r in replies)
    assert any("Inspector Wren" in r for r in replies)
    assert not any("The Last Train" in r for r in replies)  # the title is not a speaker


@pytest.mark.parametrize("activity", _shipped_activities(), ids=lambda a: a["id"])
async def test_activity_replies_never_guess_a_pronoun(activity: dict) -> None:
    """It said "Theo tilts their head." for a male character (cards carry no gender)."""
    p = instance_prompt(_row(activity), [{"role": "user", "content": "tell me about the storm"}])
    replies = [await complete(ScriptedEngine(), p, seed=s) for s in range(24)]
    assert not any(" their head" in r for r in replies)


def test_an_adjective_alone_is_not_a_topic() -> None:
    """'Work has been busy' once got "Now tell me everything about busy."."""
    from phantom_cli.backend.engines.scripted import topic_of

    assert topic_of("Work has been busy") is None
    assert topic_of("Tell me about black holes") == "black holes"
