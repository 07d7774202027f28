"""SQLite storage: one file, WAL, foreign keys, a versioned schema per area.

Each *area* (``core``, ``content``, ``companion``, ``npc`` …) owns its tables and lists its
migrations in a module-level ``MIGRATIONS`` tuple of the module that owns them::

    from phantom_cli.backend.db import Migration
    MIGRATIONS = (
        Migration("npc", 1, "npc sessions", "CREATE TABLE npc_session (...);"),
        Migration("npc", 2, "add score", lambda conn: conn.execute("ALTER TABLE ...")),
    )

Nothing is registered by importing a module: ``registry.MIGRATION_AREAS`` lists every area and
its module, in the order they are applied. Each area has its own version sequence (1, 2, 3 …)
recorded in ``schema_version(area, version)``, so several people add tables without touching
the same line. ``migrate()`` applies pending migrations in that order; each migration runs in
its own transaction together with its ``schema_version`` row, so a failed upgrade leaves the
previous schema and all data intact. Never edit a released migration: append a new version.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

MigrationBody = str | Callable[[sqlite3.Connection], None]


@dataclass(frozen=True)
class Migration:
    area: str
    version: int
    name: str
    body: MigrationBody


def register_migration(area: str, version: int, name: str, body: MigrationBody) -> None:
    """Gone: migrations are listed, not registered on import. Kept only to say where they go."""
    raise RuntimeError(
        f"register_migration({area!r}, {version}, …) is gone: add db.Migration({area!r}, {version}, …)"
        " to the owning module's MIGRATIONS tuple, and list a new area in"
        " registry.MIGRATION_AREAS (see phantom_cli/backend/README.md, 'Migrations')"
    )


def connect(path: Path | str) -> sqlite3.Connection:
    """A connection with the project's pragmas, autocommit mode (use ``transaction()``).

    The file is created 0600. One connection per thread: the event loop owns
    ``app.state.db``; worker threads open their own with this function.
    """
    path = Path(path)
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
        os.chmod(path, 0o600)
    conn = sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, timeout=10.0
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection, immediate: bool = True) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on error). Never ``await`` inside it."""
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def _applied(conn: sqlite3.Connection) -> set[tuple[str, int]]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " area TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,"
        " applied_at TEXT NOT NULL, PRIMARY KEY (area, version))"
    )
    return {(r[0], r[1]) for r in conn.execute("SELECT area, version FROM schema_version")}


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] | None = None) -> list[Migration]:
    """Apply every pending migration (default: ``registry.migrations()``); returns those applied."""
    if migrations is None:
        from .registry import migrations as listed

        migrations = listed()
    done = _applied(conn)
    applied: list[Migration] = []
    for m in migrations:
        if (m.area, m.version) in done:
            continue
        with transaction(conn):
            if callable(m.body):
                m.body(conn)
            else:
                for stmt in _split_sql(m.body):
                    conn.execute(stmt)
            conn.execute(
                "INSERT INTO schema_version(area, version, name, applied_at) VALUES (?,?,?,?)",
                (m.area, m.version, m.name, now()),
            )
        applied.append(m)
    return applied


def _split_sql(sql: str) -> list[str]:
    """Split a script into statements (``executescript`` would commit our transaction).

    Pieces between semicolons are joined until sqlite says the statement is complete, so a
    trigger body (``BEGIN …; …; END;``) or a ``;`` inside a string stays in one statement.
    """
    out: list[str] = []
    buf = ""
    for piece in sql.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n\t;"):
                out.append(buf.strip())
            buf = ""
    if buf.strip(" \n\t;"):
        out.append(buf.strip())
    return out


# --------------------------------------------------------------------------- time and ids

_clock_lock = threading.Lock()
_last_us = 0


def now() -> str:
    """ISO-8601 UTC with microseconds, strictly increasing within this process.

    Keyset pagination orders by ``(created_at, id)``; a strictly increasing clock keeps new
    rows in front of every cursor.
    """
    global _last_us
    with _clock_lock:
        us = int(time.time() * 1_000_000)
        if us <= _last_us:
            us = _last_us + 1
        _last_us = us
    dt = datetime.fromtimestamp(us / 1_000_000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{us % 1_000_000:06d}Z"


def new_id(prefix: str) -> str:
    """An opaque id ``<prefix>_<20 hex chars>``: time-ordered, then random."""
    import secrets

    return f"{prefix}_{int(time.time() * 1000):011x}{secrets.token_hex(5)}"
