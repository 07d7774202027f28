#!/usr/bin/env python
"""Load benchmark (issue 7): concurrent NPC and companion conversations against the local backend.

    .venv/bin/python benchmarks/load.py                  # 50 conversations for 60 s
    .venv/bin/python benchmarks/load.py --seconds 10 --conversations 20 --json out.json

What it does:

1. starts the embedded backend as its own process (``python -m phantom_cli.backend``) on a free
   loopback port, with a fresh temporary PHANTOM_HOME and the ``scripted`` engine;
2. runs ``--conversations`` conversations at once through ``AsyncPhantom`` (half NPC chats with
   the Hollow Market merchant, half companion chats), each sending its next turn as soon as the
   previous one is answered, for ``--seconds`` (bounded: at most ``--max-turns`` turns in all,
   and the run is cut off if it overruns by more than 30 s). NPC conversations play the machine to
   an outcome, then start a new player session; every 4th NPC turn is streamed (SSE);
3. reports turns/s, p50/p90/p99/max latency (overall and per kind) and errors; retries are off
   (``max_retries=0``) so nothing is hidden;
4. counts what the server stored, from its database and through the history API: every
   acknowledged turn must be stored exactly once (NPC: the player's message and the NPC's reply
   under the turn's id, in order; companion: one stored turn per acknowledged ``turn_id``), and
   nothing unacknowledged may be stored;
5. stops the server and removes the temporary home (``--keep`` keeps it).

Targets (issue 7): zero errors, zero lost or duplicated messages, p99 under 10× p50. The exit
code is 0 when every target is met, 1 otherwise. Loopback only: the script never talks to any
other host.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_SECONDS = 600
MAX_CONVERSATIONS = 200
PERSONA_ID = "abc123"

# Paths through the merchant's main machine (each ends at a terminal state), with detours that
# are redirects; see phantom_cli/backend/npc/data/abc123_hollow_market.json.
NPC_PATHS: list[list[str]] = [
    ["Nice lanterns.", "What do you have for sale?", "I can pay in gold.", "Too much, make it cheaper.",
     "Fine, you have a deal."],
    ["I'm looking for something rare.", "Hmm, let me think.", "Would you take a secret instead of gold?",
     "I confess I once stole a bell from the temple."],
    ["I want to buy your wares.", "You are a cheat and a liar."],
    ["Show me your goods.", "What would you take instead of gold? A story?", "No, I'd rather pay.",
     "Deal, I'll pay forty."],
    ["Hello.", "The weather is odd down here.", "Do you sell maps?", "Goodbye."],
]

COMPANION_LINES = [
    "Hi Mira! I just got back from work, long shift at the hospital.",
    "I live in Lisbon with my two cats, Miso and Tofu.",
    "Tomorrow I have my first cello lesson, I'm a bit nervous.",
    "My sister Ana is getting married in June in Porto.",
    "What do you think I should cook tonight? I love grilled sardines.",
    "I'm allergic to peanuts, so no satay for me.",
    "Do you remember where I live?",
    "I started running again, 5 km this morning.",
    "Work was stressful today, we were short on staff.",
    "Tell me something nice before I go to sleep.",
]

PERSONA = {
    "name": "Mira",
    "bio": "A warm, curious companion who loves music, cooking and long walks by the river.",
    "chat_style": "friendly",
    "goals": "Keep the user company and remember what matters to them.",
}


# --------------------------------------------------------------------------- server


def start_server(home: Path, timeout: float = 60.0, profile: str | None = None
                 ) -> tuple[subprocess.Popen[bytes], str, str, Path]:
    """Start the backend on a free loopback port; (process, base_url, api_key, db_path)."""
    os.environ["PHANTOM_HOME"] = str(home)  # so the path helpers below point into the tmp home
    from phantom_cli.backend import runtime
    from phantom_cli.backend.settings import backend_dir, key_file_path

    env = dict(os.environ)
    env.update(PHANTOM_HOME=str(home), PHANTOM_SERVER_IDLE_TIMEOUT="0", PHANTOM_SERVER_ENGINE="scripted")
    for var in ("PHANTOM_BASE_URL", "PHANTOM_API_KEY", "PHANTOM_PROFILE", "PHANTOM_SERVER_FAULTS"):
        env.pop(var, None)
    log = open(home / "server.log", "wb")  # noqa: SIM115 - closed by the child's lifetime
    proc = subprocess.Popen(
        [sys.executable, *(["-m", "cProfile", "-o", profile] if profile else []),
         "-m", "phantom_cli.backend", "--host", "127.0.0.1", "--port", "0"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    info = None
    while time.monotonic() < deadline:
        info = runtime.read_runtime(runtime.runtime_file())
        if info and info.get("pid") == proc.pid:
            break
        if proc.poll() is not None:
            raise SystemExit(f"the server exited during start-up; see {home / 'server.log'}")
        time.sleep(0.05)
    else:
        stop_server(proc)
        raise SystemExit("the server did not start in time")
    base_url = str(info["base_url"])
    if not base_url.startswith(("http://127.0.0.1:", "http://[::1]:", "http://localhost:")):
        stop_server(proc)
        raise SystemExit(f"refusing a non-loopback server address: {base_url}")
    key = key_file_path().read_text(encoding="utf-8").strip()
    return proc, base_url, key, backend_dir() / "phantom.db"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def stop_server(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop the server we started (SIGINT lets a profiled server write its stats)."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# --------------------------------------------------------------------------- load


@dataclass
class Run:
    deadline: float
    max_turns: int
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    turns: int = 0
    # acknowledged turns: NPC (usid -> [(turn_id, player message)]), companion (chat_id -> [turn_id])
    npc_acked: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    npc_inits: Counter[str] = field(default_factory=Counter)
    npc_unsure: set[str] = field(default_factory=set)  # sessions with a failed turn
    companion_acked: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    companion_unsure: Counter[str] = field(default_factory=Counter)

    def go(self) -> bool:
        return time.monotonic() < self.deadline and self.turns < self.max_turns

    def error(self, kind: str, exc: BaseException) -> None:
        status = getattr(exc, "status", None) or getattr(exc, "status_code", None)
        self.errors[f"{kind}: {type(exc).__name__}{f' {status}' if status else ''}"] += 1


async def npc_conversation(client: Any, i: int, run: Run) -> None:
    from phantom_cli.client.errors import PhantomError
    from phantom_cli.client.models import NpcMessageResponse

    rnd = 0
    n = 0
    while run.go():
        usid = f"load-npc-{i}-{rnd}"
        rnd += 1
        try:
            await client.npc.init_session(PERSONA_ID, user_session_id=usid, player_name=f"Player{i}",
                                          player_gender=("female", "male", "non-binary")[i % 3])
        except PhantomError as exc:
            run.error("npc init", exc)
            continue
        run.npc_inits[usid] += 1
        run.npc_acked[usid] = []
        for text in NPC_PATHS[(i + rnd) % len(NPC_PATHS)]:
            if not run.go():
                return
            n += 1
            run.turns += 1
            t0 = time.perf_counter()
            try:
                if n % 4 == 0:
                    out = None
                    async for ev in await client.npc.message(PERSONA_ID, message=text, user_session_id=usid, stream=True):
                        if isinstance(ev, NpcMessageResponse):
                            out = ev
                    if out is None:
                        raise RuntimeError("stream ended without a done event")
                    kind = "npc-stream"
                else:
                    out = await client.npc.message(PERSONA_ID, message=text, user_session_id=usid)
                    kind = "npc"
            except (PhantomError, RuntimeError) as exc:
                run.error("npc message", exc)
                run.npc_unsure.add(usid)
                break
            run.latencies[kind].append(time.perf_counter() - t0)
            run.npc_acked[usid].append((str(getattr(out, "turn_id", "")), text))
            if out.machine_completed:
                break


async def companion_conversation(client: Any, i: int, run: Run) -> None:
    from phantom_cli.client.errors import PhantomError

    chat_id = f"load-comp-{i}"
    window: list[dict[str, str]] = []
    n = 0
    while run.go():
        text = COMPANION_LINES[(i + n) % len(COMPANION_LINES)]
        n += 1
        run.turns += 1
        msgs = [*window[-19:], {"role": "user", "content": text}]
        t0 = time.perf_counter()
        try:
            out = await client.companion.chat(chat_id=chat_id, persona=PERSONA, messages=msgs)
        except PhantomError as exc:
            run.error("companion", exc)
            run.companion_unsure[chat_id] += 1
            continue
        run.latencies["companion"].append(time.perf_counter() - t0)
        run.companion_acked[chat_id].append(str(getattr(out, "turn_id", "")))
        window = [*msgs, {"role": "assistant", "content": out.reply}]


async def load(base_url: str, key: str, conversations: int, seconds: float, max_turns: int) -> tuple[Run, float]:
    from phantom_cli.client import AsyncPhantom

    run = Run(deadline=time.monotonic() + seconds, max_turns=max_turns)
    client = AsyncPhantom(base_url=base_url, api_key=key, max_retries=0, timeout=30.0)
    try:
        tasks = []
        for i in range(conversations):
            fn = npc_conversation if i % 2 == 0 else companion_conversation
            tasks.append(asyncio.create_task(fn(client, i, run)))
        t0 = time.perf_counter()
        try:
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=seconds + 30)
        except TimeoutError:
            run.errors["run overran its time bound (cut off)"] += 1
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        elapsed = time.perf_counter() - t0
    finally:
        await client.aclose()
    return run, elapsed


# --------------------------------------------------------------------------- verification


def _multiset_diff(expected: list[Any], actual: list[Any]) -> tuple[int, int]:
    e, a = Counter(expected), Counter(actual)
    return sum((e - a).values()), sum((a - e).values())


def verify(run: Run, db_path: Path) -> dict[str, Any]:
    """Compare what the clients were told with what the server stored (its database)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        stored: dict[str, list[sqlite3.Row]] = defaultdict(list)
        for r in conn.execute(
            "SELECT s.user_session_id, m.role, m.content, m.turn_id FROM npc_messages m"
            " JOIN npc_sessions s ON s.id = m.session_id WHERE s.persona_id = ? ORDER BY m.seq",
            (PERSONA_ID,),
        ):
            stored[r["user_session_id"]].append(r)
        npc_lost = npc_dup = npc_order = npc_unacked = 0
        for usid, acked in run.npc_acked.items():
            rows = stored.get(usid, [])
            openings = [r for r in rows if r["role"] == "npc" and r["turn_id"] is None]
            if len(openings) != 1:
                npc_dup += max(0, len(openings) - 1)
                npc_lost += 1 if not openings else 0
            want = [tid for tid, _ in acked for _ in (0, 1)]  # player + npc per turn
            got = [r["turn_id"] for r in rows if r["turn_id"] is not None]
            lost, dup = _multiset_diff(want, got)
            if usid in run.npc_unsure:  # a failed turn may or may not have been stored
                dup = max(0, dup - 2)
                npc_unacked += len(got) - len(want) if len(got) > len(want) else 0
            npc_lost += lost
            npc_dup += dup
            players = [r["content"] for r in rows if r["role"] == "player"]
            if players[: len(acked)] != [text for _, text in acked]:
                npc_order += 1
        strays = [u for u in stored if u.startswith("load-npc-") and u not in run.npc_acked]
        comp_stored: dict[str, list[str]] = defaultdict(list)
        for r in conn.execute("SELECT conversation_id, id FROM prompt_turn WHERE kind = 'companion'"):
            comp_stored[r["conversation_id"]].append(r["id"])
        turns_counted = {r["chat_id"]: r["user_turns"] for r in conn.execute("SELECT chat_id, user_turns FROM companion_chat")}
        comp_lost = comp_dup = comp_count_mismatch = 0
        for chat_id, acked_ids in run.companion_acked.items():
            lost, dup = _multiset_diff(acked_ids, comp_stored.get(chat_id, []))
            dup = max(0, dup - run.companion_unsure.get(chat_id, 0))
            comp_lost += lost
            comp_dup += dup
            if turns_counted.get(chat_id, 0) - len(acked_ids) not in range(0, run.companion_unsure.get(chat_id, 0) + 1):
                comp_count_mismatch += 1
        npc_messages = sum(len(v) for v in stored.values())
    finally:
        conn.close()
    return {
        "npc_sessions": len(run.npc_acked),
        "npc_messages_stored": npc_messages,
        "npc_lost": npc_lost,
        "npc_duplicated": npc_dup,
        "npc_out_of_order_sessions": npc_order,
        "npc_stray_sessions": len(strays),
        "npc_stored_after_error": npc_unacked,
        "companion_turns_stored": sum(len(v) for k, v in comp_stored.items() if k in run.companion_acked),
        "companion_lost": comp_lost,
        "companion_duplicated": comp_dup,
        "companion_turn_count_mismatches": comp_count_mismatch,
    }


