"""``phantom npc walk FILE --to OUTCOME``: the shortest scenario that reaches an outcome.

A shortest path (fewest player turns) over the machine's transitions from its initial state to a
terminal state with that outcome; an ``on_redirect_limit`` edge costs ``redirect_limit + 1``
off-track turns. Each step gets a ``say:`` line that triggers its rule: built from the rule's
keywords / intents / ``all`` words (or an example string of its pattern), avoiding ``none`` words,
and checked with the same first-match evaluation the scripted engine does (so an earlier rule of
the state never steals it). Expectations are the state, decision and, at the end, the outcome.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass
from typing import Any

OFF_TRACK = (
    "Hmm.",
    "The weather is strange today.",
    "I was thinking about the river.",
    "Let me think for a moment.",
    "Lovely lanterns.",
)


class WalkError(ValueError):
    pass


@dataclass
class Edge:
    frm: str
    to: str
    transition: str  # id, or "on_redirect_limit"
    decision: str
    messages: list[str]  # the player's lines for this edge (one, or limit+1 off-track lines)


def _example(pattern: str) -> str | None:
    """A short string that ``pattern`` matches (simple regexes only), or None."""
    try:
        from re import _constants as c
        from re import _parser as sre
    except ImportError:  # pragma: no cover
        return None

    def gen(items: Any) -> str:
        out = []
        for op, av in items:
            if op is c.LITERAL:
                out.append(chr(av))
            elif op is c.NOT_LITERAL:
                out.append("a" if chr(av) != "a" else "b")
            elif op is c.ANY:
                out.append("a")
            elif op is c.IN:
                out.append(_in(av))
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT):
                lo, _hi, sub = av
                out.append(gen(sub) * lo)
            elif op is c.SUBPATTERN:
                out.append(gen(av[-1]))
            elif op is c.BRANCH:
                out.append(gen(av[1][0]))
            elif op is c.AT:
                continue
            elif op is c.CATEGORY:
                out.append(_cat(av))
            else:
                raise ValueError(op)
        return "".join(out)

    def _cat(cat: Any) -> str:
        name = str(cat).lower()
        return "1" if "digit" in name and "not" not in name else (" " if "space" in name and "not" not in name else "a")

    def _in(items: Any) -> str:
        for op, av in items:
            if op is c.LITERAL:
                return chr(av)
            if op is c.RANGE:
                return chr(av[0])
            if op is c.CATEGORY:
                return _cat(av)
        return "a"

    try:
        return gen(sre.parse(pattern))
    except Exception:  # noqa: BLE001 - a form we do not generate: no example
        return None


def _candidates(t: Any, intents: dict[str, Any]) -> list[str]:
    w = t.when
    if w is None:
        return list(OFF_TRACK) + ["Yes."]
    words = list(w.keywords)
    for name in w.intents:
        words.extend(intents.get(name, ()))
    all_words = [x.rstrip("*") for x in w.all]
    pats = [e for e in (_example(p) for p in w.patterns) if e]
    out: list[str] = []
    bases = [x.rstrip("*") for x in words] or [""]
    tails = pats or [""]
    for base in bases:
        for tail in tails:
            parts = [p for p in (base, *all_words, tail) if p]
            if parts:
                text = " ".join(parts)
                out.append(text[0].upper() + text[1:] + ("" if text.endswith((".", "?", "!")) else "."))
    return out


def edges(persona: Any, machine: Any) -> dict[str, list[Edge]]:
    """Every usable edge per state, with the lines that take it."""
    from phantom_cli.backend.npc.rules import REDIRECT, decision_rules, match_local

    intents = {k: list(v) for k, v in persona.intents.items()}
    out: dict[str, list[Edge]] = {}
    for sname, st in machine.states.items():
        if st.terminal:
            continue
        rules, default = decision_rules(machine, sname, intents)
        es: list[Edge] = []
        for t in st.transitions:
            if t.decision == "redirect" or not t.to or t.to == sname:
                continue
            msg = next((m for m in _candidates(t, intents) if match_local(rules, default, m) == t.id), None)
            if msg is not None:
                es.append(Edge(sname, t.to, t.id, t.decision, [msg]))
        r = st.on_redirect_limit
        if r is not None:
            redirect_ids = {REDIRECT} | {t.id for t in st.transitions if t.decision == "redirect"}
            off = [m for m in OFF_TRACK if match_local(rules, default, m) in redirect_ids]
            if off:
                n = st.redirect_limit + 1
                es.append(Edge(sname, r.to, "on_redirect_limit", r.decision, [off[i % len(off)] for i in range(n)]))
        out[sname] = es
    return out


def shortest(persona: Any, machine: Any, outcome: str) -> list[Edge]:
    goals = {s for s, st in machine.states.items() if st.terminal and st.outcome == outcome}
    if not goals:
        raise WalkError(f"machine {machine.id!r} has no outcome {outcome!r} (outcomes: {', '.join(machine.outcomes())})")
    graph = edges(persona, machine)
    start = machine.initial_state
    dist = {start: 0}
    prev: dict[str, Edge] = {}
    heap: list[tuple[int, int, str]] = [(0, 0, start)]
    tie = 0
    while heap:
        d, _, s = heapq.heappop(heap)
        if d > dist.get(s, 1 << 30):
            continue
        if s in goals:
            path: list[Edge] = []
            while s != start:
                e = prev[s]
                path.append(e)
                s = e.frm
            return path[::-1]
        for e in graph.get(s, []):
            nd = d + len(e.messages)
            if nd < dist.get(e.to, 1 << 30):
                dist[e.to], prev[e.to] = nd, e
                tie += 1
                heapq.heappush(heap, (nd, tie, e.to))
    raise WalkError(f"machine {machine.id!r}: no path of player messages reaches outcome {outcome!r}")


def _score(m: Any, e: Edge) -> float:
    st = m.states[e.frm]
    if e.transition == "on_redirect_limit":
        authored = st.on_redirect_limit.score
    else:
        authored = next(t.score for t in st.transitions if t.id == e.transition)
    if m.scoring_mode == "scoring":
        return float(authored)
    return 1.0 if e.decision == "pass" else 0.0


def find_machine(persona: Any, outcome: str, machine_id: str | None) -> Any:
    if machine_id:
        m = persona.machine(machine_id)
        if m is None:
            raise WalkError(f"no machine {machine_id!r} (known: {', '.join(x.id for x in persona.machines)})")
        return m
    have = [m for m in persona.machines if outcome in m.outcomes()]
    if not have:
        known = sorted({o for m in persona.machines for o in m.outcomes()})
        raise WalkError(f"no machine of {persona.id!r} has outcome {outcome!r} (outcomes: {', '.join(known)})")
    return have[0]


def walk_scenario(persona: Any, outcome: str, machine_id: str | None = None,
                  player: tuple[str, str] = ("Tester", "non-binary")) -> dict[str, Any]:
    """The ``phantom-scenario/1`` document (a dict) of the shortest walk to ``outcome``."""
    m = find_machine(persona, outcome, machine_id)
    if m.locked:
        src = ", ".join(f"outcome {o!r} of {s!r}" for s, o in persona.unlock_sources(m.id)) or "nothing"
        raise WalkError(f"machine {m.id!r} is locked (unlocked by {src}); a scenario targets one machine, "
                        "so walk to the unlocking outcome instead")
    path = shortest(persona, m, outcome)
    steps: list[dict[str, Any]] = []
    score = 0.0
    for e in path:
        for i, msg in enumerate(e.messages):
            last = i == len(e.messages) - 1
            if not last:
                steps.append({"say": msg, "expect": {"decision": "redirect", "state": e.frm}})
                continue
            score += _score(m, e)
            exp: dict[str, Any] = {"state": e.to, "decision": e.decision,
                                   "score": int(score) if float(score).is_integer() else score}
            steps.append({"say": msg, "expect": exp})
    if steps:
        final = steps[-1]["expect"]
        final["outcome"] = outcome
        final["machine_completed"] = True
        unlocks = [t for u in m.unlocks if u.outcome in (outcome, "*") for t in u.machines]
        if unlocks:
            final["unlocked"] = unlocks
    sc: dict[str, Any] = {"name": f"{persona.id} {m.id} reaches {outcome}", "npc": persona.id}
    if m.id != persona.primary_machine:
        sc["machine"] = m.id
    sc["player"] = {"name": player[0], "gender": player[1]}
    sc["steps"] = steps
    return {"format": "phantom-scenario/1", "scenarios": [sc]}


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "walk"
