"""SillyTavern macros (phantom_cli.backend.macros): one test per macro, as SillyTavern expands them."""

from __future__ import annotations

import random
from datetime import datetime

import pytest

from phantom_cli.backend.macros import MacroEnv, roll, split_list, substitute


def env(**kw) -> MacroEnv:
    base = dict(char="Seraphina", user="Ada", persona="A wandering healer.",
                description="Guardian of the glade.", personality="gentle", scenario="A forest.",
                mes_examples="<START>\nSeraphina: Hush.", chat_id="inst_1",
                now=datetime(2026, 12, 3, 15, 7), rng=random.Random(7))
    base.update(kw)
    return MacroEnv(**base)


def test_char_and_user_case_insensitive() -> None:
    assert substitute("{{char}} greets {{user}}; {{CHAR}}/{{User}}", env()) == (
        "Seraphina greets Ada; Seraphina/Ada")


def test_persona_description_personality_scenario_examples() -> None:
    e = env()
    assert substitute("{{persona}}", e) == "A wandering healer."
    assert substitute("{{description}}", e) == "Guardian of the glade."
    assert substitute("{{personality}}", e) == "gentle"
    assert substitute("{{scenario}}", e) == "A forest."
    assert substitute("{{mesExamples}}|{{mesexamples}}", e) == (
        "<START>\nSeraphina: Hush.|<START>\nSeraphina: Hush.")


def test_original_first_occurrence_only() -> None:
    assert substitute("{{original}} Then: {{original}}", env(), original="BASE") == "BASE Then: "
    assert substitute("{{original}}", env()) == ""


def test_time_and_date_like_moment() -> None:
    assert substitute("{{time}}", env()) == "3:07 PM"
    assert substitute("{{date}}", env()) == "December 3, 2026"
    assert substitute("{{time}}", env(now=datetime(2026, 1, 2, 0, 5))) == "12:05 AM"


def test_random_comma_and_double_colon_forms() -> None:
    seen = {substitute("{{random:red, green,blue}}", env(rng=random.Random(i))) for i in range(40)}
    assert seen == {"red", "green", "blue"}
    seen = {substitute("{{random::a, b::c}}", env(rng=random.Random(i))) for i in range(40)}
    assert seen == {"a, b", "c"}
    assert substitute("{{random:x\\,y}}", env()) == "x,y"  # an escaped comma is kept


def test_pick_is_stable_per_chat_and_varies_between_chats() -> None:
    text = "{{pick:one,two,three,four,five,six,seven,eight}}"
    first = substitute(text, env(chat_id="chat_a", rng=random.Random(1)))
    assert all(substitute(text, env(chat_id="chat_a", rng=random.Random(i))) == first for i in range(10))
    picks = {substitute(text, env(chat_id=f"chat_{i}")) for i in range(30)}
    assert len(picks) > 1
    # two picks at different places in the same text are drawn independently (offset in the seed)
    two = substitute("{{pick::a::b::c::d::e::f::g::h}} {{pick::a::b::c::d::e::f::g::h}}", env())
    assert len(two.split()) == 2


def test_roll() -> None:
    rolls = {int(substitute("{{roll:d6}}", env(rng=random.Random(i)))) for i in range(60)}
    assert rolls == {1, 2, 3, 4, 5, 6}
    assert substitute("{{roll 6}}", env()) in {str(n) for n in range(1, 7)}  # digits only -> 1d6
    assert 3 <= int(substitute("{{roll:2d6+1}}", env())) <= 13
    assert substitute("{{roll:banana}}", env()) == ""
    assert roll("0d6", random.Random()) == ""


def test_comment_newline_trim() -> None:
    assert substitute("a{{// note to self {{char}}}}b", env()) == "ab"
    assert substitute("line{{newline}}next", env()) == "line\nnext"
    assert substitute("top\n\n{{trim}}\nbottom", env()) == "topbottom"


def test_unknown_macros_and_plain_text_untouched() -> None:
    assert substitute("{{getvar::x}} and {{notamacro}}", env()) == "{{getvar::x}} and {{notamacro}}"
    assert substitute(None, env()) == ""
    assert substitute("no macros", env()) == "no macros"


@pytest.mark.parametrize("text,items", [("a, b ,c", ["a", "b", "c"]), ("a::b ", ["a", "b "])])
def test_split_list(text: str, items: list[str]) -> None:
    assert split_list(text) == items
