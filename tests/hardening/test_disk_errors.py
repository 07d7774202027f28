"""Issue 13.6 "disk errors": a full disk or a read-only PHANTOM_HOME says what is wrong and
where, with exit 3 for local storage the CLI cannot write (was ``unexpected error: OSError``,
exit 1; a bare 500 with the cause only in the log; ``phantom serve`` blaming the network).

Tests run as root, so a chmod'ed folder would still be writable: the write functions are
monkeypatched to fail with ENOSPC/EROFS, as the kernel would.
"""

from __future__ import annotations

import errno
import sqlite3
from typing import Any

import pytest
from typer.testing import CliRunner


def _run(args: list[str], env: dict[str, str] | None = None) -> Any:
    from phantom_cli.cli.main import app

    return CliRunner().invoke(app, args, env={"PHANTOM_FORCE_TTY": "0", **(env or {})})


def _err(r: Any) -> str:
    return r.output + (r.stderr if r.stderr_bytes is not None else "")


def test_read_only_home_names_the_path_and_exits_3(phantom_home, memory_keyring, monkeypatch) -> None:
    lock = phantom_home / "state" / "server.lock"

    def read_only(*a: Any, **kw: Any) -> Any:
        raise OSError(errno.EROFS, "Read-only file system", str(lock))

    monkeypatch.setattr("phantom_cli.backend.runtime.ensure_server", read_only)
    r = _run(["personas", "list"])
    out = _err(r)
    assert r.exit_code == 3, out
    assert "unexpected error" not in out
    assert str(lock) in out and "read-only" in out


def test_full_disk_on_the_server_is_said_to_the_client(fresh_server, monkeypatch) -> None:
    def full(*a: Any, **kw: Any) -> Any:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr("phantom_cli.backend.routes.personas.transaction", full)
    with fresh_server.http() as c:
        r = c.post("/api/v1/personas", json={"name": "Ash"})
    assert r.status_code == 500
    msg = r.json()["error"]["message"]
    assert "disk is full" in msg and str(fresh_server.settings.db_path) in msg

    res = _run(["personas", "create", "Ash"],
               env={"PHANTOM_BASE_URL": fresh_server.base_url, "PHANTOM_API_KEY": fresh_server.api_key})
    out = _err(res)
    assert res.exit_code == 1, out
    assert "disk is full" in out and str(fresh_server.settings.db_path) in out


def test_full_disk_writing_media_names_the_file(tmp_path, monkeypatch) -> None:
    from phantom_cli.config.settings import storage_problem

    exc = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "media" / "gen_x.png"))
    assert storage_problem(exc) == f"cannot write {tmp_path / 'media' / 'gen_x.png'}: the disk is full"
    assert storage_problem(ValueError("x")) is None


def test_serve_on_a_read_only_home_does_not_blame_the_network(phantom_home, memory_keyring, monkeypatch) -> None:
    db = phantom_home / "data" / "backend" / "phantom.db"

    def read_only(settings: Any, **kw: Any) -> None:
        raise OSError(errno.EROFS, "Read-only file system", str(db))

    monkeypatch.setattr("phantom_cli.backend.server.serve", read_only)
    r = _run(["serve", "--port", "0"])
    out = _err(r)
    assert r.exit_code == 3, out
    assert "cannot bind" not in out
    assert str(db) in out and "read-only" in out


@pytest.mark.parametrize("message", ["attempt to write a readonly database", "database or disk is full"])
def test_serve_sqlite_errors_name_the_database(phantom_home, memory_keyring, monkeypatch, message) -> None:
    def fails(settings: Any, **kw: Any) -> None:
        raise sqlite3.OperationalError(message)

    monkeypatch.setattr("phantom_cli.backend.server.serve", fails)
    r = _run(["serve", "--port", "0"])
    out = _err(r)
    assert r.exit_code == 3, out
    assert "phantom.db" in out and "cannot bind" not in out
