"""Text from a server or a model, made safe to show — one definition for the CLI, the TUI and the
client. Standard library only (the CLI imports it on its start-up path).

``UNSAFE`` is the one set of characters that must never reach a terminal as they are:

- C0 controls ``U+0000–U+001F`` (ESC starts every escape sequence; ``\\n`` and ``\\t`` are
  kept by callers that show multi-line text),
- DEL ``U+007F`` and the C1 controls ``U+0080–U+009F`` (8-bit CSI ``\\x9b``, OSC ``\\x9d`` …),
- the bidirectional overrides and isolates ``U+202A–U+202E``, ``U+2066–U+2069`` (they reorder
  what a person sees).

Each user renders them its own way: the CLI as escapes (:func:`visible`, ``\\x1b``), the TUI as
visible control pictures (``tui/sanitize.py``, ``␛``), JSON views as ``\\uXXXX``
(:func:`json_safe`), error excerpts drop them (``client/_common.excerpt``, which also drops the
zero-width characters ``ZERO_WIDTH``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

C0 = "\x00-\x1f"
DEL_C1 = "\x7f-\x9f"
BIDI = "\u202a-\u202e\u2066-\u2069"
ZERO_WIDTH = "\u200b-\u200f"  # zero-width space/joiners and LRM/RLM (dropped from excerpts only)

UNSAFE_RANGES: tuple[tuple[int, int], ...] = (
    (0x00, 0x1F),
    (0x7F, 0x9F),
    (0x202A, 0x202E),
    (0x2066, 0x2069),
)
UNSAFE: frozenset[str] = frozenset(
    chr(c) for lo, hi in UNSAFE_RANGES for c in range(lo, hi + 1)
)
_CLASS = C0 + DEL_C1 + BIDI
UNSAFE_RE = re.compile(f"[{_CLASS}]")
# what json.dumps leaves as it is (it escapes C0 itself)
_BEYOND_JSON_RE = re.compile(f"[{DEL_C1}{BIDI}]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def unsafe_re(keep: str = "", extra: str = "") -> re.Pattern[str]:
    """A pattern matching one unsafe character, except those in ``keep`` (e.g. ``"\\n\\t"``),
    plus the character-class ranges in ``extra`` (e.g. :data:`ZERO_WIDTH`)."""
    cls = _CLASS + extra
    if not keep:
        return re.compile(f"[{cls}]")
    kept = "".join(re.escape(k) for k in keep)
    return re.compile(f"(?![{kept}])[{cls}]")


def escape_char(ch: str) -> str:
    """``\\n``, ``\\t``, ``\\r`` by name; other characters as ``\\xNN`` / ``\\uNNNN``."""
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_KEEP_LINES_RE = unsafe_re(keep="\n\t")


def visible(text: Any, keep_newlines: bool = False) -> str:
    """``text`` with every unsafe character shown as an escape (``\\x1b``, ``\\n`` …).

    The result is inert at a terminal and still says exactly what the server sent.
    ``keep_newlines`` keeps ``\\n`` and ``\\t`` as they are (streamed replies, detail views).
    """
    if text is None:
        return ""
    s = text if isinstance(text, str) else str(text)
    pattern = _KEEP_LINES_RE if keep_newlines else UNSAFE_RE
    return pattern.sub(lambda m: escape_char(m.group(0)), s)


def json_safe(text: str) -> str:
    """JSON text (from ``json.dumps``) with the unsafe characters json leaves raw (DEL, C1,
    bidi) written as ``\\uXXXX``: still valid JSON, inert at a terminal."""
    return _BEYOND_JSON_RE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def humanize_time(value: Any, now: datetime | None = None, compact: bool = False) -> str:
    """``"3 minutes ago"``-style text for an ISO-8601 timestamp; the text itself when unparsable.

    ``compact`` (a narrow table column): ``"3m ago"``, ``"5h ago"``, ``"now"``, ``"2025-10"``.
    """
    if not value:
        return ""
    if isinstance(value, datetime):
        value = value.isoformat()
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return visible(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    seconds = (now - when).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for limit, size, unit in (
        (60, 1, "second"),
        (3600, 60, "minute"),
        (86400, 3600, "hour"),
        (86400 * 30, 86400, "day"),
    ):
        if seconds < limit:
            if unit == "second" and seconds < 10:
                return "now" if compact else "just now"
            n = int(seconds // size)
            label = f"{n}{unit[0]}" if compact else f"{n} {unit}{'s' if n != 1 else ''}"
            return f"in {label}" if future else f"{label} ago"
    return when.strftime("%Y-%m" if compact else "%Y-%m-%d")
