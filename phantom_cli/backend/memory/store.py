"""The vector store: memories in the backend's SQLite database, searched with NumPy.

Every memory belongs to one user and one ``chat_id``; every read and write is keyed by both, so
memories never cross users or conversations. A memory is a fact about the user with a ``slot``
(name, location, job, likes, relationships, …), a ``key`` inside the slot, a ``value`` and a
third-person ``text`` ("The user lives in Lisbon."), plus its embedding as a float32 BLOB.

Updating a fact never deletes it: the old row is marked inactive and points at the row that
replaced it (``superseded_by``), so the history stays. Searches read the active rows of one
(user, chat_id, embedder) into a cached matrix, invalidated whenever that key is written.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any

from ..db import new_id, now, register_migration, transaction

register_migration(
    "companion",
    1,
    "memory store, profiles, companion chats and turns",
    """
    CREATE TABLE memory_item (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        slot TEXT NOT NULL,
        key TEXT NOT NULL DEFAULT '',
        value TEXT NOT NULL,
        text TEXT NOT NULL,
        embedder TEXT NOT NULL,
        dim INTEGER NOT NULL,
        vector BLOB NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        superseded_by TEXT,
        job_id TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX memory_item_owner ON memory_item(user_id, chat_id, active, embedder);
    CREATE INDEX memory_item_slot ON memory_item(user_id, chat_id, slot, key, active);
    CREATE TABLE memory_profile (
        user_id TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        profile TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (user_id, chat_id)
    );
    CREATE TABLE companion_chat (
        user_id TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        user_turns INTEGER NOT NULL DEFAULT 0,
        eligible_turns INTEGER NOT NULL DEFAULT 0,
        pending TEXT NOT NULL DEFAULT '[]',
        persona_name TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (user_id, chat_id)
    );
    CREATE TABLE prompt_turn (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        conversation_id TEXT,
        engine TEXT NOT NULL,
        model TEXT,
        prompt TEXT NOT NULL,
        reply TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX prompt_turn_user ON prompt_turn(user_id, created_at);
    """,
)

SINGLE_SLOTS = ("name", "age", "location", "hometown", "job")
LIST_SLOTS = ("likes", "dislikes")
KEYED_SLOTS = ("relationships", "pets", "facts")
SLOTS = SINGLE_SLOTS + LIST_SLOTS + KEYED_SLOTS
OPPOSITE = {"likes": "dislikes", "dislikes": "likes"}

DEFAULT_TOP_K = 5
DEFAULT_FLOOR = 0.12  # cosine below this is not "relevant" (unrelated text scores ~0.0-0.05)
DUPLICATE_COSINE = 0.95


@dataclass(frozen=True)
class Hit:
    id: str
    text: str
    score: float


def _norm(value: str) -> str:
    return " ".join(value.lower().split()).strip(" .!?'\"")


class VectorStore:
    """Search and write memories of one database (one instance per app)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str, str], tuple[list[str], list[str], Any]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ cache

    def invalidate(self, user_id: str, chat_id: str) -> None:
        with self._lock:
            for key in [k for k in self._cache if k[0] == user_id and k[1] == chat_id]:
                del self._cache[key]

    def _matrix(self, conn: sqlite3.Connection, user_id: str, chat_id: str,
                embedder: str) -> tuple[list[str], list[str], Any]:
        import numpy as np

        key = (user_id, chat_id, embedder)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit
        rows = conn.execute(
            "SELECT id, text, vector FROM memory_item"
            " WHERE user_id = ? AND chat_id = ? AND active = 1 AND embedder = ? ORDER BY created_at",
            (user_id, chat_id, embedder),
        ).fetchall()
        ids = [r[0] for r in rows]
        texts = [r[1] for r in rows]
        if rows:
            matrix = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), -1)
        else:
            matrix = np.zeros((0, 0), dtype=np.float32)
        entry = (ids, texts, matrix)
        with self._lock:
            self._cache[key] = entry
        return entry

    # ------------------------------------------------------------------ reads

    def search(
        self,
        conn: sqlite3.Connection,
        user_id: str,
        chat_id: str,
        query: Any,
        embedder: str,
        *,
        k: int = DEFAULT_TOP_K,
        floor: float = DEFAULT_FLOOR,
    ) -> list[Hit]:
        """The top ``k`` memories with cosine ≥ ``floor``, best first."""
        import numpy as np

        ids, texts, matrix = self._matrix(conn, user_id, chat_id, embedder)
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        if not ids or matrix.shape[1] != q.shape[0] or not np.any(q):
            return []
        scores = matrix @ q
        n = min(k, len(ids))
        top = np.argpartition(-scores, n - 1)[:n] if n < len(ids) else np.arange(len(ids))
        top = top[np.argsort(-scores[top], kind="stable")]
        return [Hit(ids[i], texts[i], float(scores[i])) for i in top if scores[i] >= floor]

    def count(self, conn: sqlite3.Connection, user_id: str, chat_id: str, *, active_only: bool = True) -> int:
        sql = "SELECT COUNT(*) FROM memory_item WHERE user_id = ? AND chat_id = ?"
        if active_only:
            sql += " AND active = 1"
        return int(conn.execute(sql, (user_id, chat_id)).fetchone()[0])

    def memories(self, conn: sqlite3.Connection, user_id: str, chat_id: str,
                 *, include_history: bool = False) -> list[dict[str, Any]]:
        sql = ("SELECT id, slot, key, value, text, active, superseded_by, created_at, updated_at"
               " FROM memory_item WHERE user_id = ? AND chat_id = ?")
        if not include_history:
            sql += " AND active = 1"
        return [dict(r) for r in conn.execute(sql + " ORDER BY created_at", (user_id, chat_id))]

    def profile(self, conn: sqlite3.Connection, user_id: str, chat_id: str) -> dict[str, Any] | None:
        row = conn.execute(
            "SELECT profile FROM memory_profile WHERE user_id = ? AND chat_id = ?", (user_id, chat_id)
        ).fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        return data or None

    # ------------------------------------------------------------------ writes

    def apply_fact(
        self,
        conn: sqlite3.Connection,
        user_id: str,
        chat_id: str,
        *,
        slot: str,
        key: str,
        value: str,
        text: str,
        vector: Any,
        embedder: str,
        job_id: str | None = None,
    ) -> str:
        """Add, merge or update one fact. Returns ``added`` | ``duplicate`` | ``updated``.

        - same slot and key with the same value, or a near-identical embedding → ``duplicate``
          (the existing memory is touched, nothing added);
        - same slot and key with a new value (or a like that became a dislike) → the old memory
          is superseded (kept as history) and the new one added → ``updated``.
        """
        import numpy as np

        if slot not in SLOTS:
            raise ValueError(f"slot: unknown memory slot {slot!r} (one of {', '.join(SLOTS)})")
        vec = np.asarray(vector, dtype=np.float32).reshape(-1)
        key = _norm(key) if slot not in SINGLE_SLOTS else ""
        if slot in LIST_SLOTS:
            key = _norm(value)
        ts = now()
        with transaction(conn):
            same = conn.execute(
                "SELECT id, value FROM memory_item WHERE user_id = ? AND chat_id = ? AND active = 1"
                " AND slot = ? AND key = ?",
                (user_id, chat_id, slot, key),
            ).fetchall()
            for row in same:
                if _norm(row["value"]) == _norm(value):
                    conn.execute("UPDATE memory_item SET updated_at = ? WHERE id = ?", (ts, row["id"]))
                    return "duplicate"
            replaced = [r["id"] for r in same]
            if slot in OPPOSITE:
                replaced += [
                    r[0]
                    for r in conn.execute(
                        "SELECT id FROM memory_item WHERE user_id = ? AND chat_id = ? AND active = 1"
                        " AND slot = ? AND key = ?",
                        (user_id, chat_id, OPPOSITE[slot], key),
                    )
                ]
            if not replaced:
                ids, _texts, matrix = self._matrix(conn, user_id, chat_id, embedder)
                if ids and matrix.shape[1] == vec.shape[0] and np.any(vec):
                    scores = matrix @ vec
                    best = int(np.argmax(scores))
                    if float(scores[best]) >= DUPLICATE_COSINE:
                        conn.execute("UPDATE memory_item SET updated_at = ? WHERE id = ?", (ts, ids[best]))
                        return "duplicate"
            mid = new_id("mem")
            conn.execute(
                "INSERT INTO memory_item(id, user_id, chat_id, slot, key, value, text, embedder, dim,"
                " vector, active, job_id, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,1,?,?,?)",
                (mid, user_id, chat_id, slot, key, value.strip(), text.strip(), embedder, int(vec.shape[0]),
                 vec.tobytes(), job_id, ts, ts),
            )
            for old in replaced:
                conn.execute(
                    "UPDATE memory_item SET active = 0, superseded_by = ?, updated_at = ? WHERE id = ?",
                    (mid, ts, old),
                )
        self.invalidate(user_id, chat_id)
        return "updated" if replaced else "added"

    def add_many(
        self,
        conn: sqlite3.Connection,
        user_id: str,
        chat_id: str,
        items: list[tuple[str, str, str, str]],
        vectors: Any,
        embedder: str,
    ) -> int:
        """Bulk insert ``(slot, key, value, text)`` rows with their vectors (no merging; imports
        and benchmarks)."""
        import numpy as np

        vecs = np.asarray(vectors, dtype=np.float32)
        ts = now()
        rows = [
            (new_id("mem") + f"{i:06d}", user_id, chat_id, slot, key, value, text, embedder,
             int(vecs.shape[1]), vecs[i].tobytes(), ts, ts)
            for i, (slot, key, value, text) in enumerate(items)
        ]
        with transaction(conn):
            conn.executemany(
                "INSERT INTO memory_item(id, user_id, chat_id, slot, key, value, text, embedder, dim,"
                " vector, active, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,1,?,?)",
                rows,
            )
        self.invalidate(user_id, chat_id)
        return len(rows)

    def rebuild_profile(self, conn: sqlite3.Connection, user_id: str, chat_id: str) -> dict[str, Any]:
        """Recompute the structured profile from the active memories and store it."""
        profile: dict[str, Any] = {}
        for r in conn.execute(
            "SELECT slot, key, value FROM memory_item WHERE user_id = ? AND chat_id = ? AND active = 1"
            " ORDER BY created_at",
            (user_id, chat_id),
        ):
            slot, key, value = r["slot"], r["key"], r["value"]
            if slot in SINGLE_SLOTS:
                profile[slot] = value
            elif slot in LIST_SLOTS:
                profile.setdefault(slot, []).append(value)
            else:
                profile.setdefault(slot, {})[key] = value
        with transaction(conn):
            conn.execute(
                "INSERT INTO memory_profile(user_id, chat_id, profile, updated_at) VALUES (?,?,?,?)"
                " ON CONFLICT(user_id, chat_id) DO UPDATE SET profile = excluded.profile,"
                " updated_at = excluded.updated_at",
                (user_id, chat_id, json.dumps(profile, ensure_ascii=False), now()),
            )
        return profile
