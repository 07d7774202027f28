"""Users, API keys and scopes.

Keys are ``ph_local_`` + 32 random bytes (base64url); only their sha256 is stored. Every route
but ``/health`` needs a key: the ``endpoint`` helper calls :func:`require` for you.

Least privilege: a key holds exactly the scopes stored with it. ``admin`` is never implied: only
the owner key written at first start has it, plus keys minted with an explicit ``admin`` scope by
a key that has ``admin``. A key minted without scopes gets every scope but ``admin``
(``DEFAULT_SCOPES``). A key can only mint keys with scopes it holds itself (:func:`check_grant`).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .db import new_id, now, transaction
from .errors import ApiError

KEY_PREFIX = "ph_local_"
SCOPES = (
    "chat:companion",
    "chat:npc",
    "scratchpad",
    "activities",
    "instances",
    "personas",
    "skins",
    "media",
    "generate",
    "admin",
)
ADMIN = "admin"
DEFAULT_SCOPES = tuple(s for s in SCOPES if s != ADMIN)  # a key minted without scopes
OWNER_SCOPES = SCOPES  # the owner key written at first start
# Legacy: keys stored before core migration 2 could hold "*" (every scope, admin included). That
# migration rewrote them; should one still be met, it means every scope but admin.
FULL = "*"
OWNER_KEY_NAME = "local admin key"
LOCAL_USER = "local"  # the owner: the user of the key written at first start


@dataclass(frozen=True)
class User:
    id: str
    name: str
    scopes: frozenset[str]
    key_id: str

    def has(self, scope: str) -> bool:
        if scope in self.scopes:
            return True
        return scope != ADMIN and FULL in self.scopes


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def get_or_create_user(conn: sqlite3.Connection, name: str) -> str:
    row = conn.execute("SELECT id FROM users WHERE name = ?", (name,)).fetchone()
    if row:
        return str(row[0])
    uid = new_id("usr")
    conn.execute("INSERT OR IGNORE INTO users(id, name, created_at) VALUES (?,?,?)", (uid, name, now()))
    row = conn.execute("SELECT id FROM users WHERE name = ?", (name,)).fetchone()
    return str(row[0])


def normalize_scopes(scopes: list[str] | None) -> list[str]:
    """Validated, sorted scopes; ``None``/empty (or the legacy ``["*"]``) → every scope but admin."""
    if not scopes:
        return sorted(DEFAULT_SCOPES)
    if FULL in scopes:
        scopes = [s for s in scopes if s != FULL] + list(DEFAULT_SCOPES)
    bad = [s for s in scopes if s not in SCOPES]
    if bad:
        raise ApiError(
            400,
            message=f"scopes: unknown scope {bad[0]!r} (one of {', '.join(SCOPES)})",
            details=[{"loc": ["body", "scopes"], "msg": f"unknown scope {bad[0]!r}"}],
        )
    return sorted(set(scopes))


def check_grant(caller: User, user: str, scopes: list[str]) -> None:
    """403 unless ``caller`` may mint a key for ``user`` with ``scopes`` (already normalised).

    A key never grants a scope it lacks itself, and only an ``admin`` key mints keys for a user
    other than its own.
    """
    if user != caller.name and not caller.has(ADMIN):
        raise ApiError(403, message=f"this API key lacks the '{ADMIN}' scope (needed to mint a key for "
                                    f"another user, {user!r})")
    missing = [s for s in scopes if not caller.has(s)]
    if missing:
        raise ApiError(403, message=f"this API key lacks the '{missing[0]}' scope, so it cannot grant it"
                                    " (name the scopes to grant with --scope)",
                       details=[{"loc": ["body", "scopes"], "msg": f"the caller lacks {s!r}"} for s in missing])


def create_key(
    conn: sqlite3.Connection, user: str = LOCAL_USER, scopes: list[str] | None = None, name: str | None = None
) -> tuple[str, dict[str, Any]]:
    """Mint a key for ``user`` (created if new). Returns (secret key, public record)."""
    sc = normalize_scopes(scopes)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    kid = new_id("key")
    with transaction(conn):
        uid = get_or_create_user(conn, user)
        created = now()
        conn.execute(
            "INSERT INTO api_keys(id, user_id, key_hash, prefix, name, scopes, created_at)"
            " VALUES (?,?,?,?,?,?,?)",
            (kid, uid, hash_key(key), key[: len(KEY_PREFIX) + 4], name, json.dumps(sc), created),
        )
    return key, {"id": kid, "user": user, "scopes": sc, "name": name, "prefix": key[: len(KEY_PREFIX) + 4],
                 "created_at": created, "revoked_at": None}


def list_keys(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT k.id, u.name AS user, k.scopes, k.name, k.prefix, k.created_at, k.revoked_at, k.last_used_at"
        " FROM api_keys k JOIN users u ON u.id = k.user_id ORDER BY k.created_at, k.id"
    ).fetchall()
    return [{**dict(r), "scopes": json.loads(r["scopes"])} for r in rows]


def revoke_key(conn: sqlite3.Connection, key_id: str) -> bool:
    cur = conn.execute(
        "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now(), key_id)
    )
    return cur.rowcount > 0


def lookup(conn: sqlite3.Connection, key: str) -> User | None:
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    row = conn.execute(
        "SELECT k.id, k.user_id, k.scopes, u.name FROM api_keys k JOIN users u ON u.id = k.user_id"
        " WHERE k.key_hash = ? AND k.revoked_at IS NULL",
        (hash_key(key),),
    ).fetchone()
    if row is None:
        return None
    return User(id=row["user_id"], name=row["name"], scopes=frozenset(json.loads(row["scopes"])), key_id=row["id"])


_LAST_USED_EVERY = 60.0  # seconds between last_used_at writes per key (no write per request)
_last_used: dict[str, float] = {}


def _touch(conn: sqlite3.Connection, key_id: str) -> None:
    import time

    t = time.monotonic()
    if t - _last_used.get(key_id, -_LAST_USED_EVERY) >= _LAST_USED_EVERY:
        _last_used[key_id] = t
        conn.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", (now(), key_id))


KEY_CACHE_TTL = 2.0  # seconds a verified key is trusted without a database lookup


def _cached_lookup(state: Any, key: str) -> User | None:
    """``lookup`` behind a short per-app cache (keyed by the key's hash, valid keys only).

    Revoking through the API clears the cache at once (``forget_keys``); a key revoked in the
    database by another process stops working within ``KEY_CACHE_TTL`` seconds.
    """
    import time

    cache: dict[str, tuple[User, float]] | None = getattr(state, "key_cache", None)
    if cache is None:
        cache = state.key_cache = {}
    h = hash_key(key)
    hit = cache.get(h)
    t = time.monotonic()
    if hit is not None and hit[1] > t:
        return hit[0]
    user = lookup(state.db, key)
    if user is None:
        cache.pop(h, None)
        return None
    if len(cache) > 1000:
        cache.clear()
    cache[h] = (user, t + KEY_CACHE_TTL)
    return user


def forget_keys(state: Any) -> None:
    """Drop the verified-key cache (after a revocation)."""
    cache = getattr(state, "key_cache", None)
    if cache is not None:
        cache.clear()


def authenticate(request: Any) -> User:
    """The request's user, or 401. Cached on ``request.state.user``."""
    cached = getattr(request.state, "user", None)
    if cached is not None:
        return cached
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, message="missing API key: send 'Authorization: Bearer <key>'",
                       headers={"WWW-Authenticate": "Bearer"})
    user = _cached_lookup(request.app.state, token.strip())
    if user is None:
        raise ApiError(401, message="invalid or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    _touch(request.app.state.db, user.key_id)
    request.state.user = user
    return user


def require(request: Any, scope: str | None) -> User:
    """The request's user if its key carries ``scope`` (None: any valid key); else 401/403."""
    user = authenticate(request)
    if scope is not None and not user.has(scope):
        raise ApiError(403, message=f"this API key lacks the '{scope}' scope")
    return user


def ensure_local_key(conn: sqlite3.Connection, key_file: Path) -> str:
    """First start: the owner (user ``local``) + a key with every scope, ``admin`` included,
    written to ``key_file`` (0600).

    On later starts the stored key is reused if it is still valid; otherwise a new one is minted.
    """
    key_file = Path(key_file)
    if key_file.exists():
        existing = key_file.read_text(encoding="utf-8").strip()
        if existing and lookup(conn, existing) is not None:
            os.chmod(key_file, 0o600)
            return existing
    key, _ = create_key(conn, LOCAL_USER, list(OWNER_SCOPES), name=OWNER_KEY_NAME)
    write_secret(key_file, key)
    return key


def write_secret(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically with mode 0600 (never world-readable, not even briefly)."""
    from phantom_cli.config.settings import atomic_write

    atomic_write(path, (text + "\n").encode("utf-8"), mode=0o600)
