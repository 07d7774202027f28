"""The machine format: loading, validation errors that name the file and state, rules, runner."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from phantom_cli.backend.npc import MachineError, load_machine_file, parse_persona, shipped_personas
from phantom_cli.backend.npc.machine import render_line
from phantom_cli.backend.npc.rules import choices, compile_when, decision_rules, match_local
from phantom_cli.backend.npc.runner import SessionState, apply_choice


def _doc() -> dict[str, Any]:
    return {
        "format": "phantom-npc/1",
        "persona": {"id": "guard1", "name": "Guard"},
        "intents": {"greet": ["hello", "good day"]},
        "machines": [
            {
                "id": "m1",
                "initial_state": "start",
                "scoring_mode": "scoring",
                "opening": ["Halt, {player_name}."],
                "states": {
                    "start": {
                        "goal": "Check the password.",
                        "redirect_limit": 1,
                        "redirect_lines": ["What?", "Again?"],
                        "on_redirect_limit": {"decision": "fail", "to": "out", "lines": ["Begone."]},
                        "transitions": [
                            {"decision": "pass", "to": "in", "score": 2, "when": {"keywords": ["swordfish"]},
                             "lines": ["Enter, {title}."]},
                        ],
                    },
                    "in": {"terminal": True, "outcome": "admitted"},
                    "out": {"terminal": True, "outcome": "refused"},
                },
            }
        ],
    }


def _write(tmp_path: Path, doc: dict[str, Any], name: str = "npc.json") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(doc), encoding="utf-8")
    return p


def test_shipped_personas_load_and_match_the_seed() -> None:
    personas = shipped_personas()
    assert {"abc123", "ironbridge"} <= set(personas)
    merchant = personas["abc123"]
    assert merchant.primary_machine == "machine_main"
    main = merchant.machine(None)
    assert main is not None and main.id == "machine_main"
    assert main.opening[0] == "Well, well... another traveler. What brings you to the Hollow Market, {player_name}?"
    assert len(main.outcomes()) > 1
    assert main.scoring_mode == "scoring"
    secret = merchant.machine("machine_secret")
    assert secret is not None and secret.locked
    assert merchant.unlock_sources("machine_secret") == [("machine_main", "secret_revealed")]


def test_valid_document_loads_from_json_and_toml(tmp_path: Path) -> None:
    p = load_machine_file(_write(tmp_path, _doc()))
    assert p.id == "guard1" and p.machine("m1") is not None
    toml = tmp_path / "npc.toml"
    toml.write_text(
        'format = "phantom-npc/1"\n[persona]\nid = "t1"\nname = "T"\n'
        '[[machines]]\nid = "m"\ninitial_state = "a"\nopening = ["Hi."]\n'
        '[machines.states.a]\nredirect_lines = ["Eh?"]\n'
        '[[machines.states.a.transitions]]\ndecision = "pass"\nto = "b"\nlines = ["Ok."]\n'
        '[machines.states.b]\nterminal = true\noutcome = "done"\n',
        encoding="utf-8",
    )
    t = load_machine_file(toml)
    # a transition without an id gets its decision as id; without `when` it is the fallback
    assert t.machine("m").states["a"].transitions[0].id == "pass"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["machines"][0]["states"]["start"]["transitions"][0].update(to="nowhere"),
         r"npc\.json: .*machine 'm1', state 'start', transition 'pass': goes to unknown state 'nowhere'"),
        (lambda d: d["machines"][0].update(initial_state="nope"),
         r"machine 'm1': initial_state 'nope' is not a state"),
        (lambda d: d["machines"][0]["states"].update(lost={"terminal": True, "outcome": "lost"}),
         r"machine 'm1', terminal state 'lost': unreachable from initial state 'start'"),
        (lambda d: d["machines"][0]["states"]["start"]["transitions"][0].update(lines=["Hi {nmae}"]),
         r"state 'start', transition 'pass': unknown placeholder \{nmae\}"),
        (lambda d: d["machines"][0]["states"]["start"]["transitions"][0].update(when={"intents": ["bribe"]}),
         r"state 'start', transition 'pass': unknown intent 'bribe'"),
        (lambda d: d["machines"][0]["states"]["in"].pop("outcome"),
         r"state 'in': a terminal state needs an outcome label"),
        (lambda d: d["machines"][0].update(unlocks=[{"outcome": "won", "machines": ["m1"]}]),
         r"outcome 'won' is not an outcome of the machine"),
        (lambda d: d["machines"][0]["states"]["start"].update(redirect_limit=-1),
         r"machine 'm1', state 'start', redirect_limit: Input should be greater than or equal to 0"),
        (lambda d: d["machines"][0]["states"]["start"]["transitions"][0].update(decision="maybe"),
         r"state 'start', transitions, \[0\], decision: Input should be 'pass', 'fail' or 'redirect'"),
        (lambda d: d["machines"][0]["states"]["start"]["transitions"][0]["when"].update(patterns=["(unclosed"]),
         r"transition 'pass': bad rule"),
    ],
)
def test_validation_errors_name_file_machine_and_state(tmp_path: Path, mutate: Any, expected: str) -> None:
    doc = copy.deepcopy(_doc())
    mutate(doc)
    with pytest.raises(MachineError, match=expected):
        load_machine_file(_write(tmp_path, doc))


def test_dead_end_state_is_reported(tmp_path: Path) -> None:
    doc = _doc()
    st = doc["machines"][0]["states"]
    st["loop"] = {"redirect_lines": ["..."], "transitions": [
        {"decision": "pass", "to": "loop", "lines": ["again"]}]}
    st["start"]["transitions"].append({"decision": "fail", "to": "loop", "lines": ["go"]})
    with pytest.raises(MachineError, match=r"state 'loop': no terminal state can be reached from it"):
        parse_persona(doc, source="dead.json")


def test_unparseable_files_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(MachineError, match=r"bad\.json: not valid JSON"):
        load_machine_file(bad)
    with pytest.raises(MachineError, match=r"missing\.json: cannot read the file"):
        load_machine_file(tmp_path / "missing.json")


def test_rules_compile_to_one_regex_with_all_none_and_prefix() -> None:
    from phantom_cli.backend.npc.machine import When

    rx = compile_when(When(keywords=["trade*", "for sale"], none=["not"], all=["gold"]), {})
    assert re.search(rx, "I'd TRADEs for GOLD")
    assert re.search(rx, "anything\nfor   sale? gold")  # phrases span whitespace and lines
    assert not re.search(rx, "trade gold? not today")
    assert not re.search(rx, "trade silver")
    assert not re.search(rx, "retrade gold")  # word boundary at the start


def test_scripted_rules_choose_like_the_engine() -> None:
    from phantom_cli.backend.engines.scripted import rule_decision
    from phantom_cli.backend.prompts import npc_prompt

    p = shipped_personas()["abc123"]
    mach = p.machine("machine_main")
    assert mach is not None
    rules, default = decision_rules(mach, "greeting", p.intents)
    cases = {
        "I heard you have something rare for sale.": "interest",
        "Hand it over or I'll take it by force.": "threaten",
        "Nice lanterns.": "redirect",
        "Farewell, merchant.": "leave",
    }
    for text, want in cases.items():
        assert match_local(rules, default, text) == want
        prompt = npc_prompt(npc_name="V", state="greeting", history=[{"role": "player", "content": text}],
                            decision_rules=rules, default_decision=default)
        assert rule_decision(prompt, choices(mach, "greeting")) == want


def test_runner_scores_redirects_and_terminals() -> None:
    p = parse_persona(_doc())
    m = p.machine("m1")
    assert m is not None
    s = SessionState.initial(m)
    r1 = apply_choice(p, m, s, "redirect")
    assert (r1.decision, r1.to_state, r1.session.redirect_count, r1.line_template) == ("redirect", "start", 1, "What?")
    assert s.redirect_count == 0  # the input state is not modified
    r2 = apply_choice(p, m, r1.session, "redirect")  # one more than the limit (1)
    assert r2.redirect_limit_exceeded and r2.decision == "fail" and r2.to_state == "out"
    assert r2.session.completed and r2.session.outcome == "refused" and r2.follow_up is False
    assert r2.session.redirect_count == 0 and r2.session.state_path == ["start", "out"]
    with pytest.raises(ValueError, match="completed"):
        apply_choice(p, m, r2.session, "pass")
    win = apply_choice(p, m, s, "pass")
    assert win.session.score == 2 and win.score_delta == 2 and win.session.outcome == "admitted"
    # a bare decision name from an LLM maps to that decision's first transition
    assert apply_choice(p, m, s, "PASS").to_state == "in"
    assert apply_choice(p, m, s, "gibberish").decision == "redirect"


def test_pass_fail_mode_counts_passes() -> None:
    doc = _doc()
    doc["machines"][0]["scoring_mode"] = "pass_fail"
    p = parse_persona(doc)
    m = p.machine("m1")
    assert m is not None
    r = apply_choice(p, m, SessionState.initial(m), "pass")
    assert r.session.score == 1 and r.score_delta == 1


def test_render_line_fills_only_known_placeholders() -> None:
    line = "Hello {player_name}, {title}; {they}/{them}/{their}. {player_name.__class__} {x}"
    out = render_line(line, player_name="Ana {title}", player_gender="female")
    assert out == "Hello Ana {title}, my lady; she/her/her. {player_name.__class__} {x}"
    assert render_line("{title}", player_name="A", player_gender="male") == "good sir"
    assert render_line("{they}", player_name="A", player_gender="non-binary") == "they"


def test_negated_keywords_do_not_take_a_transition() -> None:
    """QA: in the haggling state "I won't pay that" struck the deal (coin: "pay"), and at the
    greeting "I don't want to buy anything" showed interest. A keyword counts only when no
    negator comes before it in the same clause."""
    p = shipped_personas()["abc123"]
    mach = p.machine("machine_main")
    assert mach is not None
    cases = {
        "greeting": {
            "I don't want to buy anything": "redirect",
            "What do you sell?": "interest",
            "I won't hurt you, I just want to buy": "interest",  # the comma ends the clause
            "Not interested, goodbye": "leave",  # a keyword that is itself negative
            "No thanks": "leave",
        },
        "haggling": {
            "I won't pay that": "redirect",
            "I do not accept": "redirect",
            "I don’t accept that, it's way too expensive": "counter",  # curly apostrophe
            "No, I'll take it": "accept",
            "Fine, I'll pay forty crowns": "accept",
        },
        "the_price": {
            "I will never tell you my secret": "refuse",  # was "confide" ("my secret")
            "I'll tell you: I once stole a star map": "confide",
        },
    }
    for state, texts in cases.items():
        rules, default = decision_rules(mach, state, p.intents)
        for text, want in texts.items():
            assert match_local(rules, default, text.lower()) == want, (state, text)


def test_negation_aware_rules_stay_fast_on_long_messages() -> None:
    import time

    p = shipped_personas()["abc123"]
    mach = p.machine("machine_main")
    assert mach is not None
    rules, default = decision_rules(mach, "haggling", p.intents)
    start = time.perf_counter()
    for text in ("a, " * 5333, "not " * 4000, "x" * 16000, ("don't buy, " * 1500)[:16000]):
        assert match_local(rules, default, text) == "redirect"
    assert time.perf_counter() - start < 2.0


def test_catastrophic_patterns_are_refused_at_import() -> None:
    """QA: an imported rule pattern like `(a+)+$` was accepted; on a long player message the
    scripted engine's re.search would backtrack for ever on the server's event loop."""
    from phantom_cli.backend.npc.machine import When
    from phantom_cli.backend.npc.rules import nested_unbounded_repeat

    for bad in (r"(a+)+$", r"(\w*\s*)*x", r"(x|(y+))*", r"(?=(a+)+)"):
        assert nested_unbounded_repeat(bad), bad
        with pytest.raises(re.error, match="nests an unbounded repeat"):
            compile_when(When(patterns=[bad]), {})
    for fine in (r"(\s\w+){0,3}", r"(?:ab)+", r"\b(how|steps) (to|for)\b", r"a{2,}(b+)"):
        assert not nested_unbounded_repeat(fine), fine
        compile_when(When(patterns=[fine]), {})
    doc = _doc()
    doc["machines"][0]["states"]["start"]["transitions"][0]["when"] = {"patterns": [r"(a+)+$"]}
    with pytest.raises(MachineError, match="nests an unbounded repeat"):
        parse_persona(doc)
