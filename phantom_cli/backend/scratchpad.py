"""The memory scratchpad (seed 002): store, versioned writes, fact updates, condensing.

One scratchpad per user + companion (``type="companion"``, keyed by ``companion_id``) or per
conversation (``type="conversation"``, keyed by ``conversation_id``). It is created empty
(version 0) on first read. Every write — a user's ``PUT`` or the extraction job's
:func:`update_scratchpad_facts` — bumps ``version`` by one with a compare-and-set, so a write
based on a stale version is refused (409 with the current content) and nothing is lost.

``condense(content, max_words, hint)`` returns a copy within the word budget that keeps the
lines most relevant to the hint (word overlap + the built-in embedder); the stored copy is not
changed.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .db import Migration, new_id, now, transaction
from .memory.embedder import content_words, default_embedder

SCRATCHPAD_V1 = """
CREATE TABLE scratchpads (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    key TEXT NOT NULL,
    content TEXT NOT NULL DEFAULT '',
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (user_id, type, key)
);
"""

MIGRATIONS = (Migration("scratchpad", 1, "scratchpads", SCRATCHPAD_V1),)

MAX_CONTENT = 64000  # mirrors phantom_cli.client.models.MAX_SCRATCHPAD


class VersionConflict(Exception):
    """A write based on ``expected`` found ``current`` stored; nothing was written."""

    def __init__(self, current: Scratchpad, expected: int) -> None:
        super().__init__(f"version: expected {expected}, current is {current.version}")
        self.current = current
        self.expected = expected


@dataclass(slots=True)
class Scratchpad:
    id: str
    type: str
    key: str
    content: str
    version: int
    updated_at: str

    def wire(self) -> dict[str, Any]:
        return {"id": self.id, "content": self.content, "version": self.version, "type": self.type,
                "updated_at": self.updated_at}


def companion_key(name: str) -> str:
    """The companion_id the extraction job uses for a persona name: a slug (``Mira Vale`` → ``mira-vale``)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:128] or "companion"


def _target(type_: str, companion_id: str | None, conversation_id: str | None) -> str:
    if type_ == "companion":
        if not companion_id:
            raise ValueError('companion_id: required when type is "companion"')
        return companion_id
    if type_ == "conversation":
        if not conversation_id:
            raise ValueError('conversation_id: required when type is "conversation"')
        return conversation_id
    raise ValueError(f"type: must be companion or conversation, got {type_!r}")


def _row(conn: sqlite3.Connection, user_id: str, type_: str, key: str) -> Scratchpad | None:
    r = conn.execute(
        "SELECT id, type, key, content, version, updated_at FROM scratchpads"
        " WHERE user_id = ? AND type = ? AND key = ?",
        (user_id, type_, key),
    ).fetchone()
    if r is None:
        return None
    return Scratchpad(id=r[0], type=r[1], key=r[2], content=r[3], version=r[4], updated_at=r[5])


def get_or_create(
    conn: sqlite3.Connection, user_id: str, type_: str = "companion", *,
    companion_id: str | None = None, conversation_id: str | None = None,
) -> Scratchpad:
    """The scratchpad, created empty (version 0) if this is its first read."""
    key = _target(type_, companion_id, conversation_id)
    found = _row(conn, user_id, type_, key)
    if found is not None:
        return found
    ts = now()
    conn.execute(
        "INSERT OR IGNORE INTO scratchpads(id, user_id, type, key, content, version, created_at, updated_at)"
        " VALUES (?,?,?,?,'',0,?,?)",
        (new_id("scr"), user_id, type_, key, ts, ts),
    )
    created = _row(conn, user_id, type_, key)
    assert created is not None
    return created


def write(
    conn: sqlite3.Connection, user_id: str, type_: str, *, content: str, version: int,
    companion_id: str | None = None, conversation_id: str | None = None,
) -> Scratchpad:
    """Replace the content if ``version`` is the current one; the new version is ``version + 1``.

    Raises :class:`VersionConflict` (carrying the current scratchpad) otherwise.
    """
    if len(content) > MAX_CONTENT:
        raise ValueError(f"content: at most {MAX_CONTENT} characters (got {len(content)})")
    key = _target(type_, companion_id, conversation_id)
    with transaction(conn):
        current = get_or_create(conn, user_id, type_, companion_id=companion_id,
                                conversation_id=conversation_id)
        if current.version != version:
            raise VersionConflict(current, version)
        ts = now()
        conn.execute(
            "UPDATE scratchpads SET content = ?, version = version + 1, updated_at = ?"
            " WHERE user_id = ? AND type = ? AND key = ? AND version = ?",
            (content, ts, user_id, type_, key, version),
        )
        updated = _row(conn, user_id, type_, key)
    assert updated is not None
    return updated


# --------------------------------------------------------------------------- facts (extraction)

_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


