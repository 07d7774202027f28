"""One NPC turn as pure logic: a session state + the engine's choice → the next state.

No I/O here; :mod:`.store` persists sessions and :mod:`phantom_cli.backend.routes.npc` asks the
engine for the choice and the reply text.

Semantics (the fields of seed 001):

- ``decision``: the chosen transition's decision (``pass`` / ``fail`` / ``redirect``).
- ``score``: cumulative. ``scoring`` mode adds each transition's ``score``; ``pass_fail`` mode
  counts passed checks (+1 per ``pass``) and ignores authored scores.
- ``redirect_count``: redirects used in the current state; it starts at 0 in every state.
  One redirect more than the state's ``redirect_limit`` takes ``on_redirect_limit`` instead
  (``redirect_limit_exceeded`` is then true, and the count restarts in the new state); a state
  without ``on_redirect_limit`` keeps redirecting.
- ``follow_up``: the transition's flag, by default true unless the machine finished.
- ``outcome`` / ``machine_completed``: set when a terminal state is reached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .machine import Machine, NpcPersona, RedirectLimit, Transition
from .rules import REDIRECT


@dataclass(slots=True)
class SessionState:
    state: str
    score: float = 0
    redirect_count: int = 0
    completed: bool = False
    outcome: str | None = None
    state_path: list[str] = field(default_factory=list)
    line_counts: dict[str, int] = field(default_factory=dict)
    turns: int = 0

    @classmethod
    def initial(cls, machine: Machine) -> SessionState:
        return cls(state=machine.initial_state, state_path=[machine.initial_state])

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "score": self.score,
            "redirect_count": self.redirect_count,
            "completed": self.completed,
            "outcome": self.outcome,
            "state_path": list(self.state_path),
            "line_counts": dict(self.line_counts),
            "turns": self.turns,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SessionState:
        return cls(
            state=str(data["state"]),
            score=data.get("score", 0),
            redirect_count=int(data.get("redirect_count", 0)),
            completed=bool(data.get("completed", False)),
            outcome=data.get("outcome"),
            state_path=list(data.get("state_path") or [data["state"]]),
            line_counts=dict(data.get("line_counts") or {}),
            turns=int(data.get("turns", 0)),
        )


@dataclass(slots=True)
class TurnResult:
    choice: str  # the transition id the engine chose (or "redirect")
    decision: str
    from_state: str
    to_state: str
    score_delta: float
    line_template: str  # the authored line for this turn (placeholders not yet filled)
    goal: str  # the goal of the state the NPC speaks from
    follow_up: bool
    redirect_limit_exceeded: bool
    session: SessionState  # the state after the turn
    unlocked_candidates: list[str] = field(default_factory=list)


def _pick(lines: tuple[str, ...], counts: dict[str, int], key: str) -> str:
    """The n-th authored variant, n = how often this key was used in the session."""
    n = counts.get(key, 0)
    counts[key] = n + 1
    return lines[n % len(lines)]


def normalise_choice(machine: Machine, state: str, choice: str) -> str:
    """The engine's answer as a transition id (a bare decision picks its first transition)."""
    ids = machine.transition_ids(state)
    c = (choice or "").strip()
    if c in ids or c == REDIRECT:
        return c
    low = c.lower()
    for t in machine.states[state].transitions:
        if t.id.lower() == low:
            return t.id
    for t in machine.states[state].transitions:
        if t.decision == low:
            return t.id
    return REDIRECT


def apply_choice(persona: NpcPersona, machine: Machine, session: SessionState, choice: str) -> TurnResult:
    """The turn's effect; ``session`` is not modified (a new state comes back)."""
    if session.completed:
        raise ValueError(f"machine {machine.id!r} is completed")
    s = SessionState.from_json(session.to_json())
    here = s.state
    st = machine.states[here]
    choice = normalise_choice(machine, here, choice)
    # None for a bare "redirect" (normalise_choice returns a transition id or REDIRECT)
    explicit = next((t for t in st.transitions if t.id == choice), None)
    transition: Transition | RedirectLimit | None = None
    exceeded = False
    if explicit is None or explicit.decision == REDIRECT:
        s.redirect_count += 1
        if st.on_redirect_limit is not None and s.redirect_count > st.redirect_limit:
            transition = st.on_redirect_limit
            exceeded = True
            line = _pick(transition.lines, s.line_counts, f"{here}:on_redirect_limit")
        else:
            if explicit is not None and explicit.lines:
                line = _pick(explicit.lines, s.line_counts, f"{here}:{explicit.id}")
                delta = explicit.score if machine.scoring_mode == "scoring" else 0
            else:
                line = _pick(st.redirect_lines, s.line_counts, f"{here}:redirect")
                delta = 0
            s.score += delta
            s.turns += 1
            follow = explicit.follow_up if explicit and explicit.follow_up is not None else True
            return TurnResult(
                choice=choice,
                decision=REDIRECT,
                from_state=here,
                to_state=here,
                score_delta=delta,
                line_template=line,
                goal=st.goal,
                follow_up=follow,
                redirect_limit_exceeded=False,
                session=s,
            )
    else:
        transition = explicit
        line = _pick(transition.lines, s.line_counts, f"{here}:{transition.id}")
    assert transition is not None and transition.to is not None
    target = transition.to
    if machine.scoring_mode == "scoring":
        delta = transition.score
    else:
        delta = 1 if transition.decision == "pass" else 0
    s.score += delta
    s.turns += 1
    if target != here:
        s.redirect_count = 0
        s.state_path.append(target)
    s.state = target
    tstate = machine.states[target]
    unlocked: list[str] = []
    if tstate.terminal:
        s.completed = True
        s.outcome = tstate.outcome
        for u in machine.unlocks:
            if u.outcome in (tstate.outcome, "*"):
                unlocked.extend(m for m in u.machines if m not in unlocked)
    follow = transition.follow_up if transition.follow_up is not None else not tstate.terminal
    return TurnResult(
        choice=choice,
        decision=transition.decision,
        from_state=here,
        to_state=target,
        score_delta=delta,
        line_template=line,
        goal=st.goal,
        follow_up=follow,
        redirect_limit_exceeded=exceeded,
        session=s,
        unlocked_candidates=unlocked,
    )
