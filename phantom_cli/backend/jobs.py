"""A persistent background job runner: a ``jobs`` table and one worker loop per app.

Any area can use it::

    from phantom_cli.backend import jobs

    async def handle(app, payload: dict, job_id: str) -> None: ...   # raise to fail / retry
    jobs.register_handler("memory.extract", handle)

    job_id = jobs.enqueue(conn, "memory.extract", {"chat_id": ...})  # inside your transaction
    jobs.notify(app)                                                 # wake the worker now

A job is a row (``queued → running → done | failed``) written in the caller's transaction, so
it exists exactly when the work that asked for it was committed. On start the runner puts every
``running`` row back to ``queued`` (the server stopped mid-job) and works through the queue
oldest first, one job at a time. A handler that raises is retried with back-off up to
``max_attempts`` times, then marked ``failed`` with the error. ``runner.paused`` holds the queue
(tests: leave a job queued across a restart).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .db import new_id, now, register_migration, transaction

log = logging.getLogger("phantom.backend.jobs")

register_migration(
    "jobs",
    1,
    "persistent background jobs",
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'queued',
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL DEFAULT 3,
        run_after REAL NOT NULL DEFAULT 0,
        error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX jobs_queue ON jobs(status, run_after, created_at);
    """,
)

Handler = Callable[[Any, dict[str, Any], str], Awaitable[None]]
_handlers: dict[str, Handler] = {}

STATUSES = ("queued", "running", "done", "failed")
IDLE_POLL = 1.0  # seconds between checks of the table when nobody notifies


def register_handler(kind: str, handler: Handler) -> None:
    """Register ``async def handler(app, payload, job_id)`` for jobs of ``kind``."""
    _handlers[kind] = handler


def enqueue(conn: sqlite3.Connection, kind: str, payload: dict[str, Any], *, max_attempts: int = 3) -> str:
    """Insert a queued job (in the caller's transaction if one is open); returns its id."""
    jid = new_id("job")
    ts = now()
    conn.execute(
        "INSERT INTO jobs(id, kind, payload, status, attempts, max_attempts, run_after, created_at, updated_at)"
        " VALUES (?,?,?,'queued',0,?,0,?,?)",
        (jid, kind, json.dumps(payload, ensure_ascii=False), max_attempts, ts, ts),
    )
    return jid


def job_status(conn: sqlite3.Connection, job_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT id, kind, status, attempts, error, created_at, updated_at FROM jobs WHERE id = ?", (job_id,)
    ).fetchone()
    return dict(row) if row else None


def notify(app: Any) -> None:
    """Wake the app's worker (safe from any thread)."""
    runner: JobRunner | None = getattr(app.state, "job_runner", None)
    if runner is not None:
        runner.notify()


class JobRunner:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.paused = False
        self.backoff = 1.0  # seconds before the first retry; doubles per attempt
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self.processed = 0

    @property
    def conn(self) -> sqlite3.Connection:
        return self.app.state.db

    def requeue_unfinished(self) -> int:
        with transaction(self.conn):
            cur = self.conn.execute(
                "UPDATE jobs SET status = 'queued', updated_at = ? WHERE status = 'running'", (now(),)
            )
        return cur.rowcount or 0

    async def start(self) -> None:
        if self._task is not None and not self._task.done():
            return
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        n = self.requeue_unfinished()
        if n:
            log.info("requeued %d unfinished job(s)", n)
        from .app import spawn

        self._task = spawn(self.app, self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
            self._task = None

    def notify(self) -> None:
        loop, event = self._loop, self._event
        if loop is None or event is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            loop.call_soon_threadsafe(event.set)

    def _claim(self) -> sqlite3.Row | None:
        with transaction(self.conn):
            row = self.conn.execute(
                "SELECT id, kind, payload, attempts, max_attempts FROM jobs"
                " WHERE status = 'queued' AND run_after <= ? ORDER BY created_at, id LIMIT 1",
                (time.time(),),
            ).fetchone()
            if row is None:
                return None
            self.conn.execute(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, updated_at = ? WHERE id = ?",
                (now(), row["id"]),
            )
        return row

    def _next_due(self) -> float | None:
        row = self.conn.execute("SELECT MIN(run_after) FROM jobs WHERE status = 'queued'").fetchone()
        return float(row[0]) if row and row[0] is not None else None

    async def _run(self) -> None:
        assert self._event is not None
        while True:
            row = None if self.paused else self._claim()
            if row is None:
                self._event.clear()
                timeout = IDLE_POLL
                due = None if self.paused else self._next_due()
                if due is not None:
                    timeout = max(0.01, min(IDLE_POLL, due - time.time()))
                try:
                    await asyncio.wait_for(self._event.wait(), timeout)
                except TimeoutError:
                    pass
                continue
            await self._execute(row)

    async def _execute(self, row: sqlite3.Row) -> None:
        jid, kind = row["id"], row["kind"]
        handler = _handlers.get(kind)
        try:
            if handler is None:
                raise LookupError(f"no handler registered for job kind {kind!r}")
            await handler(self.app, json.loads(row["payload"]), jid)
        except asyncio.CancelledError:
            raise  # shutdown mid-job: the row stays 'running' and is requeued on next start
        except Exception as exc:  # noqa: BLE001 - recorded on the job
            attempts = int(row["attempts"]) + 1
            final = attempts >= int(row["max_attempts"]) or handler is None
            log.warning("job %s (%s) failed (attempt %d): %s", jid, kind, attempts, exc)
            with transaction(self.conn):
                self.conn.execute(
                    "UPDATE jobs SET status = ?, error = ?, run_after = ?, updated_at = ? WHERE id = ?",
                    ("failed" if final else "queued", f"{type(exc).__name__}: {exc}"[:2000],
                     time.time() + self.backoff * 2.0 ** (attempts - 1), now(), jid),
                )
        else:
            with transaction(self.conn):
                self.conn.execute(
                    "UPDATE jobs SET status = 'done', error = NULL, updated_at = ? WHERE id = ?", (now(), jid)
                )
        self.processed += 1


async def ensure_runner(app: Any) -> JobRunner:
    """The app's runner, started once (call from any ``startup`` hook)."""
    runner: JobRunner | None = getattr(app.state, "job_runner", None)
    if runner is None:
        runner = JobRunner(app)
        app.state.job_runner = runner
    await runner.start()
    return runner


async def stop_runner(app: Any) -> None:
    runner: JobRunner | None = getattr(app.state, "job_runner", None)
    if runner is not None:
        await runner.stop()
