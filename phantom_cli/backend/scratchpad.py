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

# The extraction job's bookkeeping — which line holds the fact of which key — lives here, not
# in the text the user reads and edits (it used to be a ``<!-- fact:KEY -->`` marker at the end
# of the line: shown to the user, and stale once the user edited the line).
SCRATCHPAD_FACTS = """
CREATE TABLE scratchpad_facts (
    scratchpad_id TEXT NOT NULL REFERENCES scratchpads(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (scratchpad_id, key)
);
"""


def _migrate_v2(conn: sqlite3.Connection) -> None:
    """The facts table, and every stored marker moved out of the text into it. The version is
    not bumped: the notes a user wrote are unchanged (a client still holding marked text that
    writes it back has its markers moved here too, see :func:`write`)."""
    conn.execute(SCRATCHPAD_FACTS)
    rows = conn.execute(
        "SELECT id, content FROM scratchpads WHERE content LIKE '%<!--%fact:%-->%'"
    ).fetchall()
    for sid, content in rows:
        clean, found = split_markers(content)
        conn.execute("UPDATE scratchpads SET content = ? WHERE id = ?", (clean, sid))
        _store_facts(conn, sid, found)


MIGRATIONS = (
    Migration("scratchpad", 1, "scratchpads", SCRATCHPAD_V1),
    Migration("scratchpad", 2, "scratchpad facts out of the text", _migrate_v2),
)

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
    facts: dict[str, str] | None = None,
) -> Scratchpad:
    """Replace the content if ``version`` is the current one; the new version is ``version + 1``.

    Raises :class:`VersionConflict` (carrying the current scratchpad) otherwise. ``facts``
    (key → the text of its line) are stored with the write, in its transaction; legacy
    ``<!-- fact:KEY -->`` markers in ``content`` are moved out of the text into them.
    """
    if "<!--" in content:
        content, found = split_markers(content)
        facts = {**(facts or {}), **found}
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
        if facts:
            _store_facts(conn, current.id, facts)
        updated = _row(conn, user_id, type_, key)
    assert updated is not None
    return updated


# --------------------------------------------------------------------------- facts (extraction)

_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


def _norm_fact(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", _BULLET.sub("", text).lower()))


_MARKED = re.compile(r"^(?P<line>.*?)\s*<!--\s*fact:(?P<key>[^\n]*?)\s*-->\s*$")


def split_markers(content: str) -> tuple[str, dict[str, str]]:
    """``content`` without the legacy ``<!-- fact:KEY -->`` line markers, and the facts they
    marked (key → the line's text without its bullet)."""
    found: dict[str, str] = {}
    lines = []
    for line in content.splitlines(keepends=True):
        m = _MARKED.match(line.rstrip("\r\n"))
        if m is None:
            lines.append(line)
            continue
        text = _BULLET.sub("", m.group("line")).strip()
        if text:
            found[m.group("key").strip()] = text
        ending = line[len(line.rstrip("\r\n")):]
        lines.append(m.group("line").rstrip() + ending)
    return "".join(lines), found


def known_facts(conn: sqlite3.Connection, scratchpad_id: str) -> dict[str, str]:
    """The keyed facts of a scratchpad: key → the text of the line that holds it."""
    rows = conn.execute("SELECT key, text FROM scratchpad_facts WHERE scratchpad_id = ?",
                        (scratchpad_id,))
    return {k: t for k, t in rows}


def _store_facts(conn: sqlite3.Connection, scratchpad_id: str, facts: dict[str, str]) -> None:
    conn.executemany(
        "INSERT INTO scratchpad_facts(scratchpad_id, key, text) VALUES (?,?,?)"
        " ON CONFLICT(scratchpad_id, key) DO UPDATE SET text = excluded.text",
        [(scratchpad_id, k, t) for k, t in facts.items()],
    )


def merge_facts(
    content: str, facts: Iterable[str | tuple[str, str]], known: dict[str, str] | None = None
) -> str:
    """``content`` with fact lines appended or updated; the text holds no bookkeeping.

    A fact is ``"text"`` or ``(key, "text")``. ``known`` maps a key to the text of the line
    that holds its fact (the ``scratchpad_facts`` table) and is updated in place: a keyed fact
    replaces its line while that line is still there as written; if the user edited or removed
    it, the new fact is added as a line of its own (the user's words are kept). An unkeyed fact
    is added unless the same fact (ignoring case, punctuation and bullets) is already there.
    Lines the user wrote are never removed.
    """
    known = {} if known is None else known
    lines = content.splitlines()
    normalised = {_norm_fact(x) for x in lines if x.strip()}
    for fact in facts:
        key, text = (fact if isinstance(fact, tuple) else (None, fact))
        text = " ".join(str(text).split())
        if not text:
            continue
        n = _norm_fact(text)
        if key:
            old = known.get(key)
            at = next((i for i, line in enumerate(lines)
                       if old is not None and _norm_fact(line) == _norm_fact(old)), None)
            if at is not None:
                lines[at] = f"- {text}"
            elif n not in normalised:
                lines.append(f"- {text}")
            known[key] = text
            normalised.add(n)
            continue
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
        before = known_facts(conn, current.id)
        known = dict(before)
        merged = merge_facts(current.content, facts, known)
        if merged == current.content:
            if known != before:
                with transaction(conn):
                    _store_facts(conn, current.id, known)
            return current
        if len(merged) > MAX_CONTENT:  # keep the newest lines within the limit
            merged = merged[-MAX_CONTENT:].split("\n", 1)[-1]
        try:
            return write(conn, user_id, type_, content=merged, version=current.version,
                         companion_id=companion_id, conversation_id=conversation_id,
                         facts=known)
        except VersionConflict:
            continue
    raise RuntimeError("scratchpad: too many concurrent writes; try again")


# --------------------------------------------------------------------------- condensing

_WORD = re.compile(r"\S+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
# The marker merge_facts() used to put after a keyed fact (now in scratchpad_facts): should
# one still be in a text, a condensed copy leaves it out.
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
