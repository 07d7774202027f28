"""Property tests: condensing stays within budget and keeps whole input lines; the runner keeps
its invariants over any sequence of engine choices on the shipped machines."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phantom_cli.backend import scratchpad as sp
from phantom_cli.backend.npc import shipped_personas
from phantom_cli.backend.npc.runner import SessionState, apply_choice

WORDS = st.text(alphabet="abcdefghij", min_size=1, max_size=6)
LINES = st.lists(st.lists(WORDS, min_size=1, max_size=12).map(" ".join), min_size=1, max_size=15)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=LINES, budget=st.integers(min_value=1, max_value=40),
       hint=st.one_of(st.none(), st.lists(WORDS, min_size=1, max_size=4).map(" ".join)))
def test_condense_within_budget_and_made_of_input_lines(lines: list[str], budget: int, hint: str | None) -> None:
    content = "\n".join(lines)
    out = sp.condense(content, budget, hint)
    assert len(out.split()) <= budget
    if len(content.split()) <= budget:
        assert out == content
        return
    assert out.strip()
    for line in out.splitlines():
        if line.endswith("…"):  # the one over-long unit, cut to fit
            assert any(line[:-1] in x for x in lines)
        else:
            assert any(line in x for x in lines)


PERSONAS = shipped_personas()
MACHINES = [(p, m) for p in PERSONAS.values() for m in p.machines]


@settings(max_examples=200, deadline=None)
@given(which=st.integers(min_value=0, max_value=len(MACHINES) - 1),
       picks=st.lists(st.integers(min_value=0, max_value=10), min_size=1, max_size=40))
def test_runner_invariants(which: int, picks: list[int]) -> None:
    persona, machine = MACHINES[which]
    s = SessionState.initial(machine)
    total = 0.0
    for k in picks:
        if s.completed:
            break
        options = [*machine.transition_ids(s.state), "redirect"]
        r = apply_choice(persona, machine, s, options[k % len(options)])
        total += r.score_delta
        s = r.session
        st_ = machine.states[s.state]
        assert s.score == total
        assert s.state_path[0] == machine.initial_state and s.state_path[-1] == s.state
        assert r.decision in ("pass", "fail", "redirect")
        assert s.completed == st_.terminal and (s.outcome is not None) == st_.terminal
        if not st_.terminal and st_.on_redirect_limit is not None:
            assert s.redirect_count <= st_.redirect_limit
        assert r.line_template.strip()
        if s.completed:
            assert r.follow_up is False
            assert set(r.unlocked_candidates) <= {m.id for m in persona.machines}
