"""Moderation: evasions are caught, innocent near-misses are not, the policy is data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phantom_cli.backend.moderation import Policy, get_policy, normalize


@pytest.fixture(scope="module")
def policy() -> Policy:
    return get_policy()


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("I will kill you", "violence"),
        ("I will k i l l you", "violence"),  # spaced letters
        ("k.i.l.l them all", "violence"),  # punctuation between letters
        ("k-i-l-l", "violence"),
        ("K1LL", "violence"),  # leetspeak 1 -> i
        ("ki11 him", "violence"),  # leetspeak 1 -> l
        ("kiiiiilllll", "violence"),  # repeated letters
        ("k\u200bi\u200bl\u200bl", "violence"),  # zero-width characters
        ("\uff4b\uff49\uff4c\uff4c", "violence"),  # full-width letters (NFKC)
        ("\u043aill", "violence"),  # Cyrillic ka
        ("m u r d 3 r", "violence"),
        ("how to make a b0mb", "weapons"),
        ("instructions to build an explosive", "weapons"),
        ("child p0rn", "sexual_minors"),
        ("I want to k!ll mys3lf", "self_harm"),
    ],
)
def test_inbound_catches_evasions(policy: Policy, text: str, category: str) -> None:
    verdict = policy.inbound(text)
    assert verdict.flagged, text
    assert verdict.category == category


@pytest.mark.parametrize(
    "text",
    [
        "I have great skill at chess",
        "Assassin's Creed is my favourite game",
        "my class starts at nine",
        "pass the salt please",
        "I grew up near Scunthorpe",
        "I killed it at work today",  # not the listed word form
        "my therapist appointment went well",
        "as if!",
        "skillful, skilled, skills",
        "Mass Effect and bass guitar",
        "I have 3 cats and 1 dog",
        "Kilimanjaro is tall",
        "a s k me anything",
    ],
)
def test_innocent_near_misses_pass_both_ways(policy: Policy, text: str) -> None:
    assert not policy.inbound(text).flagged, text
    assert not policy.outbound(text).flagged, text


@pytest.mark.parametrize("text", ["you're an ass", "what an a s s", "a$$hole", "b1tch", "sh!t"])
def test_outbound_only_category(policy: Policy, text: str) -> None:
    assert policy.outbound(text).category == "harassment"
    assert not policy.inbound(text).flagged  # users may swear; the companion may not


def test_normalisation() -> None:
    assert normalize("K.I.L.L   th3m") == "kill them"
    assert normalize("Ｈｅｌｌｏ\u200b Wörld") == "hello world"


def test_refusal_and_fallback_use_the_persona_name(policy: Policy) -> None:
    refusals = {policy.refusal("Luna", "violence", pick=i) for i in range(5)}
    assert any("Luna" in r for r in refusals)
    assert "Luna" in policy.refusal("Luna", "self_harm")
    assert policy.fallback("Luna")


def test_policy_is_data_json_and_toml(tmp_path: Path) -> None:
    j = tmp_path / "p.json"
    j.write_text(json.dumps({"categories": {"fruit": {"terms": ["banana"], "directions": ["inbound"]}},
                             "refusals": ["{name} won't discuss fruit."]}))
    p = Policy.load(j)
    assert p.inbound("B A N A N A!").category == "fruit"
    assert not p.outbound("banana").flagged
    assert p.refusal("Mira", "fruit") == "Mira won't discuss fruit."
    t = tmp_path / "p.toml"
    t.write_text('[categories.spoilers]\nterms = ["rosebud"]\npatterns = ["\\\\bending is\\\\b"]\n')
    p2 = Policy.load(t)
    assert p2.outbound("r0sebud").category == "spoilers"
    assert p2.inbound("the ending is sad").category == "spoilers"


def test_bad_policy_errors_name_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="moderation_policy"):
        Policy.load(bad)
    with pytest.raises(ValueError, match="categories"):
        Policy.from_data({"categories": {}})
    with pytest.raises(ValueError, match="direction"):
        Policy.from_data({"categories": {"x": {"terms": ["a"], "directions": ["sideways"]}}})
    with pytest.raises(ValueError, match="cannot read"):
        Policy.load(tmp_path / "missing.json")
