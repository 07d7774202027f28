"""Lorebook activation (content.lore), SillyTavern's semantics, entry by entry."""

from __future__ import annotations

from typing import Any

import pytest

from phantom_cli.backend.content.lore import activate, key_matches, parse_regex_key


def fired(entries: list[dict[str, Any]], texts: list[str], **book: Any) -> list[str]:
    return [a.content for a in activate([("lb", {"entries": entries, **book})], texts)]


def test_regex_keys_in_slash_form() -> None:
    assert parse_regex_key("/kraken\\w*/i") is not None
    assert parse_regex_key("kraken") is None
    e = [{"keys": ["/kraken\\w*/i"], "content": "K"}]
    assert fired(e, ["Beware the KRAKENS"]) == ["K"]
    assert fired([{"keys": ["/kraken\\w*/"], "content": "K"}], ["Beware the KRAKENS"]) == []
    # not a regex without the slashes: literal text
    assert fired([{"keys": ["kraken\\w*"], "content": "K"}], ["the kraken"]) == []


def test_case_sensitive_and_whole_words() -> None:
    assert key_matches("Ash", "ash falls", case_sensitive=False, whole_words=False)
    assert not key_matches("Ash", "ash falls", case_sensitive=True, whole_words=False)
    assert key_matches("cat", "concatenate", case_sensitive=False, whole_words=False)
    assert not key_matches("cat", "concatenate", case_sensitive=False, whole_words=True)
    assert key_matches("cat", "my cat!", case_sensitive=False, whole_words=True)
    # SillyTavern's settings in extensions count too
    e = [{"keys": ["cat"], "content": "C", "extensions": {"match_whole_words": True}}]
    assert fired(e, ["concatenate"]) == [] and fired(e, ["a cat"]) == ["C"]


@pytest.mark.parametrize("logic,text,expected", [
    (0, "dragon gold", True), (0, "dragon", False),                       # AND ANY
    (3, "dragon gold silver", True), (3, "dragon gold", False),           # AND ALL
    (2, "dragon", True), (2, "dragon silver", False),                     # NOT ANY
    (1, "dragon gold", True), (1, "dragon gold silver", False),           # NOT ALL
])
def test_selective_logic(logic: int, text: str, expected: bool) -> None:
    e = [{"keys": ["dragon"], "secondary_keys": ["gold", "silver"], "selective": True,
          "content": "D", "extensions": {"selectiveLogic": logic}}]
    assert (fired(e, [text]) == ["D"]) is expected


def test_order_position_and_budget() -> None:
    entries = [
        {"keys": ["x"], "content": "low", "insertion_order": 1},
        {"keys": ["x"], "content": "high", "insertion_order": 50, "position": "after_char"},
        {"keys": ["x"], "content": "deep", "insertion_order": 10,
         "extensions": {"position": 4, "depth": 2}},
    ]
    got = activate([("lb", {"entries": entries})], ["x"])
    assert [a.content for a in got] == ["low", "deep", "high"]
    assert [a.position for a in got] == ["before_char", "at_depth", "after_char"]
    assert got[1].depth == 2
    # budget of 2 tokens (8 chars): highest order served first, the overflow stops the rest
    got = activate([("lb", {"entries": entries, "token_budget": 2})], ["x"])
    assert [a.content for a in got] == ["deep", "high"]


def test_probability_is_seeded_and_deterministic() -> None:
    e = [{"keys": ["x"], "content": str(i), "id": i, "extensions": {"probability": 50, "useProbability": True}}
         for i in range(40)]
    a = [x.content for x in activate([("lb", {"entries": e})], ["x"], seed="s1")]
    b = [x.content for x in activate([("lb", {"entries": e})], ["x"], seed="s1")]
    c = [x.content for x in activate([("lb", {"entries": e})], ["x"], seed="s2")]
    assert a == b and a != c and 5 < len(a) < 35
    never = [{"keys": ["x"], "content": "n", "extensions": {"probability": 0, "useProbability": True}}]
    assert fired(never, ["x"]) == []


def test_recursive_scanning_bounded() -> None:
    entries = [
        {"keys": ["castle"], "content": "The castle has a dungeon.", "id": 1},
        {"keys": ["dungeon"], "content": "The dungeon hides a dragon.", "id": 2},
        {"keys": ["dragon"], "content": "The dragon guards a ring.", "id": 3},
        {"keys": ["ring"], "content": "The ring is cursed.", "id": 4},
        {"keys": ["cursed"], "content": "Curses fade at dawn.", "id": 5},
        {"keys": ["dragon"], "content": "excluded", "id": 6, "extensions": {"exclude_recursion": True}},
    ]
    got = activate([("lb", {"entries": entries})], ["Tell me of the castle"], max_recursion=3)
    assert [(a.entry_id, a.recursion, a.key) for a in got] == [
        ("1", 0, "castle"), ("2", 1, "dungeon"), ("3", 2, "dragon"), ("4", 3, "ring"),
    ]
    stop = [{**entries[0], "extensions": {"prevent_recursion": True}}, entries[1]]
    assert [a.entry_id for a in activate([("lb", {"entries": stop})], ["castle"])] == ["1"]


def test_scan_depth_constant_disabled_and_macros() -> None:
    entries = [
        {"keys": ["old"], "content": "O"},
        {"keys": [], "content": "always {{char}}", "constant": True},
        {"keys": ["new"], "content": "off", "enabled": False},
        {"keys": ["{{user}}"], "content": "U"},
    ]
    got = activate([("lb", {"entries": entries, "scan_depth": 1})], ["old", "new Ada"],
                   macro=lambda s: s.replace("{{char}}", "Sera").replace("{{user}}", "Ada"))
    assert [a.content for a in got] == ["always Sera", "U"]
    rec = got[1].record()
    assert rec["matched_key"] == "{{user}}" and rec["constant"] is False
    assert got[0].record()["constant"] is True
