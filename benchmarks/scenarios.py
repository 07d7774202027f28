"""Scenario-runner benchmark: 50 scenarios x 10 turns on the local scripted backend.

Target: <= 10 s wall time on this 2-core machine (issue 16). Also checks that the runner's
memory stays flat as the suite grows: tracemalloc peak of the run at 50 vs 200 scenarios (the
suite itself is built before tracing starts).

    .venv/bin/python benchmarks/scenarios.py [--scenarios 50] [--turns 10] [-j 4]

The backend runs as its own process, as ``phantom test -p local`` uses it (benchmarks/load.py's
``start_server``: ``python -m phantom_cli.backend`` on a free loopback port, fresh temporary
PHANTOM_HOME, engine scripted, seed 0, ``PHANTOM_SERVER_SCRIPTED_PACE=0`` so no word-by-word
pacing). ``--in-process`` runs it in a thread of this process instead (one GIL for both sides:
about 1.5x slower on 2 cores).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# One merchant visit of 10 turns: wanders, haggles (redirects), then walks away or buys; each
# turn with expectations so the check path is measured too.
TURNS = [
    ("What do you have for sale?", {"state": "negotiation"}),
    ("I'll pay in gold.", {"state": "haggling"}),
    ("That is too expensive.", {"decision": "redirect", "redirect_count": 1}),
    ("Deal, I'll take it.", {"outcome": "deal_struck", "reply.max_chars": 2000}),
]


def suite_text(n: int, turns: int) -> str:
    lines = ["scenarios:"]
    for i in range(n):
        lines += [f"  - name: visit {i}", "    npc: abc123", "    steps:"]
        done = 0
        while done < turns:
            for text, exp in TURNS:
                if done >= turns:
                    break
                lines.append(f"      - say: {text!r}")
                if exp:
                    body = ", ".join(f"{k}: {v!r}" for k, v in exp.items())
                    lines.append(f"        expect: {{{body}}}")
                done += 1
            if done < turns:
                lines.append("      - reset: true")
    return "\n".join(lines) + "\n"


class Server:
    """base_url + api_key of a backend (a subprocess, or a LiveServer thread); ``stop()``."""

    def __init__(self, home: Path, in_process: bool) -> None:
        self.proc = self.live = None
        if in_process:
            from phantom_cli.backend.settings import ServerSettings
            from phantom_cli.backend.testing import LiveServer

            extra = {}
            if "scripted_pace" in {f.name for f in dataclasses.fields(ServerSettings)}:
                extra["scripted_pace"] = 0
            self.live = LiveServer(home, engine="scripted", seed=0, **extra).start()
            self.base_url, self.api_key = self.live.base_url, self.live.api_key
        else:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from load import start_server

            os.environ["PHANTOM_SERVER_SCRIPTED_PACE"] = "0"
            os.environ["PHANTOM_SERVER_SEED"] = "0"
            self.proc, self.base_url, self.api_key, _db = start_server(home)

    def cpu(self) -> float:
        if self.proc is None:
            return 0.0
        from load import cpu_seconds

        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
        if self.proc is not None:
            from load import stop_server

            stop_server(self.proc)


def start_server(home: Path, in_process: bool = False) -> Server:
    return Server(home, in_process)


async def run_suite(server, scenarios, jobs: int):
    from phantom_cli.client import AsyncPhantom
    from phantom_cli.scenarios import Runner, RunOptions

    client = AsyncPhantom(base_url=server.base_url, api_key=server.api_key)
    async with client:
        return await Runner(client, RunOptions(jobs=jobs, seed=0)).run(scenarios)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", type=int, default=50)
    ap.add_argument("--turns", type=int, default=10)
    ap.add_argument("-j", "--jobs", type=int, default=4)
    ap.add_argument("--budget", type=float, default=10.0)
    ap.add_argument("--in-process", action="store_true", help="server in a thread of this process")
    args = ap.parse_args()
    from phantom_cli.scenarios import load_text

    home = Path(tempfile.mkdtemp(prefix="phantom-bench-scn-"))
    server = start_server(home, args.in_process)
    try:
        scs = load_text(suite_text(args.scenarios, args.turns), "yaml", "bench.yaml").scenarios
        cpu0, srv0 = time.process_time(), server.cpu()
        t0 = time.perf_counter()
        summary = asyncio.run(run_suite(server, scs, args.jobs))
        wall = time.perf_counter() - t0
        cpu, srv = time.process_time() - cpu0, server.cpu() - srv0
        turns = sum(1 for s in scs for st in s.steps if st.kind == "say")
        c = summary.counts()
        print(f"{len(scs)} scenarios x {args.turns} turns ({turns} turns), -j {args.jobs}: {wall:.2f} s "
              f"({turns / wall:.0f} turns/s); {c}")
        ok = wall <= args.budget and c["passed"] == len(scs)
        if server.proc is not None:
            print(f"CPU: runner {cpu:.2f} s, server {srv:.2f} s (on an idle 2-core machine the wall time is "
                  f"about the larger of the two; os.getloadavg() now {os.getloadavg()[0]:.1f})")
        print(f"budget {args.budget:.0f} s: {'OK' if ok else 'OVER / FAILED'}")

        peaks = {}
        for n in (50, 200):
            scs_n = load_text(suite_text(n, args.turns), "yaml", "mem.yaml").scenarios
            tracemalloc.start()
            asyncio.run(run_suite(server, scs_n, args.jobs))
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            peaks[n] = peak
        print(f"tracemalloc peak of a run: 50 scenarios {peaks[50] / 1e6:.2f} MB, 200 scenarios "
              f"{peaks[200] / 1e6:.2f} MB (ratio {peaks[200] / peaks[50]:.2f}; 4x the scenarios)")
        return 0 if ok else 1
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
