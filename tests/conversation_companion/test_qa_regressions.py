"""Regression tests for defects QA found in the scripted engine, memory and moderation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import phantom_cli.backend.content as content_pkg
from phantom_cli.backend.engines import complete
from phantom_cli.backend.engines.scripted import ScriptedEngine
from phantom_cli.backend.prompts import instance_prompt


def _shipped_activities() -> list[dict]:
    data = json.loads((Path(content_pkg.__file__).parent / "activities.json").read_text())
    return data if isinstance(data, list) else data["activities"]


def _row(activity: dict) -> dict:
    keys = ("title", "personality", "scenario", "first_message", "system_prompt")
    return {f"snapshot_{k}": activity.get(k) for k in keys}


@pytest.mark.parametrize("activity", _shipped_activities(), ids=lambda a: a["id"])
async def test_first_instance_reply_answers_instead_of_repeating_the_greeting(activity: dict) -> None:
    """QA 2: the first reply was the activity's first_message, word for word, half the time."""
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
    """QA 11: "Being inspector wren: meticulous…" (the name was lower-cased with the traits)."""
    train = next(a for a in _shipped_activities() if a["id"] == "act_last_train")
    p = instance_prompt(_row(train), [{"role": "user", "content": "Good evening, Inspector."}])
    replies = [await complete(ScriptedEngine(), p, seed=s) for s in range(16)]
    assert not any("inspector wren" in r for r in replies)
    assert any("Inspector Wren" in r for r in replies)
    assert not any("The Last Train" in r for r in replies)  # the title is not a speaker