async def check_history_api(base_url: str, key: str, run: Run, sample: int = 25) -> int:
    """The history API agrees with the acknowledged turns for a sample of NPC sessions."""
    from phantom_cli.client import AsyncPhantom

    bad = 0
    usids = [u for u in sorted(run.npc_acked) if u not in run.npc_unsure][:sample]
    async with AsyncPhantom(base_url=base_url, api_key=key, max_retries=0) as client:
        for usid in usids:
            h = await client.npc.history(PERSONA_ID, user_session_id=usid)
            players = [m.content for m in h.messages if m.role == "player"]
            npcs = [m for m in h.messages if m.role == "npc"]
            if players != [t for _, t in run.npc_acked[usid]] or len(npcs) != len(players) + 1:
                bad += 1
    return bad


# --------------------------------------------------------------------------- report


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def summarise(run: Run, elapsed: float, checks: dict[str, Any], history_bad: int, args: Any) -> dict[str, Any]:
    every = [x for v in run.latencies.values() for x in v]
    kinds = {}
    for kind, vals in sorted(run.latencies.items()):
        kinds[kind] = {"turns": len(vals), "p50_ms": pct(vals, 50) * 1000, "p99_ms": pct(vals, 99) * 1000,
                       "max_ms": max(vals) * 1000}
    p50, p99 = pct(every, 50), pct(every, 99)
    errors = sum(run.errors.values())
    lost = checks["npc_lost"] + checks["companion_lost"]
    dup = checks["npc_duplicated"] + checks["companion_duplicated"]
    targets = {
        "zero errors": errors == 0,
        "zero lost": lost == 0,
        "zero duplicated": dup == 0,
        "in order, counted right": checks["npc_out_of_order_sessions"] == 0
        and checks["companion_turn_count_mismatches"] == 0 and checks["npc_stray_sessions"] == 0
        and history_bad == 0,
        "p99 < 10 x p50": p99 < 10 * p50,
    }
    return {
        "conversations": args.conversations,
        "seconds": round(elapsed, 2),
        "turns": len(every),
        "turns_per_s": len(every) / elapsed if elapsed else 0.0,
        "p50_ms": p50 * 1000,
        "p90_ms": pct(every, 90) * 1000,
        "p99_ms": p99 * 1000,
        "max_ms": max(every) * 1000 if every else float("nan"),
        "per_kind": kinds,
        "errors": errors,
        "error_kinds": dict(run.errors),
        "lost": lost,
        "duplicated": dup,
        "history_api_mismatches": history_bad,
        "checks": checks,
        "targets": targets,
        "ok": all(targets.values()),
    }


