"""The backend's SQLite connections run in WAL mode with foreign keys enforced (issue 3)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

import phantom_cli.backend as backend_pkg
from phantom_cli.backend import db
from phantom_cli.backend.testing import LiveServer


def pragmas(conn: sqlite3.Connection) -> tuple[str, int, int]:
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    fk = conn.execute("PRAGMA foreign_keys").fetchone()[0]
    busy = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    return str(mode).lower(), int(fk), int(busy)


def test_connect_sets_wal_and_foreign_keys(tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "x.db")
    try:
        mode, fk, busy = pragmas(conn)
        assert mode == "wal"
        assert fk == 1
        assert busy >= 1000  # worker threads wait for a writer instead of failing at once
        conn.executescript(
            "CREATE TABLE parent (id TEXT PRIMARY KEY);"
            "CREATE TABLE child (id TEXT PRIMARY KEY, parent_id TEXT NOT NULL REFERENCES parent(id));"
        )
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            conn.execute("INSERT INTO child VALUES ('c1', 'missing')")
    finally:
        conn.close()
    # WAL is a property of the file: a plain connection sees it too
    plain = sqlite3.connect(tmp_path / "x.db")
    try:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
    finally:
        plain.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    srv = LiveServer(tmp_path / "srv").start()
    try:
        yield srv
    finally:
        srv.stop()


def test_the_running_servers_connections(server: LiveServer) -> None:
    loop_conn = server.app.state.db  # type: ignore[attr-defined]  # the event loop's connection
    mode, fk, _ = pragmas(loop_conn)
    assert (mode, fk) == ("wal", 1)
    worker = server.db()  # what a worker thread opens (db.connect on the server's path)
    try:
        assert pragmas(worker)[:2] == ("wal", 1)
        # foreign keys are enforced on the real schema: a message needs its instance
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            worker.execute(
                "INSERT INTO messages (id, instance_id, role, medium, content, created_at, updated_at)"
                " VALUES ('msg_x', 'inst_missing', 'user', 'text', 'hi', ?, ?)",
                (db.now(), db.now()),
            )
    finally:
        worker.close()
    assert Path(str(server.settings.db_path) + "-wal").exists()  # type: ignore[attr-defined]


def test_no_backend_module_opens_sqlite_without_the_pragmas() -> None:
    """Every connection goes through db.connect (which sets the pragmas)."""
    root = Path(backend_pkg.__file__).parent
    offenders = [
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if p.name != "db.py" and re.search(r"\bsqlite3\.connect\(", p.read_text(encoding="utf-8"))
    ]
    assert offenders == []
