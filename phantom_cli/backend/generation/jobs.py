"""Generation jobs: the ``generation.render`` kind of the one job system (``backend.jobs``).

``POST /api/v1/generate/image|video`` enqueues a ``generation.render`` job (payload: the
generation id, ``image``/``video`` and the request), owned by the user, committed before the 202
goes out. The job runner runs it in its own lane (``generation``: one render at a time, beside
memory extraction); the handler renders in a worker thread with its own SQLite connection,
writes the file (``storage.write_media_file``), then in one transaction inserts the ``media``
row, links it to the user's collection (relationType ``generated``), posts it to the activity
instance if asked, and completes the job. A job claimed more than ``MAX_ATTEMPTS`` times (the
server died under it) fails; a render error fails the job at once (no retry).

On the wire a job is a ``models.GenerationJob`` (``api.job_wire``): status ``done`` is shown as
``succeeded``. The ``generation_jobs`` view (area ``generation`` v2) shows the rows in the old
table's shape; v2 moved the rows of the old ``generation_jobs`` table into ``jobs``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .. import jobs
from ..db import Migration, new_id, now, transaction
from .render import render_for
from .storage import media_url, recover_files, write_media_file

KIND = "generation.render"
LANE = "generation"
MAX_ATTEMPTS = 10  # a job whose rendering was interrupted this many times is marked failed

GENERATION_V1 = """
CREATE TABLE generation_jobs (
    id TEXT PRIMARY KEY,
    generation_id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    request TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    media_id TEXT,
    collection_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX generation_jobs_queue ON generation_jobs(status, created_at, id);
CREATE INDEX generation_jobs_user ON generation_jobs(user_id, created_at);
"""

# v2: one job system. Every row of the old table moves into ``jobs`` with its id, status
# (succeeded -> done), attempts, error, owner and times; a read-only view keeps the old shape.
GENERATION_V2 = f"""
INSERT INTO jobs(id, kind, payload, status, attempts, max_attempts, run_after, error, user_id,
                 result, created_at, updated_at)
SELECT id, '{KIND}',
       json_object('generation_id', generation_id, 'kind', kind, 'request', json(request)),
       CASE status WHEN 'succeeded' THEN 'done' ELSE status END,
       attempts, {MAX_ATTEMPTS}, 0, error, user_id,
       CASE WHEN media_id IS NULL THEN NULL
            ELSE json_object('media_id', media_id, 'collection_id', collection_id) END,
       created_at, updated_at
FROM generation_jobs;
DROP TABLE generation_jobs;
CREATE VIEW generation_jobs AS
SELECT id,
       json_extract(payload, '$.generation_id') AS generation_id,
       user_id,
       json_extract(payload, '$.kind') AS kind,
       CASE status WHEN 'done' THEN 'succeeded' ELSE status END AS status,
       json_extract(payload, '$.request') AS request,
       attempts,
       error,
       json_extract(result, '$.media_id') AS media_id,
       json_extract(result, '$.collection_id') AS collection_id,
       created_at,
       updated_at
FROM jobs WHERE kind = '{KIND}';
"""

MIGRATIONS = (
    Migration("generation", 1, "generation jobs", GENERATION_V1),
    Migration("generation", 2, "generation jobs move into the jobs table", GENERATION_V2),
)


def enqueue(conn: Any, user_id: str, kind: str, request: dict[str, Any]) -> dict[str, str]:
    """Queue a render (``kind``: image | video); committed before the 202 goes out."""
    gid = new_id("gen")
    jid = jobs.enqueue(
        conn, KIND, {"generation_id": gid, "kind": kind, "request": request},
        max_attempts=MAX_ATTEMPTS, user_id=user_id,
    )
    return {"job_id": jid, "generation_id": gid}


def claim(conn: Any) -> Any:
    """Atomically take the oldest queued render (``running``, attempts + 1), or None."""
    return jobs.claim(conn, (KIND,))


def recover(conn: Any, media_dir: Any) -> dict[str, int]:
    """Start-up recovery: renders a crash left running go back to the queue (the job runner
    does this for every kind when it starts) and orphan media files are deleted."""
    with transaction(conn):
        requeued = conn.execute(
            "UPDATE jobs SET status = 'queued', updated_at = ? WHERE status = 'running' AND kind = ?",
            (now(), KIND),
        ).rowcount
    return {"requeued": requeued, "orphans_removed": recover_files(conn, media_dir)}


def _test_pause() -> None:
    """Crash tests widen the window between the file rename and the commit (a slow disk) with
    ``PHANTOM_TEST_GENERATION_PAUSE`` seconds, so a SIGKILL lands there and leaves an orphan."""
    import os
    import time

    raw = os.environ.get("PHANTOM_TEST_GENERATION_PAUSE")
    if raw:
        try:
            time.sleep(min(5.0, max(0.0, float(raw))))
        except ValueError:
            pass


def _fail(conn: Any, job_id: str, message: str) -> str:
    jobs.fail(conn, job_id, message[:500])
    return "failed"


def process(conn: Any, job: Any, media_dir: Any) -> str:
    """Render one claimed job (a ``jobs`` row) and commit its result; returns the final status."""
    from ..content import skin_for_render

    if job["attempts"] > MAX_ATTEMPTS:
        return _fail(conn, job["id"], f"rendering was interrupted {MAX_ATTEMPTS} times; giving up")
    payload = json.loads(job["payload"])
    req, gid, kind, user_id = payload["request"], payload["generation_id"], payload["kind"], job["user_id"]
    skin_row = conn.execute(
        "SELECT id, name, gender, style, data FROM skins WHERE id = ?", (req["skin_id"],)
    ).fetchone()
    if skin_row is None:
        return _fail(conn, job["id"], f"skin_id: skin {req['skin_id']!r} no longer exists")
    skin = skin_for_render(skin_row)
    seed = req.get("seed")
    if seed is None:
        seed = int(hashlib.sha256(gid.encode()).hexdigest()[:8], 16)
    data, ext = render_for(skin, kind, req["category"], int(seed), req.get("first_frame_source"))
    name = write_media_file(media_dir, data, ext)
    _test_pause()
    mid, cid = new_id("med"), new_id("col")
    meta = {
        "generation_id": gid,
        "job_id": job["id"],
        "skin_id": skin["id"],
        "category": req["category"],
        "seed": int(seed),
        "format": ext,
        "bytes": len(data),
    }
    try:
        with transaction(conn):
            ts = now()
            conn.execute(
                "INSERT INTO media(id, type, url, file, user_id, metadata, created_at)"
                " VALUES (?,?,?,?,?,?,?)",
                (mid, kind, media_url(conn, mid), name, user_id, json.dumps(meta), ts),
            )
            conn.execute(
                "INSERT INTO media_collection(id, user_id, media_id, relation_type, is_favorite,"
                " metadata, created_at) VALUES (?,?,?,'generated',0,?,?)",
                (cid, user_id, mid, json.dumps({"generation_id": gid}), ts),
            )
            _deliver(conn, user_id, kind, req, mid, ts)
            jobs.complete(conn, job["id"], {"media_id": mid, "collection_id": cid})
    except BaseException:
        from contextlib import suppress
        from pathlib import Path

        with suppress(OSError):
            (Path(media_dir) / name).unlink()
        raise
    return "succeeded"


def _deliver(conn: Any, user_id: str, kind: str, req: dict[str, Any], media_id: str, ts: str) -> None:
    """Message delivery (seed 002): a job made for an activity instance posts the result there
    as an assistant message (medium image/video, content the media URL), in the same
    transaction as the result. An archived or deleted instance gets nothing."""
    iid = req.get("activity_instance_id")
    if not iid:
        return
    row = conn.execute(
        "SELECT status FROM activity_instances WHERE id = ? AND user_id = ?", (iid, user_id)
    ).fetchone()
    if row is None or row["status"] != "active":
        return
    conn.execute(
        "INSERT INTO messages(id, instance_id, role, medium, content, created_at, updated_at)"
        " VALUES (?,?,'assistant',?,?,?,?)",
        (new_id("msg"), iid, kind, media_url(conn, media_id), ts, ts),
    )


def _process_in_thread(settings: Any, job_id: str) -> str:
    from ..db import connect

    conn = connect(settings.db_path)
    try:
        job = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if job is None or job["status"] != "running":
            return "gone"
        try:
            return process(conn, job, settings.media_dir)
        except Exception as exc:  # noqa: BLE001 - recorded on the job, the runner goes on
            import logging

            logging.getLogger("phantom.backend.generation").exception("generation job %s failed", job_id)
            return _fail(conn, job_id, f"rendering failed: {type(exc).__name__}: {exc}")
    finally:
        conn.close()


async def render_job(app: Any, payload: dict[str, Any], job_id: str) -> None:
    """The ``generation.render`` handler: render off the event loop; the job completes (or
    fails) in the worker thread's own transaction."""
    from ..app import run_in_thread

    await run_in_thread(_process_in_thread, app.state.settings, job_id)


async def recover_on_start(app: Any) -> None:
    """Start-up hook (before the job runner starts): remove orphan media files."""
    recover_files(app.state.db, app.state.settings.media_dir)


RENDER = jobs.JobKind(KIND, render_job, lane=LANE, max_attempts=MAX_ATTEMPTS)
