"""The NPC state-machine format: data files (JSON or TOML), parsed and validated on load.

A file holds one NPC persona and its machines (``phantom_cli/backend/README.md``, "NPC chat",
describes the decision mode and the reply cap)::

    {
      "format": "phantom-npc/1",
      "persona": {"id": "abc123", "name": "...", "primary_machine": "machine_main", ...},
      "intents": {"purchase": ["buy", "sale", "rare", "trade*"]},
      "machines": [
        {"id": "machine_main", "initial_state": "greeting", "scoring_mode": "scoring",
         "decide": "rules-then-model",   # or "rules" | "model" (who picks a transition)
         "max_tokens": 60,               # cap of an LLM-written line (a state may set its own)
         "opening": ["Well, well... what brings you here, {player_name}?"],
         "states": {
            "greeting": {"goal": "...", "redirect_limit": 2,
                          "redirect_lines": ["..."],
                          "on_redirect_limit": {"decision": "fail", "to": "thrown_out", "lines": ["..."]},
                          "transitions": [
                             {"id": "interest", "decision": "pass", "to": "negotiation", "score": 1,
                              "when": {"intents": ["purchase"]}, "lines": ["..."]}]},
            "thrown_out": {"terminal": true, "outcome": "thrown_out"}},
         "unlocks": [{"outcome": "secret_revealed", "machines": ["machine_secret"]}]}
      ]
    }

Every problem is reported as :class:`MachineError` naming the file, the machine and the state.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

FORMAT = "phantom-npc/1"
DECISIONS = ("pass", "fail", "redirect")
SCORING_MODES = ("scoring", "pass_fail")
PLACEHOLDERS = ("player_name", "player_gender", "they", "them", "their", "title", "npc_name")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")
STATE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

Decision = Literal["pass", "fail", "redirect"]
DECIDE_MODES = ("rules", "model", "rules-then-model")
DEFAULT_DECIDE = "rules-then-model"
# An NPC reply from an LLM engine is "one short line": capped at this many tokens unless the
# machine or the state sets ``max_tokens``, then trimmed to its last complete sentence.
DEFAULT_REPLY_MAX_TOKENS = 60


class MachineError(ValueError):
    """A machine file that cannot be used; the message names the file, machine and state."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class When(_Model):
    """Rules for the scripted engine (LLM engines read them as guidance).

    All given parts must hold: ``keywords`` — at least one word or phrase occurs (``trade*``
    matches by prefix); ``intents`` — at least one keyword of a named intent occurs (merged with
    ``keywords`` into one "any" set); ``all`` — every listed word occurs; ``none`` — no listed
    word occurs; ``patterns`` — at least one regular expression matches.
    """

    keywords: tuple[str, ...] = ()
    intents: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    none: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (self.keywords or self.intents or self.all or self.none or self.patterns)


class Transition(_Model):
    id: str = ""
    decision: Decision
    to: str | None = None  # None: stay in the state (a redirect)
    score: float = 0
    follow_up: bool | None = None  # None: true unless the target is terminal
    when: When | None = None  # None: the fallback (matches anything), must come last
    lines: tuple[str, ...] = ()
    description: str = ""


class RedirectLimit(_Model):
    """What happens when the player is redirected once more than ``redirect_limit`` allows."""

    decision: Decision = "fail"
    to: str
    score: float = 0
    follow_up: bool | None = None
    lines: tuple[str, ...] = ()


class State(_Model):
    goal: str = ""
    terminal: bool = False
    outcome: str | None = None
    redirect_limit: int = Field(default=2, ge=0, le=100)
    redirect_lines: tuple[str, ...] = ()
    on_redirect_limit: RedirectLimit | None = None
    transitions: tuple[Transition, ...] = ()
    description: str = ""
    max_tokens: int | None = Field(default=None, ge=1, le=4096)  # None: the machine's


class Unlock(_Model):
    outcome: str
    machines: tuple[str, ...] = Field(min_length=1)


