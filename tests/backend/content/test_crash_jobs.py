"""Crash safety of generation jobs (issue 7): SIGKILL the real server process while it works.

Several bounded rounds in one run: start ``python -m phantom_cli.backend`` on a free loopback
port with a tmp PHANTOM_HOME, queue image and video jobs, SIGKILL the server at a random moment
(seeded: set PHANTOM_CRASH_SEED to replay a run), restart. Every round checks that the database
opens and passes ``PRAGMA integrity_check``, that jobs a crash left behind resume and finish, and
that media files no row references (a kill between rename and commit) are removed on start, so
no half-written file is ever served. At the end every acknowledged (202) job exists and has
succeeded, its file decodes, and each succeeded job has exactly one collection item.
"""

from __future__ import annotations

import io
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

ROUNDS = 6
JOBS_PER_ROUND = 8
SKINS = ("skin_luna_anime", "skin_theo_realistic", "skin_vesk_anime", "skin_okafor_realistic")
CATEGORIES = ("portrait", "selfie", "full_body", "outfit", "scene", "action")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    """One server process on a free port."""

    def __init__(self, home: Path, log: Path) -> None:
        self.home = home
        self.port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PHANTOM_")}
        env.update(
            PHANTOM_HOME=str(home),
            PHANTOM_SERVER_IDLE_TIMEOUT="0",
            PHANTOM_SERVER_ENGINE="scripted",
            # a slow disk between the file rename and the commit: kills land there too
            PHANTOM_TEST_GENERATION_PAUSE="0.1",
        )
        self.logf = log.open("ab")
        self.p = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "phantom_cli.backend",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            env=env,
            stdout=self.logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.base_url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.p.poll() is not None:
                raise AssertionError(
                    f"server exited with {self.p.returncode}; see {self.logf.name}"
                )
            try:
                if httpx.get(self.base_url + "/health", timeout=1.0).status_code == 200:
                    key_file = self.home / "data" / "backend" / "api_key"
                    return key_file.read_text().strip()
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"server did not answer /health within {timeout}s")

    def kill(self) -> None:
        if self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGKILL)
        self.p.wait(10)
        self.logf.close()

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
                return
        self.logf.close()


def _db(home: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(home / "data" / "backend" / "phantom.db", timeout=10)
    conn.row_factory = sqlite3.Row
    return conn


def _media_dir(home: Path) -> Path:
    return home / "data" / "backend" / "media"


def _orphans(home: Path) -> set[str]:
    """Files in the media folder that no media row references (as seen from the database)."""
    d = _media_dir(home)
    if not d.is_dir():
        return set()
    conn = _db(home)
    try:
        known = {r[0] for r in conn.execute("SELECT file FROM media WHERE file IS NOT NULL")}
    finally:
        conn.close()
    return {f.name for f in d.iterdir() if f.is_file() and f.name not in known}


def _submit(
    base_url: str, key: str, rng: random.Random, acked: dict[str, str], stop: threading.Event
) -> None:
    """Queue jobs until told to stop or the server dies; record every 202."""
    with httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=5.0
    ) as c:
        for _ in range(JOBS_PER_ROUND):
            if stop.is_set():
                return
            kind = "video" if rng.random() < 0.4 else "image"
            body = {
                "skin_id": rng.choice(SKINS),
                "category": rng.choice(CATEGORIES),
                "seed": rng.randrange(2**32),
            }
            try:
                r = c.post(f"/api/v1/generate/{kind}", json=body)
            except httpx.HTTPError:
                return  # killed mid-request: not acknowledged
            assert r.status_code == 202, r.text
            acked[r.json()["job_id"]] = kind


