"""Checking a turn's actual values against ``expect:`` (dotted keys), and ``{{…}}`` templating."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from .model import Failure

_CMP = re.compile(r"^\s*(==|!=|>=|<=|>|<)?\s*(-?\d+(?:\.\d+)?)\s*$")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "==": operator.eq, "!=": operator.ne, ">=": operator.ge, "<=": operator.le,
    ">": operator.gt, "<": operator.lt,
}  # fmt: skip

NUMERIC = {"score", "score_delta", "redirect_count", "memory.retrieved_count"}
EQUAL = {
    "state", "decision", "outcome", "machine_completed", "follow_up",
    "moderation.inbound_prohibited", "moderation.outbound_filtered", "memory.profile_used",
    "extraction_enqueued", "status", "error.code",
}  # fmt: skip
MISSING = object()


def compare(actual: Any, spec: Any) -> bool:
    """``spec`` is a number (equality) or a string such as ``">=3"``."""
    if actual is None or isinstance(actual, bool) or not isinstance(actual, int | float):
        return False
    if isinstance(spec, int | float) and not isinstance(spec, bool):
        return math.isclose(float(actual), float(spec), abs_tol=1e-9)
    m = _CMP.match(str(spec))
    if not m:
        return False
    op = m.group(1) or "=="
    want = float(m.group(2))
    if op in ("==", "!="):
        same = math.isclose(float(actual), want, abs_tol=1e-9)
        return same if op == "==" else not same
    return _OPS[op](float(actual), want)


def _as_list(v: Any) -> list[str]:
    return [str(x) for x in v] if isinstance(v, list) else [str(v)]


def _short(v: Any, n: int = 120) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)  # the model's 1.0 is the wire's 1
    s = repr(v)
    return s if len(s) <= n else s[: n - 1] + "…"


def check(actual: Mapping[str, Any], expect: Mapping[str, Any], lines: Mapping[str, int] | None = None) -> list[Failure]:
    """Every expectation of ``expect`` that does not hold, as :class:`Failure` (empty: all hold).

    A turn that failed with an HTTP error has ``status``/``error.code`` in ``actual``; unless
    ``expect`` asks for that status, that is a failure of its own.
    """
    lines = lines or {}
    out: list[Failure] = []

    def fail(key: str, want: Any, got: Any, msg: str) -> None:
        out.append(Failure(key, want, got, msg, lines.get(key, 0)))

    status = actual.get("status", 200)
    if "status" not in expect and isinstance(status, int) and status >= 400:
        code = actual.get("error.code")
        fail("status", 200, status,
             f"the request failed: {status} {code or ''} {actual.get('error.message') or ''}".strip())
        return out
    for key, want in expect.items():
        got = actual.get(key, MISSING)
        if key.startswith("reply."):
            reply = actual.get("reply")
            if reply is None:
                fail(key, want, None, "no reply (the request failed)")
                continue
            _check_reply(key, want, str(reply), fail)
            continue
        if key == "unlocked":
            have = actual.get("unlocked")
            if have is None:
                fail(key, want, None, "this target reports no unlocked machines")
                continue
            missing = [m for m in _as_list(want) if m not in have]
            if missing:
                fail(key, want, have, f"unlocked machines lack {', '.join(missing)}")
            continue
        if got is MISSING:
            fail(key, want, None, f"{key} is not reported for this target/turn")
            continue
        if key in NUMERIC:
            if not compare(got, want):
                fail(key, want, got, f"{key}: expected {want}, got {_short(got)}")
            continue
        if got != want and not (isinstance(got, int | float) and isinstance(want, int | float)
                                and not isinstance(got, bool) and not isinstance(want, bool) and got == want):
            fail(key, want, got, f"{key}: expected {_short(want)}, got {_short(got)}")
    return out


def _check_reply(key: str, want: Any, reply: str, fail: Callable[[str, Any, Any, str], None]) -> None:
    kind = key.split(".", 1)[1]
    low = reply.casefold()
    if kind == "contains":
        missing = [w for w in _as_list(want) if w.casefold() not in low]
        if missing:
            fail(key, want, reply, f"reply lacks {', '.join(map(repr, missing))}: {_short(reply)}")
    elif kind == "not_contains":
        found = [w for w in _as_list(want) if w.casefold() in low]
        if found:
            fail(key, want, reply, f"reply contains {', '.join(map(repr, found))}: {_short(reply)}")
    elif kind == "matches":
        try:
            ok = re.search(str(want), reply) is not None
        except re.error as exc:
            fail(key, want, reply, f"bad regular expression {want!r}: {exc}")
            return
        if not ok:
            fail(key, want, reply, f"reply does not match /{want}/: {_short(reply)}")
    elif kind == "max_chars":
        if len(reply) > int(want):
            fail(key, want, len(reply), f"reply has {len(reply)} characters, more than {want}")
    elif kind == "equals":
        if reply.strip() != str(want).strip():
            fail(key, want, reply, f"reply is not {_short(want)}: {_short(reply)}")


# --------------------------------------------------------------------------- templating

_TPL = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
_TURN = re.compile(r"^turn\[(-?\d+)\]\.([A-Za-z_][A-Za-z0-9_.]*)$")


class TemplateError(ValueError):
    pass


def render(text: str, variables: Mapping[str, Any], turns: list[Mapping[str, Any]]) -> str:
    """Fill ``{{var}}`` and ``{{turn[N].field}}`` (N is 1-based over the scenario's ``say``
    steps; negative counts back from the last, so ``turn[-1]`` is the previous turn)."""
    if "{{" not in text:
        return text

    def sub(m: re.Match[str]) -> str:
        expr = m.group(1)
        t = _TURN.match(expr)
        if t:
            n, fld = int(t.group(1)), t.group(2)
            if n == 0 or abs(n) > len(turns) or (n > 0 and n > len(turns)):
                raise TemplateError(f"{{{{{expr}}}}}: there is no turn {n} yet ({len(turns)} so far; turns count from 1)")
            turn = turns[n - 1] if n > 0 else turns[n]
            if fld not in turn:
                raise TemplateError(f"{{{{{expr}}}}}: turn {n} has no {fld!r} (has: {', '.join(sorted(turn))})")
            return str(turn[fld])
        if expr in variables:
            return str(variables[expr])
        raise TemplateError(f"{{{{{expr}}}}}: unknown variable {expr!r} (defined: {', '.join(sorted(variables)) or 'none'})")

    return _TPL.sub(sub, text)


def render_value(value: Any, variables: Mapping[str, Any], turns: list[Mapping[str, Any]]) -> Any:
    if isinstance(value, str):
        return render(value, variables, turns)
    if isinstance(value, list):
        return [render_value(v, variables, turns) for v in value]
    if isinstance(value, dict):
        return {k: render_value(v, variables, turns) for k, v in value.items()}
    return value