class Machine(_Model):
    id: str
    title: str = ""
    description: str = ""
    scoring_mode: Literal["scoring", "pass_fail"] = "scoring"
    initial_state: str
    opening: tuple[str, ...] = Field(min_length=1)
    locked: bool = False  # true: only reachable through another machine's unlock rule
    states: dict[str, State]
    unlocks: tuple[Unlock, ...] = ()
    # Who decides a turn's transition (backend README "Decision mode"): the authored rules only, the
    # model only, or the rules first and the model only when no rule matches.
    decide: Literal["rules", "model", "rules-then-model"] = "rules-then-model"
    max_tokens: int | None = Field(default=None, ge=1, le=4096)  # None: DEFAULT_REPLY_MAX_TOKENS

    def reply_max_tokens(self, state: str) -> int:
        """The token cap of an LLM-written NPC reply in ``state`` (state, machine, default)."""
        st = self.states.get(state)
        if st is not None and st.max_tokens is not None:
            return st.max_tokens
        return self.max_tokens if self.max_tokens is not None else DEFAULT_REPLY_MAX_TOKENS

    @field_validator("states")
    @classmethod
    def _non_empty(cls, v: dict[str, State]) -> dict[str, State]:
        if not v:
            raise ValueError("a machine needs at least one state")
        return v

    def transition_ids(self, state: str) -> list[str]:
        return [t.id for t in self.states[state].transitions]

    def outcomes(self) -> list[str]:
        return sorted({s.outcome for s in self.states.values() if s.terminal and s.outcome})

    def terminals(self) -> list[str]:
        return [k for k, s in self.states.items() if s.terminal]


class PersonaInfo(_Model):
    id: str
    name: str = Field(min_length=1, max_length=120)
    title: str = ""
    description: str = ""
    personality: str = ""
    primary_machine: str | None = None


class NpcPersona(_Model):
    format: Literal["phantom-npc/1"] = FORMAT
    persona: PersonaInfo
    intents: dict[str, tuple[str, ...]] = {}
    machines: tuple[Machine, ...] = Field(min_length=1)

    @property
    def id(self) -> str:
        return self.persona.id

    @property
    def primary_machine(self) -> str:
        return self.persona.primary_machine or self.machines[0].id

    def machine(self, machine_id: str | None) -> Machine | None:
        mid = machine_id or self.primary_machine
        for m in self.machines:
            if m.id == mid:
                return m
        return None

    def unlock_sources(self, machine_id: str) -> list[tuple[str, str]]:
        """``[(machine, outcome)]`` whose completion unlocks ``machine_id``."""
        out: list[tuple[str, str]] = []
        for m in self.machines:
            for u in m.unlocks:
                if machine_id in u.machines:
                    out.append((m.id, u.outcome))
        return out

    def to_public(self) -> dict[str, Any]:
        """The JSON the local ``/local/npcs/{id}`` route serves (the whole definition)."""
        return self.model_dump(mode="json")


# --------------------------------------------------------------------------- loading