def _wait_all(base_url: str, key: str, job_ids: list[str], timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    jobs: dict[str, Any] = {}
    with httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10.0
    ) as c:
        pending = list(job_ids)
        while pending and time.monotonic() < deadline:
            still = []
            for jid in pending:
                r = c.get(f"/api/v1/generate/jobs/{jid}")
                assert r.status_code == 200, (jid, r.text)
                job = r.json()
                jobs[jid] = job
                if job["status"] not in ("succeeded", "failed"):
                    still.append(jid)
            pending = still
            if pending:
                time.sleep(0.1)
    return jobs


@pytest.mark.timeout(240)
def test_sigkill_while_generating(tmp_path: Path) -> None:
    seed = int(os.environ.get("PHANTOM_CRASH_SEED", random.randrange(1_000_000)))
    print(f"PHANTOM_CRASH_SEED={seed}")
    rng = random.Random(seed)
    home = tmp_path / "home"
    home.mkdir()
    log = tmp_path / "server.log"
    acked: dict[str, str] = {}
    kills_while_running = 0
    orphans_seen = 0

    proc = Proc(home, log)
    try:
        for rnd in range(ROUNDS):
            key = proc.wait_ready()
            # the previous crash's leftovers were recovered at start: no orphan file remains
            assert _orphans(home) == set(), f"round {rnd}: orphan media files after restart"
            stop = threading.Event()
            t = threading.Thread(target=_submit, args=(proc.base_url, key, rng, acked, stop))
            t.start()
            time.sleep(rng.uniform(0.05, 0.8))  # let it queue and render for a random while
            conn = _db(home)
            try:
                running = conn.execute(
                    "SELECT COUNT(*) FROM generation_jobs WHERE status = 'running'"
                ).fetchone()[0]
            finally:
                conn.close()
            kills_while_running += int(running > 0)
            proc.kill()
            stop.set()
            t.join(15)
            assert not t.is_alive()
            # the database opens and is intact after SIGKILL
            conn = _db(home)
            try:
                assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                stored = {r[0] for r in conn.execute("SELECT id FROM generation_jobs")}
            finally:
                conn.close()
            orphans_seen += len(_orphans(home))  # removed by the next start (checked above)
            missing = set(acked) - stored
            assert not missing, f"round {rnd}: acknowledged jobs lost: {sorted(missing)}"
            proc = Proc(home, log)

        # final start: everything resumes and finishes
        key = proc.wait_ready()
        assert _orphans(home) == set()
        assert acked, "no job was acknowledged at all"
        jobs = _wait_all(proc.base_url, key, list(acked))
        bad = {j: v["status"] for j, v in jobs.items() if v["status"] != "succeeded"}
        assert not bad, f"jobs not succeeded: {bad}"
        with httpx.Client(
            base_url=proc.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10.0
        ) as c:
            for jid, kind in acked.items():
                media = jobs[jid]["media"]
                assert media is not None and media["relationType"] == "generated"
                assert media["mediaType"] == kind
                r = c.get(media["cdnUrl"])
                assert r.status_code == 200, (jid, r.text)
                img = Image.open(io.BytesIO(r.content))
                img.load()  # decodes: the file is whole
                if kind == "video":
                    assert getattr(img, "n_frames", 1) > 1
        conn = _db(home)
        try:
            # one collection item per succeeded job (no duplicate from a retried render)
            rows = conn.execute(
                "SELECT j.id, COUNT(c.id) FROM generation_jobs j"
                " LEFT JOIN media_collection c ON c.relation_type = 'generated'"
                " AND json_extract(c.metadata, '$.generation_id') = j.generation_id"
                " GROUP BY j.id"
            ).fetchall()
            assert all(n == 1 for _, n in rows), [tuple(r) for r in rows if r[1] != 1]
            # every media row of a generated file points at a file that exists
            for (name,) in conn.execute("SELECT file FROM media WHERE file LIKE 'gen_%'"):
                assert (_media_dir(home) / name).is_file()
        finally:
            conn.close()
        print(
            f"acked={len(acked)} rounds={ROUNDS} kills_while_running={kills_while_running}"
            f" orphans_seen={orphans_seen}"
        )
    finally:
        proc.stop()
