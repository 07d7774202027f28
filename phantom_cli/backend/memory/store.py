"""The vector store: memories in the backend's SQLite database, searched with NumPy.

Every memory belongs to one user and one ``chat_id``; every read and write is keyed by both, so
memories never cross users or conversations. A memory is a fact about the user with a ``slot``
(name, location, job, likes, relationships, …), a ``key`` inside the slot, a ``value`` and a
third-person ``text`` ("The user lives in Lisbon."), plus its embedding as a float32 BLOB.

Updating a fact never deletes it: the old row is marked inactive and points at the row that
replaced it (``superseded_by``), so the history stays. Searches read the active rows of one
(user, chat_id, embedder) once into a cached column-major matrix; a write to that key updates
the cached matrix in place (new row appended, superseded rows masked), and bulk writes drop it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any

from ..db import Migration, new_id, now, transaction

COMPANION_V1 = """
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
    """
MIGRATIONS = (Migration("companion", 1, "memory store, profiles, companion chats and turns", COMPANION_V1),)

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


class _Matrix:
    """The active vectors of one (user, chat_id, embedder), column-major for sparse queries.

    ``mt`` is ``(dim, capacity)`` float32: a query with few non-zero dimensions (the hashing
    embedder's are sparse) only reads those rows — ``q[nz] @ mt[nz]`` — instead of the whole
    matrix. Writes update it in place (append; superseded rows are masked) instead of
    reloading every vector of the chat.
    """

    def __init__(self, ids: list[str], texts: list[str], vectors: Any, dim: int) -> None:
        import numpy as np

        n = len(ids)
        self.dim = dim
        self.ids = ids
        self.texts = texts
        self.index = {mid: i for i, mid in enumerate(ids)}
        cap = max(16, n + n // 4)
        self.mt = np.zeros((dim, cap), dtype=np.float32)
        if n:
            self.mt[:, :n] = vectors.T
        self.alive = np.zeros(cap, dtype=bool)
        self.alive[:n] = True
        self.n = n
        self.live = n

    def append(self, mid: str, text: str, vec: Any) -> None:
        import numpy as np

        if self.n == self.mt.shape[1]:
            cap = self.n * 2
            mt = np.zeros((self.dim, cap), dtype=np.float32)
            mt[:, : self.n] = self.mt[:, : self.n]
            alive = np.zeros(cap, dtype=bool)
            alive[: self.n] = self.alive[: self.n]
            self.mt, self.alive = mt, alive
        self.mt[:, self.n] = vec
        self.alive[self.n] = True
        self.ids.append(mid)
        self.texts.append(text)
        self.index[mid] = self.n
        self.n += 1
        self.live += 1

    def kill(self, mid: str) -> None:
        i = self.index.pop(mid, None)
        if i is not None and self.alive[i]:
            self.alive[i] = False
            self.live -= 1

    def scores(self, q: Any) -> Any:
        import numpy as np

        nz = np.flatnonzero(q)
        if len(nz) * 4 < self.dim:
            # Row-wise accumulation over the query's non-zero dimensions: contiguous reads, no
            # BLAS call (whose threads spin badly on a small, busy machine for this shape).
            out = np.zeros(self.n, dtype=np.float32)
            tmp = np.empty(self.n, dtype=np.float32)
            for i in nz:
                np.multiply(self.mt[i, : self.n], q[i], out=tmp)
                out += tmp
        else:
            out = q @ self.mt[:, : self.n]
        if self.live != self.n:
            out[~self.alive[: self.n]] = -np.inf
        return out


class VectorStore:
    """Search and write memories of one database (one instance per app)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str, str], _Matrix] = {}
        self._writes: dict[tuple[str, str], int] = {}  # per (user, chat): bumped on every write
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ cache

    def invalidate(self, user_id: str, chat_id: str) -> None:
        with self._lock:
            self._writes[(user_id, chat_id)] = self._writes.get((user_id, chat_id), 0) + 1
            for key in [k for k in self._cache if k[0] == user_id and k[1] == chat_id]:
                del self._cache[key]

    def is_cached(self, user_id: str, chat_id: str, embedder: str) -> bool:
        with self._lock:
            return (user_id, chat_id, embedder) in self._cache

    def _matrix(self, conn: sqlite3.Connection, user_id: str, chat_id: str, embedder: str) -> _Matrix | None:
        key = (user_id, chat_id, embedder)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit
        entry = self._load(conn, user_id, chat_id, embedder)
        if entry is None:
            return None
        with self._lock:
            return self._cache.setdefault(key, entry)

    @staticmethod
    def _load(conn: sqlite3.Connection, user_id: str, chat_id: str, embedder: str) -> _Matrix | None:
        import numpy as np

        rows = conn.execute(
            "SELECT id, text, vector, dim FROM memory_item"
            " WHERE user_id = ? AND chat_id = ? AND active = 1 AND embedder = ? ORDER BY created_at",
            (user_id, chat_id, embedder),
        ).fetchall()
        if not rows:
            return None
        dim = int(rows[0][3])
        vectors = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), dim)
        return _Matrix([r[0] for r in rows], [r[1] for r in rows], vectors, dim)

    def warm(self, db_path: str, user_id: str, chat_id: str, embedder: str) -> None:
        """Load a chat's matrix with a connection of its own (call from a worker thread, so a
        large store's first read does not block the event loop)."""
        from ..db import connect

        with self._lock:
            if (user_id, chat_id, embedder) in self._cache:
                return
            version = self._writes.get((user_id, chat_id), 0)
        conn = connect(db_path)
        try:
            entry = self._load(conn, user_id, chat_id, embedder)
        finally:
            conn.close()
        if entry is not None:
            with self._lock:
                if self._writes.get((user_id, chat_id), 0) == version:  # no write while loading
                    self._cache.setdefault((user_id, chat_id, embedder), entry)

    def _cached_write(self, user_id: str, chat_id: str, embedder: str, added: tuple[str, str, Any] | None,
                      removed: list[str]) -> None:
        """Apply a committed write to the cached matrix (or drop it if it cannot be applied)."""
        with self._lock:
            self._writes[(user_id, chat_id)] = self._writes.get((user_id, chat_id), 0) + 1
            entry = self._cache.get((user_id, chat_id, embedder))
            if entry is None:
                return
            if added is not None and added[2].shape[0] != entry.dim:
                self.invalidate(user_id, chat_id)
                return
            for mid in removed:
                entry.kill(mid)
            if added is not None:
                entry.append(*added)

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

        entry = self._matrix(conn, user_id, chat_id, embedder)
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        if entry is None or entry.live == 0 or entry.dim != q.shape[0] or not np.any(q):
            return []
        with self._lock:
            scores = entry.scores(q)
            n = min(k, entry.n)
            top = np.argpartition(-scores, n - 1)[:n] if n < entry.n else np.arange(entry.n)
            top = top[np.argsort(-scores[top], kind="stable")]
            return [Hit(entry.ids[i], entry.texts[i], float(scores[i])) for i in top if scores[i] >= floor]

    def has_memories(self, conn: sqlite3.Connection, user_id: str, chat_id: str, embedder: str) -> bool:
        """Whether the chat has active memories of this embedder (from the cache when loaded)."""
        with self._lock:
            entry = self._cache.get((user_id, chat_id, embedder))
        if entry is not None:
            return entry.live > 0
        return conn.execute(
            "SELECT 1 FROM memory_item WHERE user_id = ? AND chat_id = ? AND active = 1 AND embedder = ? LIMIT 1",
            (user_id, chat_id, embedder),
        ).fetchone() is not None

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
                entry = self._matrix(conn, user_id, chat_id, embedder)
                if entry is not None and entry.live and entry.dim == vec.shape[0] and np.any(vec):
                    with self._lock:
                        scores = entry.scores(vec)
                        best = int(np.argmax(scores))
                        best_score, best_id = float(scores[best]), entry.ids[best]
                    if best_score >= DUPLICATE_COSINE:
                        conn.execute("UPDATE memory_item SET updated_at = ? WHERE id = ?", (ts, best_id))
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
        self._cached_write(user_id, chat_id, embedder, (mid, text.strip(), vec), replaced)
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