def _norm_fact(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", _BULLET.sub("", text).lower()))


def merge_facts(content: str, facts: Iterable[str | tuple[str, str]]) -> str:
    """``content`` with fact lines appended or updated.

    A fact is ``"text"`` or ``(key, "text")``. A keyed fact replaces the line that carries the
    same key (``- <text>  <!-- fact:<key> -->`` is how it is marked); an unkeyed fact is added
    unless the same fact (ignoring case, punctuation and bullets) is already there. Lines the
    user wrote are never removed.
    """
    lines = content.splitlines()
    normalised = {_norm_fact(x) for x in lines if x.strip()}
    for fact in facts:
        key, text = (fact if isinstance(fact, tuple) else (None, fact))
        text = " ".join(str(text).split())
        if not text:
            continue
        if key:
            marker = f"<!-- fact:{key} -->"
            new_line = f"- {text}  {marker}"
            for i, line in enumerate(lines):
                if line.rstrip().endswith(marker):
                    lines[i] = new_line
                    break
            else:
                lines.append(new_line)
            normalised.add(_norm_fact(text))
            continue
        n = _norm_fact(text)
        if n and n not in normalised:
            lines.append(f"- {text}")
            normalised.add(n)
    out = "\n".join(lines)
    return out + ("\n" if out and not out.endswith("\n") else "")


def update_scratchpad_facts(
    conn: sqlite3.Connection, user_id: str, *, companion_id: str | None = None,
    conversation_id: str | None = None, facts: Sequence[str | tuple[str, str]], retries: int = 5,
) -> Scratchpad:
    """Merge ``facts`` into a scratchpad (the extraction job's entry point).

    Exactly one of ``companion_id`` (type companion; use :func:`companion_key` of the persona
    name) or ``conversation_id`` (type conversation; the chat_id). Each merge is a versioned
    write, so a user's concurrent ``PUT`` based on the old version gets a 409 and re-reads —
    neither side's edit is lost. Returns the scratchpad after the write (unchanged if every
    fact was there already).
    """
    if (companion_id is None) == (conversation_id is None):
        raise ValueError("give exactly one of companion_id or conversation_id")
    type_ = "companion" if companion_id is not None else "conversation"
    for _ in range(max(1, retries)):
        current = get_or_create(conn, user_id, type_, companion_id=companion_id,
                                conversation_id=conversation_id)
        merged = merge_facts(current.content, facts)
        if merged == current.content:
            return current
        if len(merged) > MAX_CONTENT:  # keep the newest lines within the limit
            merged = merged[-MAX_CONTENT:].split("\n", 1)[-1]
        try:
            return write(conn, user_id, type_, content=merged, version=current.version,
                         companion_id=companion_id, conversation_id=conversation_id)
        except VersionConflict:
            continue
    raise RuntimeError("scratchpad: too many concurrent writes; try again")


# --------------------------------------------------------------------------- condensing

_WORD = re.compile(r"\S+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
# The marker merge_facts() puts after a keyed fact: bookkeeping, not notes. A condensed copy
# leaves it out, so it neither uses the word budget nor survives alone (a bare "<!-- … -->").
_FACT_MARKER = re.compile(r"\s*<!--\s*fact:[^\n]*?-->")


def _words(text: str) -> int:
    return len(_WORD.findall(text))


def _tokens(text: str) -> set[str]:
    return set(content_words(text))


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _overlap(hint_tokens: set[str], unit_tokens: set[str]) -> float:
    """Share of the hint's words found in the unit: exact stems count 1, shared roots
    (``allergies``/``allergic``: a common prefix of 5+ letters, or one word prefixing another
    of 4+) count 0.8."""
    if not hint_tokens:
        return 0.0
    total = 0.0
    for h in hint_tokens:
        if h in unit_tokens:
            total += 1.0
        elif any(_common_prefix(h, u) >= 5 or (min(len(h), len(u)) >= 4 and (h.startswith(u) or u.startswith(h)))
                 for u in unit_tokens):
            total += 0.8
    return total / len(hint_tokens)


def _units(content: str, max_words: int) -> list[str]:
    """Lines; a line longer than the budget is split into sentences."""
    out: list[str] = []
    for line in content.splitlines():
        if not line.strip():
            continue
        if _words(line) > max_words:
            out.extend(s for s in _SENTENCE.split(line.strip()) if s.strip())
        else:
            out.append(line.rstrip())
    return out


def _similarities(units: list[str], hint: str) -> list[float]:
    """Cosine similarity of each unit to the hint with the built-in embedder."""
    emb = default_embedder()
    vecs = emb.embed([*units, hint])
    sims = vecs[:-1] @ vecs[-1]
    return [max(0.0, float(s)) for s in sims]


def condense(content: str, max_words: int, hint: str | None = None) -> str:
    """A copy of ``content`` with at most ``max_words`` words, keeping what the hint asks for.

    Units (lines, or sentences of over-long lines) are ranked by the share of the hint's words
    they contain (shared roots count too) plus their embedding similarity to the hint; the best are kept greedily while
    they fit, then written back in their original order. Without a hint the earliest lines are
    kept. A unit that alone exceeds what is left is cut to fit (ending with "…"). The
    ``<!-- fact:… -->`` markers of extracted facts are left out of a condensed copy.
    """
    if max_words < 1:
        raise ValueError("max_words: must be at least 1")
    if _words(content) <= max_words:
        return content
    units = _units(_FACT_MARKER.sub("", content), max_words)
    n = len(units)
    scores = [0.0] * n
    if hint and hint.strip():
        htoks = _tokens(hint)
        sims = _similarities(units, hint)
        for i, u in enumerate(units):
            overlap = _overlap(htoks, _tokens(u))
            scores[i] = 2.0 * overlap + sims[i]
    order = sorted(range(n), key=lambda i: (-scores[i], i))
    budget = max_words
    chosen: dict[int, str] = {}
    for i in order:
        w = _words(units[i])
        if w <= budget:
            chosen[i] = units[i]
            budget -= w
        elif not chosen and budget > 0:
            # the most relevant unit alone is too long: keep its beginning
            words = _WORD.findall(units[i])
            chosen[i] = " ".join(words[: budget - 1] + [words[budget - 1] + "…"]) if budget > 1 else words[0] + "…"
            budget = 0
        if budget <= 0:
            break
    return "\n".join(chosen[i] for i in sorted(chosen))
