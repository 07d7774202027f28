"""``Idempotency-Key`` for POSTs that create something (Stripe's model).

A client sends ``Idempotency-Key: <1–255 printable ASCII chars>`` with a POST, generated once per
logical request and reused on its retries. For a key already seen **from the same user**:

- the request (method, path, query and JSON body) is the same → the stored outcome is replayed:
  same status, same content type, same body bytes, and the header ``Idempotent-Replayed: true``.
  A streamed route (instance chat, companion/NPC ``?stream=true``) replays the whole stored stream
  (every chunk or event as first sent) in one body with the same content type;
- the request differs (another route or another body) → ``409 CONFLICT``; nothing runs;
- the first request is still running → the repeat waits for it, then replays its outcome.

Only a successful (2xx) outcome is stored. An error (4xx/5xx, an engine failure mid-stream)
releases the key: nothing was created, so a retry with the same key runs again.
A request without the header is never merged with another. Keys are kept ``TTL_SECONDS``
(24 h) after first use; older ones are pruned. Keys of different users never meet.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from .db import Migration, now, transaction
from .errors import ApiError

log = logging.getLogger("phantom.backend.idempotency")

HEADER = "idempotency-key"
TTL_SECONDS = 24 * 3600
MAX_KEY = 255
WAIT_SECONDS = 600.0  # the longest a repeat waits for the first request to finish

MIGRATIONS = (Migration("idempotency", 1, "idempotency keys", """
CREATE TABLE idempotency_key (
    user_id TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    route TEXT NOT NULL,
    state TEXT NOT NULL,
    status INTEGER,
    media_type TEXT,
    body BLOB,
    created_at TEXT NOT NULL,
    created_ts REAL NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_key_age ON idempotency_key(created_ts);
"""),)

# (id(conn), user_id, key) -> set when the running first request stores or releases its outcome
_running: dict[tuple[int, str, str], asyncio.Event] = {}
_last_prune = 0.0


def key_of(request: Any) -> str | None:
    """The request's key, or None; 400 when it is malformed."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    if not 1 <= len(raw) <= MAX_KEY or not all(33 <= ord(c) <= 126 for c in raw):
        msg = f"must be 1–{MAX_KEY} printable ASCII characters without spaces"
        raise ApiError(400, message=f"Idempotency-Key: {msg}",
                       details=[{"loc": ["header", "Idempotency-Key"], "msg": msg}])
    return raw


def fingerprint(method: str, path: str, query: str, body: Any) -> str:
    data = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}?{query}\n{data}".encode()).hexdigest()


@dataclass
class Stored:
    status: int
    media_type: str
    body: bytes


class Claim:
    """The right to run a keyed request; ``complete`` stores its outcome, ``release`` drops it."""

    def __init__(self, conn: Any, user_id: str, key: str) -> None:
        self.conn, self.user_id, self.key = conn, user_id, key
        self.done = False

    def complete(self, status: int, media_type: str, body: bytes) -> None:
        if self.done:
            return
        self.done = True
        if 200 <= status < 300:
            self.conn.execute(
                "UPDATE idempotency_key SET state = 'done', status = ?, media_type = ?, body = ?"
                " WHERE user_id = ? AND key = ?",
                (status, media_type, body, self.user_id, self.key),
            )
        else:
            self._drop()
        self._wake()

    def release(self) -> None:
        if self.done:
            return
        self.done = True
        self._drop()
        self._wake()

    def _drop(self) -> None:
        try:
            self.conn.execute("DELETE FROM idempotency_key WHERE user_id = ? AND key = ? AND state = 'pending'",
                              (self.user_id, self.key))
        except Exception:  # noqa: BLE001 - the db may be closed at shutdown; the row is stale then
            log.debug("could not release idempotency key", exc_info=True)

    def _wake(self) -> None:
        ev = _running.pop((id(self.conn), self.user_id, self.key), None)
        if ev is not None:
            ev.set()


def _prune(conn: Any) -> None:
    global _last_prune
    t = time.time()
    if t - _last_prune < 60:
        return
    _last_prune = t
    conn.execute("DELETE FROM idempotency_key WHERE created_ts < ?", (t - TTL_SECONDS,))


async def claim_or_replay(conn: Any, user_id: str, key: str, route: str, fp: str) -> Claim | Stored:
    """Claim ``key`` for this request, or return the stored outcome of its first use."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        _prune(conn)
        with transaction(conn):
            row = conn.execute("SELECT * FROM idempotency_key WHERE user_id = ? AND key = ?",
                               (user_id, key)).fetchone()
            if row is not None and row["state"] == "pending" and (id(conn), user_id, key) not in _running:
                # left over by a server that stopped mid-request: nothing of it was kept
                conn.execute("DELETE FROM idempotency_key WHERE user_id = ? AND key = ?", (user_id, key))
                row = None
            if row is None:
                conn.execute(
                    "INSERT INTO idempotency_key(user_id, key, fingerprint, route, state, created_at, created_ts)"
                    " VALUES (?,?,?,?,'pending',?,?)",
                    (user_id, key, fp, route, now(), time.time()),
                )
                _running[(id(conn), user_id, key)] = asyncio.Event()
                return Claim(conn, user_id, key)
        if row["fingerprint"] != fp:
            other = row["route"] if row["route"] != route else "the same route with another body"
            raise ApiError(409, message=(
                "Idempotency-Key: this key was already used for a different request "
                f"({other}); use a new key for a new request"),
                details=[{"loc": ["header", "Idempotency-Key"], "msg": "reused for a different request"}])
        if row["state"] == "done":
            return Stored(int(row["status"]), row["media_type"], bytes(row["body"]))
        ev = _running.get((id(conn), user_id, key))
        remaining = deadline - time.monotonic()
        if ev is None or remaining <= 0:
            if remaining <= 0:
                raise ApiError(409, message="Idempotency-Key: the first request with this key is still running")
            continue
        try:
            await asyncio.wait_for(ev.wait(), timeout=remaining)
        except TimeoutError:
            pass


def replay_response(stored: Stored) -> Any:
    from starlette.responses import Response

    return Response(stored.body, status_code=stored.status, media_type=stored.media_type,
                    headers={"Idempotent-Replayed": "true", "Cache-Control": "no-store"})
