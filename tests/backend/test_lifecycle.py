"""Server lifecycle: restart keeps data, runtime file, start lock, stale file, idle exit, modes."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from phantom_cli.backend import runtime
from phantom_cli.backend.testing import LiveServer


@pytest.fixture
def cleanup_server():
    yield
    runtime.stop_server()


def test_restart_keeps_all_data(tmp_path: Path) -> None:
    home = tmp_path / "srv"
    s = LiveServer(home).start()
    try:
        key = s.make_key(user="keeper", scopes=["instances", "personas", "activities"])
        aid = s.add_activity(title="Persistent")
        with s.client(api_key=key) as c:
            inst = c.instances.create(aid)
            msg = c.instances.messages.create(inst.id, content="remember me")
            per = c.personas.create(name="Me")
        admin_key = s.api_key
    finally:
        s.stop()
    s2 = LiveServer(home).start()
    try:
        assert s2.api_key == admin_key  # the key file is reused
        with s2.client(api_key=key) as c:  # minted keys still work
            assert c.instances.get(inst.id).snapshot_title == "Persistent"
            assert c.instances.messages.get(inst.id, msg.id).content == "remember me"
            assert c.personas.get(per.id).is_default
        conn = s2.db()
        try:
            versions = conn.execute("SELECT area, version FROM schema_version").fetchall()
            assert ("core", 1) in [tuple(v) for v in versions]
        finally:
            conn.close()
    finally:
        s2.stop()


def test_migrations_apply_once_and_in_order(tmp_path: Path) -> None:
    from phantom_cli.backend import db, registry

    conn = db.connect(tmp_path / "t.db")
    try:
        extra = [
            db.Migration("zz_test", 1, "t1", "CREATE TABLE zz_t (a INTEGER);"),
            db.Migration("zz_test", 2, "t2", lambda c: c.execute("ALTER TABLE zz_t ADD COLUMN b TEXT")),
        ]
        applied = db.migrate(conn, [*registry.migrations(), *extra])
        assert [(m.area, m.version) for m in applied if m.area == "zz_test"] == [("zz_test", 1), ("zz_test", 2)]
        assert applied[0].area == "core"
        conn.execute("INSERT INTO zz_t(a, b) VALUES (1, 'x')")
        assert db.migrate(conn, [*registry.migrations(), *extra]) == []  # idempotent; data kept
        # a failing migration rolls back alone and leaves data intact
        extra.append(db.Migration("zz_test", 3, "bad", "ALTER TABLE zz_t ADD COLUMN c TEXT; SELECT * FROM nope;"))
        import sqlite3

        with pytest.raises(sqlite3.OperationalError):
            db.migrate(conn, [*registry.migrations(), *extra])
        assert tuple(conn.execute("SELECT a, b FROM zz_t").fetchone()) == (1, "x")
        cols = [r[1] for r in conn.execute("PRAGMA table_info(zz_t)")]
        assert "c" not in cols
    finally:
        conn.close()


def test_file_modes_0600(tmp_path: Path) -> None:
    s = LiveServer(tmp_path / "srv")
    try:
        for p in (s.settings.db_path, s.settings.key_file):
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
        assert s.api_key.startswith("ph_local_")
        conn = s.db()
        try:  # only a hash is stored
            assert conn.execute("SELECT COUNT(*) FROM api_keys WHERE key_hash = ?", (s.api_key,)).fetchone()[0] == 0
        finally:
            conn.close()
    finally:
        s.app.state.db.close()


_ENSURE = "from phantom_cli.backend import runtime; print(runtime.ensure_server({'idle_timeout': 60})['pid'])"


def test_two_concurrent_autostarts_start_one_server(cleanup_server) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", _ENSURE], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    pids = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(pids) == 1, pids
    info = runtime.status()
    assert info is not None and str(info["pid"]) in pids
    assert stat.S_IMODE(runtime.runtime_file().stat().st_mode) == 0o600
    from phantom_cli.config import paths

    key_file = paths.data_dir() / "backend" / "api_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    r = httpx.get(info["base_url"] + "/api/v1/local/info",
                  headers={"Authorization": f"Bearer {key_file.read_text().strip()}"})
    assert r.status_code == 200


def test_stale_runtime_file_is_replaced(cleanup_server) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    runtime.write_runtime({**runtime.runtime_info("127.0.0.1", 9), "pid": dead.pid})
    assert runtime.status() is None
    info = runtime.ensure_server({"idle_timeout": 60})
    assert info["pid"] != dead.pid and runtime.health_ok(info["base_url"])
    # a live pid that does not answer /health is stale too
    runtime.stop_server()
    runtime.write_runtime({**runtime.runtime_info("127.0.0.1", 9), "pid": os.getpid()})
    info = runtime.ensure_server({"idle_timeout": 60})
    assert info["pid"] != os.getpid()


def test_idle_exit_removes_runtime_file(cleanup_server) -> None:
    info = runtime.ensure_server({"idle_timeout": 1})
    deadline = time.monotonic() + 15
    while runtime.pid_alive(info["pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not runtime.pid_alive(info["pid"]), "the server did not exit when idle"
    assert runtime.read_runtime() is None


def test_serve_stop_and_status_cli(cleanup_server) -> None:
    from phantom_cli.cli.main import app

    runner = CliRunner()
    r = runner.invoke(app, ["serve", "status"])
    assert r.exit_code == 1 and "not running" in r.output
    info = runtime.ensure_server({"idle_timeout": 60})
    r = runner.invoke(app, ["serve", "status"])
    assert r.exit_code == 0 and str(info["pid"]) in r.output
    r = runner.invoke(app, ["serve", "logs", "-n", "5"])
    assert r.exit_code == 0
    r = runner.invoke(app, ["serve", "stop"])
    assert r.exit_code == 0 and str(info["pid"]) in r.output
    assert not runtime.pid_alive(info["pid"])
    assert runtime.read_runtime() is None


def test_non_loopback_bind_refused_without_flag() -> None:
    from phantom_cli.cli.main import app

    r = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "0"])
    assert r.exit_code == 2
    assert "--allow-remote" in r.output


def test_foreground_serve_port_0_prints_url() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "phantom_cli", "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert "http://127.0.0.1:" in line, line
        url = line.split("listening on ")[1].split()[0]
        assert httpx.get(url + "/health").status_code == 200
        assert runtime.status() is not None  # registered, so commands reuse it
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(15)
    assert proc.returncode in (0, 130)  # Ctrl-C: a clean shutdown, conventionally 130
    assert runtime.read_runtime() is None


def test_server_of_another_version_is_replaced(cleanup_server) -> None:
    info = runtime.ensure_server({"idle_timeout": 60})
    runtime.write_runtime({**info, "version": "0.0.0-old"})
    new = runtime.ensure_server({"idle_timeout": 60})
    assert new["pid"] != info["pid"]
    assert not runtime.pid_alive(info["pid"])