def load_machine_file(path: str | Path) -> NpcPersona:
    """Read, parse and validate one persona file (``.json`` or ``.toml``)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise MachineError(f"{p}: cannot read the file ({exc.strerror or exc})") from None
    if p.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise MachineError(f"{p}: not valid TOML ({exc})") from None
    else:
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MachineError(f"{p}: not valid JSON ({exc})") from None
    return parse_persona(data, source=str(p))


def parse_persona(data: Any, *, source: str = "<data>") -> NpcPersona:
    """Validate a persona document (already parsed from JSON/TOML) and return it."""
    if not isinstance(data, dict):
        raise MachineError(f"{source}: the document must be an object with persona and machines")
    data = _fill_transition_ids(data)
    try:
        persona = NpcPersona.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            problems.append(f"{_loc(data, err['loc'])}: {err['msg']}")
        raise MachineError(f"{source}: " + "; ".join(problems)) from None
    errors = list(check_persona(persona))
    if errors:
        raise MachineError(f"{source}: " + "; ".join(errors))
    return persona


def _fill_transition_ids(data: dict[str, Any]) -> dict[str, Any]:
    """Give every transition without an ``id`` one: its decision, or ``decision-N``."""
    machines = data.get("machines")
    if not isinstance(machines, list):
        return data
    out = dict(data)
    new_machines = []
    for m in machines:
        if not isinstance(m, dict) or not isinstance(m.get("states"), dict):
            new_machines.append(m)
            continue
        m = dict(m)
        states = {}
        for name, st in m["states"].items():
            if isinstance(st, dict) and isinstance(st.get("transitions"), list):
                st = dict(st)
                seen: dict[str, int] = {}
                ts = []
                for t in st["transitions"]:
                    if isinstance(t, dict) and not t.get("id"):
                        t = dict(t)
                        base = str(t.get("decision", "t"))
                        seen[base] = seen.get(base, 0) + 1
                        t["id"] = base if seen[base] == 1 else f"{base}-{seen[base]}"
                    ts.append(t)
                st["transitions"] = ts
            states[name] = st
        m["states"] = states
        new_machines.append(m)
    out["machines"] = new_machines
    return out


def _loc(data: Any, loc: Iterable[Any]) -> str:
    """A readable location: ``machine 'x', state 'y', transitions[2].to``."""
    parts: list[str] = []
    node = data
    loc = list(loc)
    i = 0
    while i < len(loc):
        key = loc[i]
        if key == "machines" and i + 1 < len(loc) and isinstance(loc[i + 1], int):
            idx = loc[i + 1]
            try:
                node = node["machines"][idx]
                parts.append(f"machine {node.get('id', idx)!r}")
            except (KeyError, IndexError, TypeError, AttributeError):
                parts.append(f"machines[{idx}]")
                node = None
            i += 2
            continue
        if key == "states" and i + 1 < len(loc):
            parts.append(f"state {loc[i + 1]!r}")
            try:
                node = node["states"][loc[i + 1]]
            except (KeyError, TypeError):
                node = None
            i += 2
            continue
        parts.append(f"[{key}]" if isinstance(key, int) else str(key))
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            node = None
        i += 1
    return ", ".join(parts) or "document"


def check_persona(p: NpcPersona) -> Iterable[str]:
    """Cross-reference checks; yields one message per problem."""
    if not ID_RE.match(p.persona.id):
        yield f"persona.id {p.persona.id!r} must match {ID_RE.pattern}"
    ids = [m.id for m in p.machines]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        yield f"machine ids must be unique: {', '.join(dupes)} repeated"
    if p.persona.primary_machine and p.persona.primary_machine not in ids:
        yield f"persona.primary_machine {p.persona.primary_machine!r} is not a machine of this file"
    primary = p.machine(None)
    if primary is not None and primary.locked:
        yield f"machine {primary.id!r}: the primary machine cannot be locked"
    for name, words in p.intents.items():
        if not words:
            yield f"intent {name!r} has no keywords"
    for m in p.machines:
        yield from _check_machine(p, m, set(ids))


def _check_machine(p: NpcPersona, m: Machine, machine_ids: set[str]) -> Iterable[str]:
    where = f"machine {m.id!r}"
    if not ID_RE.match(m.id):
        yield f"{where}: id must match {ID_RE.pattern}"
    if m.initial_state not in m.states:
        yield f"{where}: initial_state {m.initial_state!r} is not a state of the machine"
    for line in m.opening:
        yield from _check_line(f"{where}, opening", line)
    from .rules import compile_when  # local: rules imports this module's types

    for sname, st in m.states.items():
        w = f"{where}, state {sname!r}"
        if not STATE_RE.match(sname):
            yield f"{w}: state names must match {STATE_RE.pattern}"
        if st.terminal:
            if not st.outcome:
                yield f"{w}: a terminal state needs an outcome label"
            if st.transitions or st.on_redirect_limit:
                yield f"{w}: a terminal state cannot have transitions"
            continue
        if st.outcome:
            yield f"{w}: only terminal states carry an outcome"
        if not st.transitions and not st.on_redirect_limit:
            yield f"{w}: a non-terminal state needs transitions"
        tids = [t.id for t in st.transitions]
        for dupe in sorted({t for t in tids if tids.count(t) > 1}):
            yield f"{w}: transition id {dupe!r} repeated"
        for k, t in enumerate(st.transitions):
            tw = f"{w}, transition {t.id!r}"
            if not STATE_RE.match(t.id):
                yield f"{tw}: transition ids must match {STATE_RE.pattern}"
            if t.id == "redirect" and t.decision != "redirect":
                yield f"{tw}: the id 'redirect' is reserved for redirect transitions"
            if t.decision == "redirect":
                if t.to not in (None, sname):
                    yield f"{tw}: a redirect stays in its state (drop 'to')"
            elif t.to is None:
                yield f"{tw}: a {t.decision} transition needs 'to'"
            elif t.to not in m.states:
                yield f"{tw}: goes to unknown state {t.to!r}"
            if t.when is None and k != len(st.transitions) - 1:
                yield f"{tw}: a transition without 'when' matches everything and must be last"
            if t.when is not None:
                if t.when.is_empty():
                    yield f"{tw}: 'when' is empty (omit it for a fallback transition)"
                for intent in t.when.intents:
                    if intent not in p.intents:
                        yield f"{tw}: unknown intent {intent!r}"
                try:
                    compile_when(t.when, p.intents)
                except (re.error, KeyError) as exc:
                    yield f"{tw}: bad rule ({exc})"
            for line in t.lines:
                yield from _check_line(tw, line)
            if not t.lines:
                yield f"{tw}: needs at least one line"
        if st.on_redirect_limit is not None:
            r = st.on_redirect_limit
            if r.to not in m.states:
                yield f"{w}, on_redirect_limit: goes to unknown state {r.to!r}"
            if r.decision == "redirect":
                yield f"{w}, on_redirect_limit: the decision must be pass or fail"
            if not r.lines:
                yield f"{w}, on_redirect_limit: needs at least one line"
            for line in r.lines:
                yield from _check_line(f"{w}, on_redirect_limit", line)
        if not st.redirect_lines:
            yield f"{w}: needs at least one redirect line (said when the player goes off track)"
        for line in st.redirect_lines:
            yield from _check_line(f"{w}, redirect_lines", line)
    if m.initial_state not in m.states:
        return
    # reachability: every state reachable, every terminal reachable, no dead ends
    reach = _reachable(m, m.initial_state)
    for sname, st in m.states.items():
        if sname not in reach:
            kind = "terminal state" if st.terminal else "state"
            yield f"{where}, {kind} {sname!r}: unreachable from initial state {m.initial_state!r}"
    if not any(m.states[s].terminal for s in reach):
        yield f"{where}: no terminal state is reachable from {m.initial_state!r}"
    for sname in sorted(reach):
        if not m.states[sname].terminal and not any(
            m.states[s].terminal for s in _reachable(m, sname)
        ):
            yield f"{where}, state {sname!r}: no terminal state can be reached from it"
    outcomes = set(m.outcomes())
    for u in m.unlocks:
        if u.outcome != "*" and u.outcome not in outcomes:
            yield (
                f"{where}, unlocks: outcome {u.outcome!r} is not an outcome of the machine "
                f"({', '.join(sorted(outcomes))})"
            )
        for target in u.machines:
            if target not in machine_ids:
                yield f"{where}, unlocks: unknown machine {target!r}"
            elif target == m.id:
                yield f"{where}, unlocks: a machine cannot unlock itself"


def _edges(m: Machine, state: str) -> list[str]:
    st = m.states[state]
    out = [t.to for t in st.transitions if t.to and t.to in m.states]
    if st.on_redirect_limit and st.on_redirect_limit.to in m.states:
        out.append(st.on_redirect_limit.to)
    return out


def _reachable(m: Machine, start: str) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for nxt in _edges(m, todo.pop()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _check_line(where: str, line: str) -> Iterable[str]:
    if not line.strip():
        yield f"{where}: empty line"
    for name in _PLACEHOLDER_RE.findall(line):
        if name not in PLACEHOLDERS:
            yield f"{where}: unknown placeholder {{{name}}} (known: {', '.join(PLACEHOLDERS)})"


# --------------------------------------------------------------------------- lines

_PRONOUNS = {
    "female": {"they": "she", "them": "her", "their": "her", "title": "my lady"},
    "male": {"they": "he", "them": "him", "their": "his", "title": "good sir"},
    "non-binary": {"they": "they", "them": "them", "their": "their", "title": "friend"},
}


def render_line(template: str, *, player_name: str, player_gender: str, npc_name: str = "") -> str:
    """Substitute the known placeholders only (no ``str.format``: no attribute access)."""
    values = {
        "player_name": player_name,
        "player_gender": player_gender,
        "npc_name": npc_name,
        **_PRONOUNS.get(player_gender, _PRONOUNS["non-binary"]),
    }
    return _PLACEHOLDER_RE.sub(lambda mo: values.get(mo.group(1), mo.group(0)), template)


# --------------------------------------------------------------------------- shipped data

DATA_DIR = Path(__file__).with_name("data")


def shipped_personas() -> dict[str, NpcPersona]:
    """Every persona file shipped in the package's ``data/`` folder, by persona id."""
    out: dict[str, NpcPersona] = {}
    for f in sorted(DATA_DIR.iterdir()):
        if f.suffix.lower() in (".json", ".toml"):
            p = load_machine_file(f)
            if p.id in out:
                raise MachineError(f"{f}: persona id {p.id!r} is shipped twice")
            out[p.id] = p
    return out
