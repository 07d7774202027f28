""""Save this conversation as a scenario": the chat screen's tape of turns → a phantom-scenario/1
file, the same as ``phantom test record`` writes (``phantom_cli.scenarios.record.Recorder``).

The tape holds the user's lines loaded from history (replayed without expectations, so a run
reaches the same state) and every turn played on this screen with its actual values (state,
decision, score, outcome, unlocks, moderation flags, a reply fragment; a refused turn's status and
error code). Retry / edit replace the last turn; a reset is a ``reset: true`` step.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any


def _actual(event: Any) -> dict[str, Any]:
    from phantom_cli.scenarios.drive import _response_actual

    resp = getattr(event, "response", None)
    actual: dict[str, Any] = {"status": 200}
    if resp is not None:
        try:
            actual = _response_actual(resp)
        except (TypeError, ValueError):
            pass
    actual["reply"] = getattr(event, "reply", actual.get("reply"))
    return actual


def error_actual(exc: BaseException) -> dict[str, Any] | None:
    """A refused turn as actual values (None: not an answer of the server, e.g. a dropped link)."""
    status = getattr(exc, "status", None) or getattr(exc, "status_code", None)
    if not isinstance(status, int) or status < 400:
        return None
    return {"status": status, "error.code": getattr(exc, "code", None)}


class ScenarioTape:
    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []

    @property
    def turns(self) -> int:
        return sum(1 for s in self.steps if s["kind"] == "say" and s.get("actual") is not None)

    def history(self, turns: list[Any]) -> None:
        """The conversation as opened: its user lines, without expectations."""
        self.steps = [{"kind": "say", "text": t.content, "actual": None}
                      for t in turns if getattr(t, "role", None) == "user" and getattr(t, "content", "")]

    def played(self, text: str | None, actual: dict[str, Any]) -> None:
        """A turn answered on screen; ``text`` None: a retry / edit of the last turn."""
        if text is None:
            for step in reversed(self.steps):
                if step["kind"] == "say":
                    step["actual"] = actual
                    return
            return
        self.steps.append({"kind": "say", "text": text, "actual": actual})

    def edited(self, text: str) -> None:
        for step in reversed(self.steps):
            if step["kind"] == "say":
                step["text"] = text
                return

    def reset(self) -> None:
        self.steps.append({"kind": "reset"})


def target_of(conv: Any, ctx: Any) -> tuple[Any, str | None] | None:
    """``(Target, persona file or None)`` of a conversation; None when it cannot be a scenario."""
    from phantom_cli.scenarios.model import Target

    if hasattr(conv, "persona_id"):
        return Target(kind="npc", id=str(conv.persona_id), machine=getattr(conv, "machine_id", None),
                      player_name=getattr(ctx, "player_name", None) or None,
                      player_gender=getattr(ctx, "player_gender", None) or "non-binary"), None
    if getattr(conv, "kind", None) == "companion":
        persona = conv.persona
        data = persona.model_dump(exclude_none=True) if hasattr(persona, "model_dump") else dict(persona)
        source = getattr(conv, "source", None)
        ref = source if source and Path(str(source)).is_file() else None
        return Target(kind="persona", id=str(data.get("name", "persona")), persona=data), ref
    inst = getattr(conv, "instance", None)
    activity = getattr(inst, "activity_id", None) if inst is not None else None
    if activity:
        return Target(kind="activity", id=str(activity)), None
    return None


def default_path(conv: Any) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", str(getattr(conv, "title", "") or "conversation")).strip("_").lower()
    return f"{slug or 'conversation'}.scenario.yaml"


def write(tape: ScenarioTape, conv: Any, ctx: Any, path: str) -> Path:
    """Write the tape as a scenario file (validated before it is written). Raises ValueError for
    a conversation that cannot be a scenario, OSError / ScenarioFileError when writing fails."""
    from phantom_cli.scenarios.record import Recorder

    found = target_of(conv, ctx)
    if found is None:
        raise ValueError("this conversation has no activity, NPC or persona a scenario can name")
    target, ref = found
    title = str(getattr(conv, "title", "") or target.label())
    rec = Recorder(target, f"{title} (saved from the TUI)", ref)
    for step in tape.steps:
        if step["kind"] == "reset":
            rec.reset()
        else:
            rec.say(step["text"], step["actual"])
    return rec.write(Path(path).expanduser())
