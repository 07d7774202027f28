"""SillyTavern's prompt macros (``{{char}}``, ``{{user}}``, ``{{random:a,b}}``, …), in one place.

Card text (system prompt, description, personality, scenario, examples, greetings, lore entries,
post-history instructions) goes through :func:`substitute` before it reaches a prompt. Semantics
follow SillyTavern's ``public/scripts/macros.js`` (``evaluateMacros``):

- names are case-insensitive; an unknown macro is left as written;
- pre-environment: ``{{newline}}`` -> ``"\\n"``; ``{{trim}}`` removes itself and the newlines
  around it;
- environment: ``{{char}}``, ``{{user}}``, ``{{persona}}`` (the user's persona description),
  ``{{description}}``, ``{{personality}}``, ``{{scenario}}``, ``{{mesExamples}}``,
  ``{{original}}`` (the prompt the card's text overrides: the first occurrence only, later ones
  become empty);
- post-environment: ``{{time}}`` (``3:45 PM``), ``{{date}}`` (``December 3, 2026``),
  ``{{random:a,b}}`` / ``{{random::a::b}}`` (a new choice each time), ``{{pick:a,b}}`` /
  ``{{pick::a::b}}`` (stable: seeded by the chat id, the raw text and the macro's offset, so the
  same chat keeps its pick), ``{{roll:d6}}`` / ``{{roll 2d6+1}}`` (a digits-only formula means
  ``1dN``; an invalid one gives ``''``), ``{{// comment}}`` -> ``''``.

With a comma as separator, items are trimmed and ``\\,`` is a literal comma (SillyTavern).
``random`` and ``roll`` draw from :attr:`MacroEnv.rng` (seed it for tests).
"""

from __future__ import annotations

import hashlib
import random as _random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

_ENV_NAMES = {
    "char": "char",
    "user": "user",
    "persona": "persona",
    "description": "description",
    "personality": "personality",
    "scenario": "scenario",
    "mesexamples": "mes_examples",
}


@dataclass
class MacroEnv:
    """What the macros of one prompt expand to."""

    char: str = ""
    user: str = "User"
    persona: str = ""
    description: str = ""
    personality: str = ""
    scenario: str = ""
    mes_examples: str = ""
    chat_id: str = ""
    now: datetime | None = None
    rng: _random.Random = field(default_factory=_random.Random)


_NEWLINE = re.compile(r"\{\{newline\}\}", re.IGNORECASE)
_TRIM = re.compile(r"(?:\r?\n)*\{\{trim\}\}(?:\r?\n)*", re.IGNORECASE)
_ENV = re.compile(r"\{\{(char|user|persona|description|personality|scenario|mesExamples)\}\}",
                  re.IGNORECASE)
_ORIGINAL = re.compile(r"\{\{original\}\}", re.IGNORECASE)
_TIME = re.compile(r"\{\{time\}\}", re.IGNORECASE)
_DATE = re.compile(r"\{\{date\}\}", re.IGNORECASE)
_RANDOM = re.compile(r"\{\{random\s?::?([^}]+)\}\}", re.IGNORECASE)
_PICK = re.compile(r"\{\{pick\s?::?([^}]+)\}\}", re.IGNORECASE)
_ROLL = re.compile(r"\{\{roll[ :]([^}]+)\}\}", re.IGNORECASE)
_COMMENT = re.compile(r"\{\{//[\s\S]*?\}\}")
_DICE = re.compile(r"^\s*(\d*)d(\d+)\s*([+-]\s*\d+)?\s*$", re.IGNORECASE)
_COMMA = "\x00COMMA\x00"
MAX_DICE = 1000  # dice of one roll, and sides of one die, are capped (SillyTavern's droll has none)


def split_list(text: str) -> list[str]:
    """A macro's list argument: ``a::b`` as is, else ``a, b`` trimmed with ``\\,`` kept."""
    if "::" in text:
        return text.split("::")
    return [item.strip().replace(_COMMA, ",") for item in text.replace("\\,", _COMMA).split(",")]


def roll(formula: str, rng: _random.Random) -> str:
    """A dice formula (``d6``, ``2d6+1``, ``6``) -> the total as text; ``''`` when invalid."""
    formula = formula.strip()
    if formula.isdigit():
        formula = "1d" + formula
    m = _DICE.match(formula)
    if not m:
        return ""
    count = int(m.group(1) or 1)
    sides = int(m.group(2))
    if not (1 <= count <= MAX_DICE and 1 <= sides <= MAX_DICE * 1000):
        return ""
    total = sum(rng.randint(1, sides) for _ in range(count))
    if m.group(3):
        total += int(m.group(3).replace(" ", ""))
    return str(total)


def _stable_index(seed: str, n: int) -> int:
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return _random.Random(int.from_bytes(digest[:8], "big")).randrange(n)


def format_time(now: datetime) -> str:
    """moment's ``LT`` (``3:45 PM``)."""
    return f"{now.hour % 12 or 12}:{now.minute:02d} {'AM' if now.hour < 12 else 'PM'}"


def format_date(now: datetime) -> str:
    """moment's ``LL`` (``December 3, 2026``)."""
    return f"{now.strftime('%B')} {now.day}, {now.year}"


def substitute(text: str | None, env: MacroEnv, *, original: str = "") -> str:
    """``text`` with every known macro expanded (see the module docstring)."""
    if not text:
        return ""
    if "{{" not in text:
        return text
    raw = text
    out = _NEWLINE.sub("\n", text)
    out = _TRIM.sub("", out)
    out = _ENV.sub(lambda m: str(getattr(env, _ENV_NAMES[m.group(1).lower()]) or ""), out)
    used = [False]

    def _orig(_m: re.Match[str]) -> str:
        if used[0]:
            return ""
        used[0] = True
        return original

    out = _ORIGINAL.sub(_orig, out)
    now = env.now or datetime.now()
    out = _TIME.sub(lambda _m: format_time(now), out)
    out = _DATE.sub(lambda _m: format_date(now), out)

    def _rand(m: re.Match[str]) -> str:
        items = split_list(m.group(1))
        return items[env.rng.randrange(len(items))] if items else ""

    out = _RANDOM.sub(_rand, out)
    raw_hash = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]

    def _pick(m: re.Match[str]) -> str:
        items = split_list(m.group(1))
        if not items:
            return ""
        return items[_stable_index(f"{env.chat_id}-{raw_hash}-{m.start()}", len(items))]

    out = _PICK.sub(_pick, out)
    out = _ROLL.sub(lambda m: roll(m.group(1), env.rng), out)
    out = _COMMENT.sub("", out)
    return out


def substituter(env: MacroEnv) -> Callable[[str | None], str]:
    """``substitute`` bound to ``env`` (for mapping over card fields)."""
    return lambda text: substitute(text, env)
