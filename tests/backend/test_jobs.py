"""The persistent job runner: retries with back-off, failure recorded, unknown kinds fail."""

from __future__ import annotations

import time
from typing import Any

from phantom_cli.backend import jobs
from phantom_cli.backend.db import transaction

from .conftest import wait_jobs

calls: dict[str, int] = {}


async def _flaky(app: Any, payload: dict[str, Any], job_id: str) -> None:
    calls[job_id] = calls.get(job_id, 0) + 1
    if calls[job_id] < payload["succeed_on"]:
        raise RuntimeError(f"transient failure {calls[job_id]}")


jobs.register_handler("test.flaky", _flaky)


def _enqueue(server: Any, kind: str, payload: dict[str, Any]) -> str:
    conn = server.db()
    try:
        with transaction(conn):
            jid = jobs.enqueue(conn, kind, payload)
    finally:
        conn.close()
    jobs.notify(server.app)  # from another thread: safe
    return jid


def _job(server: Any, jid: str) -> dict[str, Any]:
    conn = server.db()
    try:
        status = jobs.job_status(conn, jid)
        assert status is not None
        return status
    finally:
        conn.close()


def test_retry_then_success_and_final_failure(make_server: Any) -> None:
    server = make_server()
    server.app.state.job_runner.backoff = 0.01
    ok = _enqueue(server, "test.flaky", {"succeed_on": 2})
    bad = _enqueue(server, "test.flaky", {"succeed_on": 99})
    unknown = _enqueue(server, "test.nobody", {})
    wait_jobs(server)
    assert _job(server, ok)["status"] == "done" and _job(server, ok)["attempts"] == 2
    failed = _job(server, bad)
    assert failed["status"] == "failed" and failed["attempts"] == 3
    assert "transient failure 3" in failed["error"]
    lost = _job(server, unknown)
    assert lost["status"] == "failed" and "no handler" in lost["error"]


def test_paused_runner_leaves_jobs_queued(make_server: Any) -> None:
    server = make_server()
    server.app.state.job_runner.paused = True
    jid = _enqueue(server, "test.flaky", {"succeed_on": 1})
    time.sleep(0.2)
    assert _job(server, jid)["status"] == "queued"
    server.app.state.job_runner.paused = False
    jobs.notify(server.app)
    wait_jobs(server)
    assert _job(server, jid)["status"] == "done"
