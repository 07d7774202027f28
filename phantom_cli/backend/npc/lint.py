"""Tools for machine authors: ``lint`` (findings naming file, machine and state) and ``graph``
(Mermaid or Graphviz DOT). Used by ``phantom npc lint`` / ``phantom npc graph``.

The lint reads a file leniently (structure validated, cross-reference checks reported as findings
rather than raised) so one run lists every problem. Findings:

- ``unreachable``: a state no path from the initial state reaches (or a locked machine that no
  unlock rule opens);
- ``dead-end``: a non-terminal state with no way out (no transition to another state and no
  ``on_redirect_limit``), or from which no terminal state can be reached;
- ``shadowed``: a transition that can never fire because an earlier one in the same state matches
  everything it matches (a catch-all, identical or superset keyword/intent sets, with ``all``,
  ``none`` and ``patterns`` taken into account conservatively: only proven shadows are reported);
- ``redirect-limit``: a non-terminal state without ``on_redirect_limit`` (the player can be
  redirected forever);
- ``placeholder``: a ``{name}`` in a line that is never filled (not one of ``PLACEHOLDERS``), or
  doubled braces ``{{name}}``;
- ``invalid``: any other check of the loader that fails (unknown state, missing lines, …).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .machine import (
    PLACEHOLDERS,
    Machine,
    MachineError,
    NpcPersona,
    State,
    Transition,
    When,
    _fill_transition_ids,
    _loc,
    check_persona,
)

KINDS = ("unreachable", "dead-end", "shadowed", "redirect-limit", "placeholder", "invalid")


@dataclass(frozen=True)
class Finding:
    file: str
    machine: str | None
    state: str | None
    kind: str
    message: str

    def line(self) -> str:
        where = self.file
        if self.machine:
            where += f": machine {self.machine}"
        if self.state:
            where += f", state {self.state}"
        return f"{where}: {self.kind}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "machine": self.machine, "state": self.state, "kind": self.kind,
                "message": self.message}


# --------------------------------------------------------------------------- loading


def load_lenient(path: str | Path) -> NpcPersona:
    """Parse and validate the structure of a machine file; cross-reference checks are left to
    :func:`lint`. Raises :class:`MachineError` for a file that cannot be read or parsed."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise MachineError(f"{p}: cannot read the file ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text) if p.suffix.lower() == ".toml" else json.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        what = "TOML" if p.suffix.lower() == ".toml" else "JSON"
        raise MachineError(f"{p}: not valid {what} ({exc})") from None
    if not isinstance(data, dict):
        raise MachineError(f"{p}: the document must be an object with persona and machines")
    from pydantic import ValidationError

    data = _fill_transition_ids(data)
    try:
        return NpcPersona.model_validate(data)
    except ValidationError as exc:
        problems = [f"{_loc(data, e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise MachineError(f"{p}: " + "; ".join(problems)) from None


# --------------------------------------------------------------------------- graph helpers


def edges(m: Machine, state: str) -> list[tuple[str, str, str]]:
    """``(transition id, decision, to)`` leaving ``state``; ``on_redirect_limit`` included."""
    st = m.states[state]
    out = [(t.id, t.decision, t.to or state) for t in st.transitions]
    if st.on_redirect_limit is not None:
        out.append(("on_redirect_limit", st.on_redirect_limit.decision, st.on_redirect_limit.to))
    return out


def reachable(m: Machine, start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for _tid, _d, to in edges(m, todo.pop()):
            if to in m.states and to not in seen:
                seen.add(to)
                todo.append(to)
    return seen


# --------------------------------------------------------------------------- shadowing

_Word = tuple[tuple[str, ...], bool]  # (tokens, last token is a prefix)


def _word(w: str) -> _Word:
    s = w.strip().lower()
    prefix = s.endswith("*")
    return tuple(s.rstrip("*").split()), prefix


def _covers(k: _Word, w: _Word) -> bool:
    """True when every text in which ``w`` occurs (as the rules match it) contains ``k``: ``k``'s
    tokens are a run of ``w``'s tokens; a prefix ``k`` ("trade*") covers any word starting with it."""
    kt, kp = k
    wt, wp = w
    if not kt or len(kt) > len(wt):
        return False
    for start in range(len(wt) - len(kt) + 1):
        ok = True
        for i, tok in enumerate(kt):
            j = start + i
            last_k = i == len(kt) - 1
            wtok = wt[j]
            w_is_prefix = wp and j == len(wt) - 1
            if last_k and kp:
                if not wtok.startswith(tok):
                    ok = False
                    break
            elif tok != wtok or w_is_prefix:
                ok = False
                break
        if ok:
            return True
    return False


def _any_words(when: When, intents: dict[str, Sequence[str]]) -> list[_Word]:
    words = list(when.keywords)
    for name in when.intents:
        words.extend(intents.get(name, ()))
    return [_word(w) for w in words if w.strip()]


def shadows(earlier: Transition, later: Transition, intents: dict[str, Sequence[str]]) -> str | None:
    """Why ``earlier`` matches every message ``later`` matches (so ``later`` never fires), or None.
    Conservative: returns a reason only when it is proven for the rule forms of machine.py."""
    if earlier.when is None:
        return f"'{earlier.id}' has no 'when' (a catch-all) and comes first"
    if later.when is None:
        return None
    e, lt = earlier.when, later.when
    e_any, l_any = _any_words(e, intents), _any_words(lt, intents)
    if e_any:
        if not l_any or not all(any(_covers(k, w) for k in e_any) for w in l_any):
            return None
    e_all, l_all = [_word(w) for w in e.all], [_word(w) for w in lt.all]
    if not all(any(_covers(a, w) for w in l_all) for a in e_all):
        return None
    e_none, l_none = [_word(w) for w in e.none], [_word(w) for w in lt.none]
    if not all(any(_covers(k, n) for k in l_none) for n in e_none):
        return None
    if e.patterns and not (lt.patterns and set(lt.patterns) <= set(e.patterns)):
        return None
    same = (sorted(map(str, e_any)) == sorted(map(str, l_any)) and e_all == l_all and e_none == l_none
            and set(e.patterns) == set(lt.patterns))
    how = "the same rule" if same else "a rule that matches everything it matches"
    return f"'{earlier.id}' comes first with {how}"


# --------------------------------------------------------------------------- placeholders

_BRACES = re.compile(r"\{+([^{}]*)\}+")


def _placeholder_problems(line: str) -> list[str]:
    out = []
    for mo in _BRACES.finditer(line):
        whole, inner = mo.group(0), mo.group(1).strip()
        if whole.startswith("{{"):
            out.append(f"{whole} has doubled braces: it is shown as {{{inner}}}, not filled")
        elif inner not in PLACEHOLDERS:
            out.append(f"{whole} is never filled (known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)})")
    return out


def _lines_of(m: Machine) -> Iterable[tuple[str | None, str, str]]:
    """(state, where, line) for every authored line of the machine."""
    for line in m.opening:
        yield None, "opening", line
    for sname, st in m.states.items():
        for line in st.redirect_lines:
            yield sname, "redirect_lines", line
        if st.on_redirect_limit:
            for line in st.on_redirect_limit.lines:
                yield sname, "on_redirect_limit", line
        for t in st.transitions:
            for line in t.lines:
                yield sname, f"transition '{t.id}'", line


# --------------------------------------------------------------------------- lint

# loader checks that the lint reports in its own words (skipped from the "invalid" findings)
_OWN = ("unreachable", "no terminal state", "unknown placeholder", "matches everything and must be last",
        "a non-terminal state needs transitions")
_WHERE = re.compile(r"machine '([^']+)'(?:, (?:terminal )?state '([^']+)')?")


def lint(persona: NpcPersona, file: str) -> list[Finding]:
    out: list[Finding] = []
    for msg in check_persona(persona):
        if any(s in msg for s in _OWN):
            continue
        mo = _WHERE.search(msg)
        out.append(Finding(file, mo.group(1) if mo else None, mo.group(2) if mo else None, "invalid", msg))
    unlocked = {t for m in persona.machines for u in m.unlocks for t in u.machines}
    for m in persona.machines:
        out.extend(_lint_machine(persona, m, file, unlocked))
    return out


def _lint_machine(p: NpcPersona, m: Machine, file: str, unlocked: set[str]) -> list[Finding]:
    out: list[Finding] = []

    def add(state: str | None, kind: str, msg: str) -> None:
        out.append(Finding(file, m.id, state, kind, msg))

    if m.locked and m.id not in unlocked:
        add(None, "unreachable", "the machine is locked and no unlock rule of this persona opens it")
    if m.initial_state in m.states:
        reach = reachable(m, m.initial_state)
        for sname in m.states:
            if sname not in reach:
                add(sname, "unreachable", f"no path from the initial state '{m.initial_state}' reaches it")
        for sname in m.states:
            st = m.states[sname]
            if st.terminal:
                continue
            leaves = [to for _tid, _d, to in edges(m, sname) if to != sname]
            if not leaves:
                add(sname, "dead-end", "a non-terminal state with no way out (no transition to another "
                    "state, no on_redirect_limit)")
            elif sname in reach and not any(m.states[s].terminal for s in reachable(m, sname) if s in m.states):
                add(sname, "dead-end", "no terminal state can be reached from it")
    for sname, st in m.states.items():
        if st.terminal:
            continue
        _lint_state(p, m, sname, st, add)
    for sname, where, line in _lines_of(m):
        for problem in _placeholder_problems(line):
            add(sname, "placeholder", f"{where}: {problem}")
    return out


def _lint_state(p: NpcPersona, m: Machine, sname: str, st: State, add: Any) -> None:
    if st.on_redirect_limit is None:
        add(sname, "redirect-limit", f"no on_redirect_limit: after {st.redirect_limit} redirects the "
            "player is redirected forever (add on_redirect_limit with decision and to)")
    elif st.on_redirect_limit.to == sname:
        add(sname, "redirect-limit", "on_redirect_limit goes back to the same state: the player is "
            "redirected forever")
    intents = {k: tuple(v) for k, v in p.intents.items()}
    ts = st.transitions
    for j, later in enumerate(ts):
        for earlier in ts[:j]:
            why = shadows(earlier, later, intents)
            if why:
                add(sname, "shadowed", f"transition '{later.id}' can never fire: {why}")
                break


# --------------------------------------------------------------------------- graph


def _label(t_id: str, decision: str, score: float | None, scoring: bool) -> str:
    s = f"{t_id} ({decision}"
    if scoring and score:
        s += f", {score:+g}"
    return s + ")"


def _machines(p: NpcPersona, machine: str | None) -> list[Machine]:
    if machine is None:
        return list(p.machines)
    m = p.machine(machine)
    if m is None:
        raise MachineError(f"no machine {machine!r} (known: {', '.join(x.id for x in p.machines)})")
    return [m]


def _mm(text: str) -> str:
    """Mermaid label text: no characters that end a label or open markup."""
    return re.sub(r"[:;#<>\"`{}|\n]", " ", text).strip()


def mermaid(p: NpcPersona, machine: str | None = None) -> str:
    lines = ["stateDiagram-v2"]
    for m in _machines(p, machine):
        scoring = m.scoring_mode == "scoring"
        pre = f"{m.id}__" if machine is None and len(p.machines) > 1 else ""
        ind = "    "
        if pre:
            lines.append(f"    state \"{_mm(m.title or m.id)} ({m.id})\" as {m.id} {{")
            ind = "        "
        lines.append(f"{ind}[*] --> {pre}{m.initial_state}")
        for sname, st in m.states.items():
            if st.terminal:
                lines.append(f"{ind}{pre}{sname} : {_mm(sname)} — outcome {_mm(st.outcome or '')}")
                lines.append(f"{ind}{pre}{sname} --> [*]")
                continue
            for t in st.transitions:
                lines.append(f"{ind}{pre}{sname} --> {pre}{t.to or sname} : "
                             f"{_mm(_label(t.id, t.decision, t.score, scoring))}")
            r = st.on_redirect_limit
            if r is not None:
                lines.append(f"{ind}{pre}{sname} --> {pre}{r.to} : "
                             f"{_mm(f'redirect limit {st.redirect_limit} exceeded ({r.decision})')}")
        if pre:
            for sname in m.states:
                if not m.states[sname].terminal:
                    lines.append(f"{ind}{pre}{sname} : {_mm(sname)}")
            lines.append("    }")
        for u in m.unlocks:
            for target in u.machines:
                lines.append(f"    %% unlock: machine {m.id}, outcome {_mm(u.outcome)} opens machine {target}")
    return "\n".join(lines) + "\n"


def _dq(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def dot(p: NpcPersona, machine: str | None = None) -> str:
    lines = [f"digraph {_dq(p.id)} {{", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    ms = _machines(p, machine)
    for m in ms:
        scoring = m.scoring_mode == "scoring"
        lines.append(f"  subgraph {_dq('cluster_' + m.id)} {{")
        lines.append(f"    label={_dq(f'{m.title or m.id} ({m.id})')};")
        start = f"{m.id}.__start"
        lines.append(f"    {_dq(start)} [shape=point, label=\"\"];")
        lines.append(f"    {_dq(start)} -> {_dq(m.id + '.' + m.initial_state)};")
        for sname, st in m.states.items():
            node = _dq(f"{m.id}.{sname}")
            if st.terminal:
                lines.append(f"    {node} [label={_dq(f'{sname} ({st.outcome})')}, shape=doublecircle];")
                continue
            lines.append(f"    {node} [label={_dq(sname)}];")
            for t in st.transitions:
                style = {"pass": "solid", "fail": "bold", "redirect": "dashed"}[t.decision]
                lines.append(f"    {node} -> {_dq(f'{m.id}.{t.to or sname}')} "
                             f"[label={_dq(_label(t.id, t.decision, t.score, scoring))}, style={style}];")
            r = st.on_redirect_limit
            if r is not None:
                lines.append(f"    {node} -> {_dq(f'{m.id}.{r.to}')} "
                             f"[label={_dq(f'redirect limit {st.redirect_limit} exceeded ({r.decision})')}, "
                             "style=dotted];")
        lines.append("  }")
    ids = {m.id for m in ms}
    for m in ms:
        for u in m.unlocks:
            for target in u.machines:
                if target in ids:
                    tm = p.machine(target)
                    dst = f"{target}.{tm.initial_state}" if tm else target
                    for sname, st in m.states.items():
                        if st.terminal and (u.outcome in ("*", st.outcome)):
                            lines.append(f"  {_dq(f'{m.id}.{sname}')} -> {_dq(dst)} "
                                         f"[label={_dq('unlocks ' + target)}, style=dashed, color=gray];")
    lines.append("}")
    return "\n".join(lines) + "\n"
