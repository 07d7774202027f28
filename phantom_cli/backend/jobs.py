"""The one persistent background job system: a ``jobs`` table and one worker loop per lane.

Every kind of background work (memory extraction, image/video generation, …) is a job kind
with a handler, listed in ``registry.JOB_KINDS``::

    # in the module that owns the work
    async def handle(app, payload: dict, job_id: str) -> None: ...   # raise to fail / retry
    EXTRACT = jobs.JobKind("memory.extract", handle)                 # lane "default", 3 attempts

    job_id = jobs.enqueue(conn, "memory.extract", {"chat_id": ...})  # inside your transaction
    jobs.notify(app)                                                 # wake the worker now

A job is a row (``queued → running → done | failed``) written in the caller's transaction, so
it exists exactly when the work that asked for it was committed. On start the runner puts every
``running`` row back to ``queued`` (the server stopped mid-job) and works through the queue
oldest first, one job at a time per *lane* (kinds in different lanes run side by side: a slow
render does not hold memory extraction back). A handler that raises is retried with back-off
up to ``max_attempts`` times, then marked ``failed`` with the error; ``raise JobFailed(msg)``
fails it at once with ``msg``. A job claimed more than ``max_attempts`` times (the server died
under it each time) is failed without running it again. A handler may finish its own job in
its own transaction (``complete(conn, job_id, result)``) together with the rows it writes, so
result and status commit at once; the runner then leaves the row alone. ``runner.paused`` holds
every lane, ``runner.pause(lane)`` one lane (tests: leave a job queued across a restart).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .db import Migration, new_id, now, transaction

log = logging.getLogger("phantom.backend.jobs")

JOBS_V1 = """
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
"""

# v2: the owner of a job (jobs a user may look at, deleted with the user) and its result (JSON),
# so generation jobs live here too (generation area v2 moves its old table's rows in).
JOBS_V2 = """
ALTER TABLE jobs ADD COLUMN user_id TEXT REFERENCES users(id) ON DELETE CASCADE;
ALTER TABLE jobs ADD COLUMN result TEXT;
CREATE INDEX jobs_user ON jobs(user_id, created_at);
"""

MIGRATIONS = (
    Migration("jobs", 1, "persistent background jobs", JOBS_V1),
    Migration("jobs", 2, "job owner and result", JOBS_V2),
)

Handler = Callable[[Any, dict[str, Any], str], Awaitable[None]]


@dataclass(frozen=True)
class JobKind:
    """A kind of job: its handler ``async def handler(app, payload, job_id)``, the lane it runs
    in (one job at a time per lane) and how many attempts it gets."""

    kind: str
    handler: Handler
    lane: str = "default"
    max_attempts: int = 3


class JobFailed(Exception):
    """Raised by a handler: fail the job now (no retry), with this message as its error."""


_extra: dict[str, JobKind] = {}

STATUSES = ("queued", "running", "done", "failed")
IDLE_POLL = 1.0  # seconds between checks of the table when nobody notifies


def register_handler(kind: str, handler: Handler, *, lane: str = "default", max_attempts: int = 3) -> None:
    """Add a job kind at run time (tests, plug-ins). The server's own kinds are in
    ``registry.JOB_KINDS``; use that list for anything that ships."""
    _extra[kind] = JobKind(kind, handler, lane, max_attempts)


def job_kinds() -> dict[str, JobKind]:
    """Every known job kind: the registry's list, then run-time additions."""
    from .registry import job_kinds as listed

    out = {k.kind: k for k in listed()}
    out.update(_extra)
    return out


def enqueue(
    conn: sqlite3.Connection,
    kind: str,
    payload: dict[str, Any],
    *,
    max_attempts: int | None = None,
    user_id: str | None = None,
    job_id: str | None = None,
) -> str:
    """Insert a queued job (in the caller's transaction if one is open); returns its id.

    ``max_attempts`` defaults to the kind's own (``JobKind.max_attempts``)."""
    if max_attempts is None:
        known = job_kinds().get(kind)
        max_attempts = known.max_attempts if known is not None else 3
    jid = job_id or new_id("job")
    ts = now()
    conn.execute(
        "INSERT INTO jobs(id, kind, payload, status, attempts, max_attempts, run_after, user_id,"
        " created_at, updated_at) VALUES (?,?,?,'queued',0,?,0,?,?,?)",
        (jid, kind, json.dumps(payload, ensure_ascii=False), max_attempts, user_id, ts, ts),
    )
    return jid


