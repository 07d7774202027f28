#!/usr/bin/env python
"""Body-limit benchmark (issue 13.2): server memory during an oversize chunked upload.

    .venv/bin/python benchmarks/body_limit.py                 # 200 MiB, chunked
    .venv/bin/python benchmarks/body_limit.py --mib 400 --json out.json

What it does:

1. starts the embedded backend as its own process (``python -m phantom_cli.backend``) on a free
   loopback port, with a fresh temporary PHANTOM_HOME and the ``scripted`` engine;
2. warms it up (one small request, one small oversize upload), then reads its resident memory
   (``VmRSS`` in ``/proc/<pid>/status``);
3. POSTs ``--mib`` MiB to ``/api/v1/personas`` with ``Transfer-Encoding: chunked`` (no
   Content-Length), generated lazily in 64 KiB pieces, while a thread samples the server's
   ``VmRSS`` every few milliseconds; ``VmHWM`` (the kernel's peak) is read before and after;
4. prints the status the server answered, the seconds it took and the growth of the server's
   resident memory (peak during the upload minus the baseline), and stops the server.

Target (issue 13): a 413 and a growth of at most 10 MB. Exit code 0 when met, 1 otherwise.
Linux only (``/proc``). Loopback only: the script never talks to any other host.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LIMIT_MB = 10.0
CHUNK = 64 * 1024


def proc_status(pid: int, field: str) -> int:
    """``field`` (``VmRSS``, ``VmHWM``) of ``/proc/<pid>/status`` in bytes."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


class ServerProcess:
    """``python -m phantom_cli.backend`` on a free loopback port with its own PHANTOM_HOME."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.proc: subprocess.Popen[bytes] | None = None
        self.base_url = ""
        self.key = ""

    @property
    def log_path(self) -> Path:
        return self.home / "server-test.log"

    def start(self, timeout: float = 60.0) -> ServerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PHANTOM_")}
        env.update(PHANTOM_HOME=str(self.home), PHANTOM_ENGINE="scripted")
        runtime = self.home / "runtime" / "server.json"
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "phantom_cli.backend", "--host", "127.0.0.1", "--port", "0"],
                env=env, stdout=log, stderr=log,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            if runtime.exists():
                try:
                    info = json.loads(runtime.read_text())
                except ValueError:
                    info = {}
                if info.get("pid") == self.proc.pid:
                    self.base_url = info["base_url"]
                    break
            time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError("server did not start in time")
        self.key = (self.home / "data" / "backend" / "api_key").read_text().strip()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def lazy_body(total: int) -> Iterator[bytes]:
    """``total`` bytes of a (never-ending) JSON string, 64 KiB at a time, never held whole."""
    piece = b"x" * CHUNK
    yield b'{"name": "'
    sent = 10
    while sent < total:
        n = min(CHUNK, total - sent)
        yield piece if n == CHUNK else piece[:n]
        sent += n


def chunked_upload(server: ServerProcess, total: int, path: str = "/api/v1/personas") -> dict[str, Any]:
    """POST ``total`` bytes chunked to ``server`` while sampling its RSS; the figures."""
    import httpx

    pid = server.pid
    headers = {"Authorization": f"Bearer {server.key}", "Content-Type": "application/json"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=httpx.Timeout(120, connect=5)) as c:
        c.get("/api/v1/local/info").raise_for_status()  # warm-up: code paths, key cache
        c.post(path, content=lazy_body(2 * CHUNK))  # a small chunked upload: the spool code path
        time.sleep(0.2)
        baseline = proc_status(pid, "VmRSS")
        hwm_before = proc_status(pid, "VmHWM")
        peak = baseline
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                try:
                    peak = max(peak, proc_status(pid, "VmRSS"))
                except (OSError, RuntimeError):
                    return
                time.sleep(0.003)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.monotonic()
        status: int | None = None
        error: dict[str, Any] | None = None
        outcome = ""
        try:
            r = c.post(path, content=lazy_body(total))
            status = r.status_code
            try:
                error = r.json().get("error")
            except ValueError:
                error = None
            outcome = "answered"
        except httpx.TransportError as exc:  # the server may close the connection instead
            outcome = f"connection closed ({type(exc).__name__})"
        seconds = time.monotonic() - t0
        time.sleep(0.2)
        stop.set()
        sampler.join(5)
        hwm_after = proc_status(pid, "VmHWM")
        after = proc_status(pid, "VmRSS")
    if hwm_after > hwm_before:
        peak = max(peak, hwm_after)  # the kernel saw a new peak between two samples
    return {
        "uploaded_mib": total / (1024 * 1024),
        "status": status,
        "error": error,
        "outcome": outcome,
        "seconds": round(seconds, 3),
        "rss_baseline_mb": round(baseline / 1e6, 2),
        "rss_peak_mb": round(peak / 1e6, 2),
        "rss_after_mb": round(after / 1e6, 2),
        "rss_growth_mb": round((peak - baseline) / 1e6, 2),
        "rss_retained_mb": round((after - baseline) / 1e6, 2),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=200, help="MiB to upload (default 200; at most 4096)")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    ap.add_argument("--keep", action="store_true", help="keep the temporary PHANTOM_HOME")
    args = ap.parse_args(argv)
    if not sys.platform.startswith("linux"):
        print("body_limit: needs Linux (/proc)", file=sys.stderr)
        return 2
    if not 1 <= args.mib <= 4096:
        print("body_limit: --mib must be between 1 and 4096", file=sys.stderr)
        return 2
    home = Path(tempfile.mkdtemp(prefix="phantom-body-limit-"))
    server = ServerProcess(home)
    try:
        server.start()
        out = chunked_upload(server, args.mib * 1024 * 1024)
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    ok = out["status"] == 413 and out["rss_growth_mb"] <= LIMIT_MB
    out["target"] = f"413 and RSS growth <= {LIMIT_MB} MB"
    out["ok"] = ok
    print(f"{out['uploaded_mib']:.0f} MiB chunked upload: {out['outcome']}, status {out['status']}, "
          f"{out['seconds']} s")
    print(f"server RSS: baseline {out['rss_baseline_mb']} MB, peak {out['rss_peak_mb']} MB "
          f"(growth {out['rss_growth_mb']} MB), after {out['rss_after_mb']} MB")
    print(f"target {out['target']}: {'met' if ok else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