def print_report(r: dict[str, Any]) -> None:
    print(f"phantom load: {r['conversations']} conversations (NPC + companion), {r['seconds']:.1f} s, scripted engine")
    print(f"  turns        {r['turns']}  ({r['turns_per_s']:.1f} turns/s)")
    print(f"  latency      p50 {r['p50_ms']:.1f} ms   p90 {r['p90_ms']:.1f} ms   p99 {r['p99_ms']:.1f} ms"
          f"   max {r['max_ms']:.1f} ms")
    for kind, k in r["per_kind"].items():
        print(f"    {kind:<11} {k['turns']:>6} turns   p50 {k['p50_ms']:.1f} ms   p99 {k['p99_ms']:.1f} ms"
              f"   max {k['max_ms']:.1f} ms")
    if r.get("server_cpu_s") is not None and r["turns"]:
        print(f"  cpu          server {r['server_cpu_s']:.1f} s ({r['server_cpu_s'] / r['turns'] * 1000:.2f} ms/turn),"
              f" load client {r['client_cpu_s']:.1f} s; {os.cpu_count()} cores, load average "
              f"{os.getloadavg()[0]:.1f}")
    print(f"  errors       {r['errors']}" + (f"  {r['error_kinds']}" if r["errors"] else ""))
    c = r["checks"]
    print(f"  stored       NPC: {c['npc_sessions']} sessions, {c['npc_messages_stored']} messages; "
          f"companion: {c['companion_turns_stored']} turns")
    print(f"  lost         {r['lost']}   duplicated {r['duplicated']}   "
          f"out-of-order sessions {c['npc_out_of_order_sessions']}   history API mismatches "
          f"{r['history_api_mismatches']}")
    for name, good in r["targets"].items():
        print(f"  target       {name:<24} {'met' if good else 'MISSED'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help=f"load duration (max {MAX_SECONDS})")
    ap.add_argument("--conversations", type=int, default=50, help=f"concurrent conversations (max {MAX_CONVERSATIONS})")
    ap.add_argument("--max-turns", type=int, default=200_000, help="stop after this many turns in all")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--keep", action="store_true", help="keep the temporary PHANTOM_HOME (database, log)")
    ap.add_argument("--profile", metavar="FILE", help="run the server under cProfile, stats to FILE")
    args = ap.parse_args(argv)
    if not 0 < args.seconds <= MAX_SECONDS:
        ap.error(f"--seconds: between 0 and {MAX_SECONDS}")
    if not 2 <= args.conversations <= MAX_CONVERSATIONS:
        ap.error(f"--conversations: between 2 and {MAX_CONVERSATIONS}")
    if args.max_turns < 1:
        ap.error("--max-turns: at least 1")

    home = Path(tempfile.mkdtemp(prefix="phantom-load-"))
    proc = None
    try:
        proc, base_url, key, db_path = start_server(home, profile=args.profile and str(Path(args.profile).resolve()))
        cpu0, client0 = cpu_seconds(proc.pid), time.process_time()
        run, elapsed = asyncio.run(load(base_url, key, args.conversations, args.seconds, args.max_turns))
        cpu = {"server_cpu_s": cpu_seconds(proc.pid) - cpu0, "client_cpu_s": time.process_time() - client0}
        history_bad = asyncio.run(check_history_api(base_url, key, run))
        checks = verify(run, db_path)
        report = summarise(run, elapsed, checks, history_bad, args)
        report.update(cpu)
    finally:
        if proc is not None:
            stop_server(proc, signal.SIGINT if args.profile else signal.SIGTERM)
        if args.keep:
            print(f"(kept {home})", file=sys.stderr)
        else:
            shutil.rmtree(home, ignore_errors=True)
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