def job_status(conn: sqlite3.Connection, job_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT id, kind, status, attempts, error, created_at, updated_at FROM jobs WHERE id = ?", (job_id,)
    ).fetchone()
    return dict(row) if row else None


def _kind_filter(cond: str, args: list[Any], kinds: tuple[str, ...] | None,
                 exclude: tuple[str, ...]) -> tuple[str, list[Any]]:
    """``cond`` and ``args`` narrowed to jobs of ``kinds`` (None: any) and not of ``exclude``."""
    if kinds is not None:
        cond += f" AND kind IN ({','.join('?' * len(kinds))})"
        args = [*args, *kinds]
    if exclude:
        cond += f" AND kind NOT IN ({','.join('?' * len(exclude))})"
        args = [*args, *exclude]
    return cond, args


def claim(conn: sqlite3.Connection, kinds: tuple[str, ...] | None = None,
          exclude: tuple[str, ...] = ()) -> sqlite3.Row | None:
    """Atomically take the oldest due queued job (of ``kinds``, not of ``exclude``): it becomes
    ``running`` with ``attempts + 1``; returns the updated row, or None."""
    cond, args = _kind_filter("status = 'queued' AND run_after <= ?", [time.time()], kinds, exclude)
    if conn.execute(f"SELECT 1 FROM jobs WHERE {cond} LIMIT 1", args).fetchone() is None:
        return None  # cheap read first: an idle worker never takes the write lock
    with transaction(conn):
        return conn.execute(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, updated_at = ?"
            f" WHERE id = (SELECT id FROM jobs WHERE {cond} ORDER BY created_at, id LIMIT 1)"
            " AND status = 'queued' RETURNING *",
            [now(), *args],
        ).fetchone()


def complete(conn: sqlite3.Connection, job_id: str, result: dict[str, Any] | None = None) -> None:
    """Mark a running job ``done`` (call inside the transaction that writes its result rows).
    Raises if the job is not running (claimed twice?), which rolls that transaction back."""
    cur = conn.execute(
        "UPDATE jobs SET status = 'done', error = NULL, result = ?, updated_at = ?"
        " WHERE id = ? AND status = 'running'",
        (None if result is None else json.dumps(result), now(), job_id),
    )
    if cur.rowcount != 1:
        raise RuntimeError(f"job {job_id} is no longer running (claimed twice?)")


def fail(conn: sqlite3.Connection, job_id: str, message: str) -> None:
    """Mark a job ``failed`` with ``message`` (no retry)."""
    conn.execute(
        "UPDATE jobs SET status = 'failed', error = ?, updated_at = ? WHERE id = ? AND status = 'running'",
        (message[:2000], now(), job_id),
    )


def notify(app: Any) -> None:
    """Wake the app's worker (safe from any thread)."""
    runner: JobRunner | None = getattr(app.state, "job_runner", None)
    if runner is not None:
        runner.notify()


