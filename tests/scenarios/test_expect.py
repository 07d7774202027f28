"""Every expectation kind passing and failing; templating; -k and --shard selection."""

from __future__ import annotations

import pytest

from phantom_cli.scenarios.expect import TemplateError, check, compare, render
from phantom_cli.scenarios.load import load_text
from phantom_cli.scenarios.select import SelectError, in_shard, keyword_matcher, parse_shard, select

NPC = {"status": 200, "reply": "Forty crowns, Ash.", "state": "haggling", "decision": "pass", "score": 2,
       "score_delta": 1, "outcome": None, "machine_completed": False, "unlocked": ["machine_secret"],
       "follow_up": True, "redirect_count": 0}
COMP = {"status": 200, "reply": "Hi!", "moderation.inbound_prohibited": False,
        "moderation.outbound_filtered": True, "memory.retrieved_count": 3, "memory.profile_used": True,
        "extraction_enqueued": False}
ERR = {"status": 400, "error.code": "INVALID_REQUEST", "error.message": "persona.name: too long"}

CASES = [
    # key, passing value, failing value, actual
    ("state", "haggling", "greeting", NPC),
    ("decision", "pass", "fail", NPC),
    ("score", 2, ">=3", NPC),
    ("score", ">=2", "<2", NPC),
    ("score_delta", "1", "!=1", NPC),
    ("outcome", None, "deal_struck", NPC),
    ("machine_completed", False, True, NPC),
    ("unlocked", ["machine_secret"], ["machine_other"], NPC),
    ("follow_up", True, False, NPC),
    ("redirect_count", "<=0", ">0", NPC),
    ("moderation.inbound_prohibited", False, True, COMP),
    ("moderation.outbound_filtered", True, False, COMP),
    ("memory.retrieved_count", ">2", "==2", COMP),
    ("memory.profile_used", True, False, COMP),
    ("extraction_enqueued", False, True, COMP),
    ("reply.contains", ["forty", "ASH"], ["forty", "gold"], NPC),
    ("reply.contains", "crowns", "coins", NPC),
    ("reply.not_contains", ["gold"], "crowns", NPC),
    ("reply.matches", r"^Forty \w+", r"^\d+", NPC),
    ("reply.max_chars", 18, 5, NPC),
    ("reply.equals", "Forty crowns, Ash.", "Forty crowns.", NPC),
    ("status", 400, 200, ERR),
    ("error.code", "INVALID_REQUEST", "NOT_FOUND", ERR),
]  # fmt: skip


@pytest.mark.parametrize("key,good,bad,actual", CASES)
def test_every_expectation_passes_and_fails(key, good, bad, actual) -> None:
    extra = {"status": actual["status"]} if actual is ERR and key != "status" else {}
    assert check(actual, {key: good, **extra}) == []
    (f,) = check(actual, {key: bad, **extra}, {key: 12})
    assert f.expectation == key and f.expected == bad and f.line == 12 and f.message


def test_a_failed_request_fails_unless_its_status_is_expected() -> None:
    (f,) = check(ERR, {"state": "x"})
    assert f.expectation == "status" and "400" in f.message and "INVALID_REQUEST" in f.message
    assert check(ERR, {"status": 400}) == []


def test_a_key_the_target_does_not_report_fails() -> None:
    (f,) = check(COMP, {"state": "negotiation"})
    assert "not reported" in f.message


def test_compare_strings() -> None:
    assert compare(3, ">=3") and compare(3, "3") and compare(2.5, "<3") and not compare(3, ">3")
    assert not compare(None, ">=0") and not compare(True, 1) and not compare(3, "three")


def test_templating_vars_and_turns() -> None:
    turns = [{"reply": "one", "score": 1}, {"reply": "two", "score": 3}]
    assert render("{{ name }} said {{turn[1].reply}}; last {{turn[-1].score}}", {"name": "Ash"}, turns) == "Ash said one; last 3"
    with pytest.raises(TemplateError, match="unknown variable 'nope'"):
        render("{{nope}}", {}, turns)
    with pytest.raises(TemplateError, match="no turn 3"):
        render("{{turn[3].reply}}", {}, turns)
    with pytest.raises(TemplateError, match="has no 'colour'"):
        render("{{turn[1].colour}}", {}, turns)


SUITE = "scenarios:\n" + "".join(
    f"  - name: {n}\n    npc: abc123\n    steps: [{{say: hi}}]\n"
    for n in ("merchant deal", "merchant threat", "luna recall", "vault riddle", "luna moderation")
)


def test_k_expressions() -> None:
    scs = load_text(SUITE, "yaml", "s.yaml").scenarios
    names = lambda k: [s.name for s in select(scs, keyword=k)]  # noqa: E731
    assert names("merchant") == ["merchant deal", "merchant threat"]
    assert names("merchant and not threat") == ["merchant deal"]
    assert names("luna or vault") == ["luna recall", "vault riddle", "luna moderation"]
    assert names("(luna or merchant) and not (recall or deal)") == ["merchant threat", "luna moderation"]
    assert names("LUNA and MODERATION") == ["luna moderation"]
    for bad in ("merchant and", "(luna", "or luna", "luna )"):
        with pytest.raises(SelectError):
            keyword_matcher(bad)


def test_shards_split_stably() -> None:
    scs = load_text(SUITE, "yaml", "s.yaml").scenarios
    parts = [select(scs, shard=(i, 3)) for i in (1, 2, 3)]
    assert sorted(s.name for p in parts for s in p) == sorted(s.name for s in scs)  # each exactly once
    # the shard of a scenario does not depend on the rest of the suite
    for s in scs:
        assert [in_shard(s, i, 3) for i in (1, 2, 3)].count(True) == 1
        assert select([s], shard=(1, 3)) == ([s] if in_shard(s, 1, 3) else [])
    assert parse_shard("2/4") == (2, 4)
    for bad in ("0/3", "4/3", "a/b", "1"):
        with pytest.raises(SelectError):
            parse_shard(bad)
