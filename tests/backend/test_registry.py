"""registry.py is the one list of what the server is made of: every routes module, every
migration area (in order), every job kind and hook. Nothing registers itself on import."""

from __future__ import annotations

import pkgutil
import re
import sqlite3
from pathlib import Path

import pytest

import phantom_cli.backend as backend_pkg
from phantom_cli.backend import db, jobs, registry
from phantom_cli.backend import routes as routes_pkg

BACKEND_DIR = Path(backend_pkg.__file__).parent


def test_every_routes_module_is_listed() -> None:
    on_disk = {i.name for i in pkgutil.iter_modules(routes_pkg.__path__) if not i.name.startswith("_")}
    assert set(registry.ROUTE_MODULES) == on_disk
    assert len(registry.ROUTE_MODULES) == len(set(registry.ROUTE_MODULES))
    for mod in registry.route_modules():
        assert mod.routes, mod.__name__
        assert not hasattr(mod, "startup") and not hasattr(mod, "shutdown"), (
            f"{mod.__name__}: start-up work goes in registry.STARTUP"
        )


def test_every_module_with_migrations_is_listed() -> None:
    listed = {mod for _, mod in registry.MIGRATION_AREAS}
    found = set()
    for path in BACKEND_DIR.rglob("*.py"):
        if re.search(r"^MIGRATIONS\s*=", path.read_text(encoding="utf-8"), re.M):
            rel = path.relative_to(BACKEND_DIR.parent.parent).with_suffix("")
            name = ".".join(rel.parts).removesuffix(".__init__")
            found.add(name)
    assert found == listed
    areas = [a for a, _ in registry.MIGRATION_AREAS]
    assert areas[0] == "core" and len(areas) == len(set(areas))
    # jobs before generation: generation v2 moves its rows into the jobs table
    assert areas.index("jobs") < areas.index("generation")


def _created(kind: str) -> set[str]:
    """Every name a ``CREATE <kind>`` in the backend's source makes (what a fresh DB must hold)."""
    names: set[str] = set()
    for path in BACKEND_DIR.rglob("*.py"):
        if path.name == "db.py":  # its docstring shows an example table
            continue
        text = path.read_text(encoding="utf-8")
        names |= set(re.findall(rf"CREATE {kind} (?:IF NOT EXISTS )?(\w+)", text))
    return names


def test_fresh_database_gets_every_table(tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "fresh.db")
    try:
        applied = db.migrate(conn)
        assert [(m.area, m.version) for m in applied] == [(m.area, m.version) for m in registry.migrations()]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        views = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'view'")}
        # generation_jobs was a table (v1) and is a view of ``jobs`` since v2
        expected_views = _created("VIEW")
        assert expected_views == {"generation_jobs"} and expected_views <= views
        assert (_created("TABLE") - expected_views) <= tables
        assert {"users", "jobs", "memory_item", "npc_sessions", "scratchpads", "content_kv"} <= tables
    finally:
        conn.close()


def test_job_kinds_hooks_resolve() -> None:
    kinds = {k.kind: k for k in registry.job_kinds()}
    assert set(kinds) == {"memory.extract", "generation.render"}
    assert all(isinstance(k, jobs.JobKind) for k in kinds.values())
    assert kinds["generation.render"].lane == "generation" and kinds["memory.extract"].lane == "default"
    assert all(callable(h) for h in registry.startup_hooks() + registry.shutdown_hooks())
    # the job runner starts last: orphan media files are gone before any job runs
    assert registry.STARTUP[-1] == "phantom_cli.backend.jobs:ensure_runner"


def test_importing_a_module_registers_nothing() -> None:
    assert not hasattr(db, "_REGISTRY")
    with pytest.raises(RuntimeError, match="MIGRATIONS"):  # a branch written before the registry
        db.register_migration("zz", 1, "t", "CREATE TABLE zz (a);")
    from phantom_cli.backend import app

    assert not hasattr(app, "on_startup") and not hasattr(app, "route_modules")


def test_old_generation_jobs_rows_move_into_jobs(tmp_path: Path) -> None:
    """A database from before the one job system: its generation_jobs rows (queued, running,
    succeeded, failed) become generation.render jobs with the same ids, and read back the same."""
    conn = db.connect(tmp_path / "old.db")
    try:
        before = [m for m in registry.migrations() if not (m.area == "generation" and m.version > 1)
                  and not (m.area == "jobs" and m.version > 1)]
        db.migrate(conn, before)
        conn.execute("INSERT INTO users(id, name, created_at) VALUES ('u1', 'me', 't')")
        rows = [
            ("job_q", "gen_q", "image", "queued", 0, None, None, None),
            ("job_r", "gen_r", "video", "running", 2, None, None, None),
            ("job_s", "gen_s", "image", "succeeded", 1, None, "med_1", "col_1"),
            ("job_f", "gen_f", "image", "failed", 1, "skin_id: gone", None, None),
        ]
        for jid, gid, kind, status, att, err, mid, cid in rows:
            conn.execute(
                "INSERT INTO generation_jobs(id, generation_id, user_id, kind, status, request, attempts,"
                " error, media_id, collection_id, created_at, updated_at)"
                " VALUES (?,?,'u1',?,?,?,?,?,?,?,?,?)",
                (jid, gid, kind, status, '{"skin_id": "s", "category": "scene"}', att, err, mid, cid,
                 f"2026-01-01T00:00:0{len(jid)}Z", "t"),
            )
        applied = db.migrate(conn)
        assert [(m.area, m.version) for m in applied] == [("jobs", 2), ("generation", 2)]
        moved = {r["id"]: r for r in conn.execute("SELECT * FROM jobs")}
        assert set(moved) == {r[0] for r in rows}
        assert {r["kind"] for r in moved.values()} == {"generation.render"}
        assert moved["job_s"]["status"] == "done" and moved["job_r"]["status"] == "running"
        assert moved["job_r"]["attempts"] == 2 and moved["job_q"]["user_id"] == "u1"
        view = {r["id"]: dict(r) for r in conn.execute("SELECT * FROM generation_jobs")}
        for jid, gid, kind, status, att, err, mid, cid in rows:
            v = view[jid]
            assert (v["generation_id"], v["kind"], v["status"], v["attempts"], v["error"],
                    v["media_id"], v["collection_id"]) == (gid, kind, status, att, err, mid, cid)
            assert '"category"' in v["request"]
        # the running one is claimed again after a restart (crash recovery)
        from phantom_cli.backend.generation import claim, recover

        assert recover(conn, tmp_path / "media")["requeued"] == 1
        got = [claim(conn)["id"] for _ in range(2)]
        assert sorted(got) == ["job_q", "job_r"] and claim(conn) is None
        # the old table is gone: nothing can write to it any more
        try:
            conn.execute("INSERT INTO generation_jobs(id) VALUES ('x')")
            raise AssertionError("generation_jobs is still writable")
        except sqlite3.OperationalError:
            pass
    finally:
        conn.close()