class JobRunner:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.paused = False
        self.paused_lanes: set[str] = set()
        self.backoff = 1.0  # seconds before the first retry; doubles per attempt
        self._event: asyncio.Event | None = None
        self._events: dict[str, asyncio.Event] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self.processed = 0

    @property
    def conn(self) -> sqlite3.Connection:
        return self.app.state.db

    def pause(self, lane: str) -> None:
        self.paused_lanes.add(lane)

    def resume(self, lane: str) -> None:
        self.paused_lanes.discard(lane)
        self.notify()

    def requeue_unfinished(self) -> int:
        with transaction(self.conn):
            cur = self.conn.execute(
                "UPDATE jobs SET status = 'queued', updated_at = ? WHERE status = 'running'", (now(),)
            )
        return cur.rowcount or 0

    def lanes(self) -> dict[str, tuple[str, ...]]:
        """lane -> its kinds (the ``default`` lane takes every kind not in another lane)."""
        out: dict[str, list[str]] = {"default": []}
        for k in job_kinds().values():
            out.setdefault(k.lane, []).append(k.kind)
        return {lane: tuple(kinds) for lane, kinds in out.items()}

    async def start(self) -> None:
        if any(not t.done() for t in self._tasks):
            return
        self._loop = asyncio.get_running_loop()
        n = self.requeue_unfinished()
        if n:
            log.info("requeued %d unfinished job(s)", n)
        from .app import spawn

        lanes = self.lanes()
        others = tuple(k for lane, kinds in lanes.items() if lane != "default" for k in kinds)
        self._events = {lane: asyncio.Event() for lane in lanes}
        self._event = self._events["default"]
        self._tasks = [
            spawn(self.app, self._run(lane, None if lane == "default" else kinds,
                                      others if lane == "default" else ()))
            for lane, kinds in lanes.items()
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        self._tasks = []

    def notify(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for event in list(self._events.values()):
            if running is loop:
                event.set()
            else:
                loop.call_soon_threadsafe(event.set)

    def _claim(self, kinds: tuple[str, ...] | None, exclude: tuple[str, ...]) -> sqlite3.Row | None:
        return claim(self.conn, kinds, exclude)

    def _next_due(self, kinds: tuple[str, ...] | None, exclude: tuple[str, ...]) -> float | None:
        cond, args = _kind_filter("status = 'queued'", [], kinds, exclude)
        row = self.conn.execute(f"SELECT MIN(run_after) FROM jobs WHERE {cond}", args).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def _held(self, lane: str) -> bool:
        return self.paused or lane in self.paused_lanes

    async def _run(self, lane: str, kinds: tuple[str, ...] | None, exclude: tuple[str, ...]) -> None:
        event = self._events[lane]
        while True:
            try:
                row = None if self._held(lane) else self._claim(kinds, exclude)
            except sqlite3.OperationalError:  # e.g. database busy: try again later
                log.exception("claiming a job failed")
                row = None
            if row is None:
                event.clear()
                timeout = IDLE_POLL
                due = None if self._held(lane) else self._next_due(kinds, exclude)
                if due is not None:
                    timeout = max(0.01, min(IDLE_POLL, due - time.time()))
                try:
                    await asyncio.wait_for(event.wait(), timeout)
                except TimeoutError:
                    pass
                continue
            await self._execute(row)

    async def _execute(self, row: sqlite3.Row) -> None:
        jid, kind = row["id"], row["kind"]
        spec = job_kinds().get(kind)
        attempts, max_attempts = int(row["attempts"]), int(row["max_attempts"])
        try:
            if spec is None:
                raise JobFailed(f"LookupError: no handler registered for job kind {kind!r}")
            if attempts > max_attempts:  # the server stopped under it every time
                raise JobFailed(f"{kind}: interrupted {max_attempts} times; giving up")
            await spec.handler(self.app, json.loads(row["payload"]), jid)
        except asyncio.CancelledError:
            raise  # shutdown mid-job: the row stays 'running' and is requeued on next start
        except Exception as exc:  # noqa: BLE001 - recorded on the job
            final = isinstance(exc, JobFailed) or attempts >= max_attempts
            error = str(exc) if isinstance(exc, JobFailed) else f"{type(exc).__name__}: {exc}"
            log.warning("job %s (%s) failed (attempt %d): %s", jid, kind, attempts, error)
            with transaction(self.conn):
                self.conn.execute(
                    "UPDATE jobs SET status = ?, error = ?, run_after = ?, updated_at = ?"
                    " WHERE id = ? AND status = 'running'",
                    ("failed" if final else "queued", error[:2000],
                     time.time() + self.backoff * 2.0 ** (attempts - 1), now(), jid),
                )
        else:
            with transaction(self.conn):  # a handler that completed its job itself: no change
                self.conn.execute(
                    "UPDATE jobs SET status = 'done', error = NULL, updated_at = ?"
                    " WHERE id = ? AND status = 'running'", (now(), jid)
                )
        self.processed += 1


async def ensure_runner(app: Any) -> JobRunner:
    """The app's runner, started once (a start-up hook in ``registry.STARTUP``)."""
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
