"""Recording a conversation as a scenario (``phantom test record``, the TUI's "save as scenario").

:class:`Recorder` collects steps (``say`` with the turn's actual values, ``reset``) and writes a
``phantom-scenario/1`` document whose expectations are what actually happened, for the author to
trim: NPC state, decision, score, outcome, machine_completed, unlocked; companion moderation
flags; for a refused turn its status and error code; and a short distinctive fragment of every
reply (``reply.contains``). The written text is loaded back with the scenario loader before it is
returned, so it always validates.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .model import Target

_WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
FRAGMENT_WORDS = 4
MAX_FRAGMENT = 60


def fragment(reply: str, avoid: str = "") -> str | None:
    """A short, distinctive run of words of ``reply``: the window of up to four words with the
    most letters, preferring words that are not in ``avoid`` (the player's message, the player's
    name), cut at a clause boundary so it is exactly as the reply says it."""
    text = " ".join(str(reply).split())
    if not text:
        return None
    avoid_words = {w.casefold() for w in _WORD.findall(avoid)}
    best, best_score = None, -1
    clauses = [c.strip() for c in re.split(r"[.!?;:,—–\"“”()]+", text) if c.strip()]
    for clause in clauses:
        words = clause.split()
        for i in range(len(words)):
            window = words[i:i + FRAGMENT_WORDS]
            frag = " ".join(window)
            if len(frag) > MAX_FRAGMENT:
                continue
            score = sum(len(w) for w in window if w.casefold().strip("'’") not in avoid_words)
            if score > best_score:
                best, best_score = frag, score
    if best is None:
        best = text[:MAX_FRAGMENT].strip()
    return best or None


def expect_from(actual: dict[str, Any], kind: str, sent: str = "", avoid: str = "") -> dict[str, Any]:
    """The expectations of one turn (dotted keys, schema-valid) from its actual values."""
    status = actual.get("status", 200)
    if isinstance(status, int) and status >= 400:
        exp: dict[str, Any] = {"status": status}
        if actual.get("error.code"):
            exp["error.code"] = actual["error.code"]
        return exp
    exp = {}
    if kind == "npc":
        for key in ("state", "decision"):
            if actual.get(key) is not None:
                exp[key] = actual[key]
        if isinstance(actual.get("score"), int | float) and not isinstance(actual.get("score"), bool):
            s = actual["score"]
            exp["score"] = int(s) if float(s).is_integer() else s
        if actual.get("outcome") is not None or actual.get("machine_completed"):
            exp["outcome"] = actual.get("outcome")
            exp["machine_completed"] = bool(actual.get("machine_completed"))
        if actual.get("unlocked"):
            exp["unlocked"] = list(actual["unlocked"])
    elif kind == "persona":
        for key in ("moderation.inbound_prohibited", "moderation.outbound_filtered"):
            if isinstance(actual.get(key), bool):
                exp[key] = actual[key]
    reply = actual.get("reply")
    if isinstance(reply, str):
        frag = fragment(reply, f"{sent} {avoid}")
        if frag:
            exp["reply.contains"] = frag
    return exp


def _nest(exp: dict[str, Any]) -> dict[str, Any]:
    """Dotted keys → the nested form (``reply: {contains: …}``), easier to read and trim."""
    out: dict[str, Any] = {}
    for k, v in exp.items():
        head, _, sub = k.partition(".")
        if sub:
            out.setdefault(head, {})[sub] = v
        else:
            out[k] = v
    return out


def dump_yaml(doc: dict[str, Any]) -> str:
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper: Any, data: str) -> Any:
        style = "|" if "\n" in data else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)

    _Dumper.add_representer(str, _str)
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100,
                     default_flow_style=None)


class Recorder:
    """Steps of one recorded scenario. ``target`` is a :class:`Target` (npc / persona /
    activity); ``persona_ref`` is how the written scenario names a persona: a file path
    (written relative to the scenario file) or None for the inline persona."""

    def __init__(self, target: Target, name: str = "recorded conversation", persona_ref: str | None = None) -> None:
        self.target, self.name, self.persona_ref = target, name, persona_ref
        self.steps: list[dict[str, Any]] = []

    def say(self, text: str, actual: dict[str, Any] | None) -> None:
        """A turn; ``actual`` None: a line replayed without expectations (earlier history)."""
        exp = expect_from(actual, self.target.kind, text, self.target.player_name or "") if actual else {}
        step: dict[str, Any] = {"say": text}
        if exp:
            step["expect"] = _nest(exp)
        self.steps.append(step)

    def reset(self) -> None:
        self.steps.append({"reset": True})

    @property
    def turns(self) -> int:
        return sum(1 for s in self.steps if "say" in s)

    @property
    def empty(self) -> bool:
        return not self.steps

    def document(self, out_path: str | Path | None = None) -> dict[str, Any]:
        t = self.target
        sc: dict[str, Any] = {"name": self.name}
        if t.kind == "npc":
            sc["npc"] = t.id
            if t.machine:
                sc["machine"] = t.machine
            if t.player_name:
                player: dict[str, Any] = {"name": t.player_name}
                if t.player_gender:
                    player["gender"] = t.player_gender
                sc["player"] = player
        elif t.kind == "activity":
            sc["activity"] = t.id
        else:
            if self.persona_ref:
                ref = Path(self.persona_ref)
                if out_path is not None:
                    import os

                    ref = Path(os.path.relpath(ref.resolve(), Path(out_path).resolve().parent))
                sc["persona"] = ref.as_posix()
            else:
                sc["persona"] = dict(t.persona or {})
        sc["steps"] = list(self.steps) or [{"say": "Hello."}]
        return {"format": "phantom-scenario/1", "scenarios": [sc]}

    def text(self, out_path: str | Path | None = None) -> str:
        """The scenario file's text; validated by loading it back (raises ScenarioFileError)."""
        from .load import load_text

        body = dump_yaml(self.document(out_path))
        head = ("# Recorded with phantom (phantom-scenario/1): every expectation is what happened;\n"
                "# trim what should be free to change. Run: phantom test THIS_FILE\n")
        text = head + body
        base = Path(out_path).resolve().parent if out_path is not None else Path.cwd()
        load_text(text, "yaml", str(out_path or "<recorded>"), base)
        return text

    def write(self, out_path: str | Path) -> Path:
        from .report import write_file

        p = Path(out_path)
        write_file(p, self.text(p).encode("utf-8"))
        return p


def turn_summary(kind: str, actual: dict[str, Any]) -> str:
    """One line of what the turn's state is (shown after each reply while recording)."""
    status = actual.get("status", 200)
    if isinstance(status, int) and status >= 400:
        return f"[{status} {actual.get('error.code') or ''}] {actual.get('error.message') or ''}".strip()
    if kind == "npc":
        parts = [f"state={actual.get('state')}", f"decision={actual.get('decision')}",
                 f"score={actual.get('score')}"]
        if actual.get("outcome"):
            parts.append(f"outcome={actual['outcome']}")
        if actual.get("unlocked"):
            parts.append("unlocked=" + ",".join(map(str, actual["unlocked"])))
        return "[" + " ".join(parts) + "]"
    if kind == "persona":
        flags = [k.split(".", 1)[1] for k in ("moderation.inbound_prohibited", "moderation.outbound_filtered")
                 if actual.get(k)]
        mem = actual.get("memory.retrieved_count")
        return "[" + " ".join(([f"moderation={','.join(flags)}"] if flags else [])
                              + ([f"memories={mem}"] if mem is not None else [])) + "]"
    return ""
