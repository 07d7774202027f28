"""Scenario-runner benchmark: 50 scenarios x 10 turns on the local scripted backend.

Target: <= 10 s wall time on this 2-core machine (issue 16). Also checks that the runner's
memory stays flat as the suite grows: tracemalloc peak of the run at 50 vs 200 scenarios (the
suite itself is built before tracing starts).

    .venv/bin/python benchmarks/scenarios.py [--scenarios 50] [--turns 10] [-j 4]

A real uvicorn server in a thread on a free loopback port (tests' LiveServer), engine scripted,
seed 0, and — when the backend has the setting — scripted_pace = 0 (no word-by-word pacing).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
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


def start_server(home: Path):
    from phantom_cli.backend.settings import ServerSettings
    from phantom_cli.backend.testing import LiveServer

    extra = {}
    if "scripted_pace" in {f.name for f in dataclasses.fields(ServerSettings)}:
        extra["scripted_pace"] = 0
    return LiveServer(home, engine="scripted", seed=0, **extra).start()


async def run_suite(server, scenarios, jobs: int):
    from phantom_cli.scenarios import Runner, RunOptions

    client = server.async_client()
    async with client:
        return await Runner(client, RunOptions(jobs=jobs, seed=0)).run(scenarios)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", type=int, default=50)
    ap.add_argument("--turns", type=int, default=10)
    ap.add_argument("-j", "--jobs", type=int, default=4)
    ap.add_argument("--budget", type=float, default=10.0)
    args = ap.parse_args()
    from phantom_cli.scenarios import load_text

    home = Path(tempfile.mkdtemp(prefix="phantom-bench-scn-"))
    server = start_server(home)
    try:
        scs = load_text(suite_text(args.scenarios, args.turns), "yaml", "bench.yaml").scenarios
        t0 = time.perf_counter()
        summary = asyncio.run(run_suite(server, scs, args.jobs))
        wall = time.perf_counter() - t0
        turns = sum(1 for s in scs for st in s.steps if st.kind == "say")
        c = summary.counts()
        print(f"{len(scs)} scenarios x {args.turns} turns ({turns} turns), -j {args.jobs}: {wall:.2f} s "
              f"({turns / wall:.0f} turns/s); {c}")
        ok = wall <= args.budget and c["passed"] == len(scs)
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
