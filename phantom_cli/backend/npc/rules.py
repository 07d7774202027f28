"""Transition rules → the decision rules the engines read.

A transition's ``when`` (keywords, intents, all, none, patterns) compiles to one regular
expression. Its keywords and intents count only when not negated earlier in the same clause
("I won't pay that" does not pay; "I don't want to buy anything" is not interest). The scripted engine's ``decide`` tries ``context["decision_rules"]`` in order
(``{"decision": <transition id>, "patterns": [regex]}``) and picks the first that matches; LLM
engines get the same rules described in words and choose among the transition ids.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .machine import Machine, Transition, When

REDIRECT = "redirect"


def _word(word: str) -> str:
    """A keyword or phrase as a regex: words split on spaces, ``*`` suffix = prefix match."""
    w = word.strip().lower()
    prefix = w.endswith("*")
    if prefix:
        w = w[:-1]
    parts = [re.escape(p) for p in w.split()]
    if not parts:
        raise KeyError(f"empty keyword {word!r}")
    body = r"\s+".join(parts)
    return rf"\b{body}" + (r"\w*" if prefix else r"\b")


def _alt(words: Sequence[str]) -> str:
    return "(?:" + "|".join(_word(w) for w in words) + ")"


# A negator: "not", "never", "no", "cannot", "nor", "without", or a "n't" contraction.
_NEG = r"(?:\b(?:not|never|no|cannot|nor|without)\b|n['’]t\b)"
_CLAUSE_END = ".!?;:,"


def _unnegated(alternatives: str) -> str:
    """A lookahead: some clause has one of ``alternatives`` with no negator before it in that
    clause. "I won't pay that" is not "pay"; "No, I'll pay" is (the comma ends the clause). A
    keyword that is itself negative ("no", "won't", "not interested") still matches."""
    return (
        f"(?=(?:.*[{_CLAUSE_END}])?"  # the start of the text, or just after a clause's end
        f"(?:(?!{_NEG})[^{_CLAUSE_END}])*?"  # then words of that clause, none a negator
        f"{alternatives})"
    )


def nested_unbounded_repeat(pattern: str) -> bool:
    """True when an unbounded repeat (``*``, ``+``, ``{n,}``) contains another one, as in
    ``(a+)+`` or ``(\\w*\\s*)*``: the classic catastrophic-backtracking shape, which could stall
    the server on a long player message. Bounded repeats (``(\\s\\w+){0,3}``) are fine."""
    try:
        from re import _constants as c
        from re import _parser as sre
    except ImportError:  # pragma: no cover - other Pythons: no check
        return False
    repeats = {c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", c.MAX_REPEAT)}

    def walk(items: Any, inside_unbounded: bool) -> bool:
        for op, av in items:
            if op in repeats:
                _lo, hi, sub = av
                unbounded = hi == c.MAXREPEAT
                if unbounded and inside_unbounded:
                    return True
                if walk(sub, inside_unbounded or unbounded):
                    return True
            elif op is c.SUBPATTERN:
                if walk(av[-1], inside_unbounded):
                    return True
            elif op is c.BRANCH:
                if any(walk(b, inside_unbounded) for b in av[1]):
                    return True
            elif op in (c.ASSERT, c.ASSERT_NOT):
                if walk(av[1], inside_unbounded):
                    return True
        return False

    try:
        return walk(sre.parse(pattern), False)
    except Exception:  # noqa: BLE001 - a pattern that does not parse is reported by re.compile
        return False


def compile_when(when: When, intents: Mapping[str, Sequence[str]]) -> str:
    """One case-insensitive, dot-all regex that matches exactly when ``when`` holds."""
    any_words: list[str] = list(when.keywords)
    for name in when.intents:
        if name not in intents:
            raise KeyError(f"unknown intent {name!r}")
        any_words.extend(intents[name])
    parts = ["(?is)^"]
    if any_words:
        parts.append(_unnegated(_alt(any_words)))
    for w in when.all:
        parts.append(f"(?=.*{_word(w)})")
    if when.none:
        parts.append(f"(?!.*{_alt(when.none)})")
    if when.patterns:
        for p in when.patterns:
            re.compile(p)  # a bad pattern names itself
            if nested_unbounded_repeat(p):
                raise re.error(
                    f"pattern {p!r} nests an unbounded repeat inside another (catastrophic "
                    "backtracking on long messages); bound the inner or outer one, e.g. {0,3}"
                )
        parts.append("(?=.*(?:" + "|".join(f"(?:{p})" for p in when.patterns) + "))")
    regex = "".join(parts)
    re.compile(regex)
    return regex


_cache: dict[tuple[int, str], tuple[Machine, list[dict[str, Any]], str]] = {}


def decision_rules(
    machine: Machine, state: str, intents: Mapping[str, Sequence[str]]
) -> tuple[list[dict[str, Any]], str]:
    """``(rules, default_decision)`` for the state's transitions, in authored order.

    Compiled once per machine object and state (machines are immutable); callers get copies.
    """
    key = (id(machine), state)
    hit = _cache.get(key)
    if hit is None or hit[0] is not machine:
        if len(_cache) > 4096:
            _cache.clear()
        rules, default = _decision_rules(machine, state, intents)
        hit = _cache[key] = (machine, rules, default)
    return [dict(r, patterns=list(r["patterns"])) for r in hit[1]], hit[2]


def _decision_rules(
    machine: Machine, state: str, intents: Mapping[str, Sequence[str]]
) -> tuple[list[dict[str, Any]], str]:
    rules: list[dict[str, Any]] = []
    default = REDIRECT
    for t in machine.states[state].transitions:
        if t.when is None:
            default = t.id
            break
        rules.append({"decision": t.id, "patterns": [compile_when(t.when, intents)]})
    return rules, default


def choices(machine: Machine, state: str) -> list[str]:
    """The ids an engine may answer with: every transition, plus ``redirect``."""
    out = machine.transition_ids(state)
    if REDIRECT not in out:
        out.append(REDIRECT)
    return out


def match_local(rules: Sequence[Mapping[str, Any]], default: str, message: str) -> str:
    """The same first-match evaluation the scripted engine does (for checks and tools)."""
    for rule in rules:
        for p in rule.get("patterns", ()):
            if re.search(p, message):
                return str(rule["decision"])
    return default


def rule_match(rules: Sequence[Mapping[str, Any]], message: str) -> str | None:
    """The decision of the first rule that matches ``message``, or None when none does."""
    for rule in rules:
        for p in rule.get("patterns", ()):
            if re.search(p, message):
                return str(rule["decision"])
    return None


def describe_transition(t: Transition, state: str, intents: Mapping[str, Sequence[str]]) -> str:
    """One transition in words: its decision, target and what the player says to take it."""
    hint = t.description.strip()
    if t.when is not None:
        words = list(t.when.keywords) + list(t.when.all)
        for name in t.when.intents:
            words.extend(intents.get(name, ()))
        if words:
            shown = ", ".join(w.rstrip("*") for w in words[:12])
            hint = f"{hint} (e.g. the player says: {shown})" if hint else f"The player's message is about: {shown}."
        if t.when.none:
            hint += " Not when the player says: " + ", ".join(t.when.none) + "."
    return f"{t.decision} → {t.to or state}. {hint or 'Anything else.'}"


def describe_choices(machine: Machine, state: str, intents: Mapping[str, Sequence[str]]) -> str:
    """The choices in words, for an LLM engine's classification prompt."""
    lines = [f"- {t.id}: {describe_transition(t, state, intents)}"
             for t in machine.states[state].transitions]
    if REDIRECT not in machine.transition_ids(state):
        lines.append(f"- {REDIRECT}: the message is off track; steer the player back to the goal")
    return "\n".join(lines)
