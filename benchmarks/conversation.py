"""Companion-turn benchmark: what memory costs on the server side (scripted engine).

1. A companion turn's server-side time (moderation, retrieval, prompt assembly, scripted
   generation, cadence bookkeeping, prompt storage: ``routes.companion.run_turn``) with 10,000
   memories in the chat's store, against the same turn with memory disabled, interleaved in one
   run. Overhead = p50(with memory) - p50(memory disabled). Target: overhead p50 <= 15 ms.
2. Retrieval (embed the message + search the cached matrix) with 100,000 memories in one chat.
   Target: p50 <= 30 ms. The one-off cold load of the matrix is reported separately.

    .venv/bin/python benchmarks/conversation.py [--turns 300] [--memories 10000] [--big 100000]

In process (no HTTP: the HTTP stack is the same with or without memory), temporary
PHANTOM_HOME removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORDS = (
    "astronomy hiking tea coffee jazz chess painting sailing cycling pottery gardening baking "
    "climbing surfing poetry cinema football tennis yoga running swimming knitting photography "
    "guitar piano violin opera comics anime sushi ramen tacos pasta curry mushrooms olives "
    "Lisbon Porto Berlin Madrid Paris Rome Oslo Tokyo Seoul Lima Quito Austin Denver Boston "
    "nurse teacher engineer chef pilot writer lawyer farmer baker dentist plumber designer"
).split()
NAMES = "Ana Ben Carla Dev Eli Fatima Gus Hana Ivo Jade Kai Lena Milo Nora Omar Pia Quinn Rosa Sami Tara".split()
RELATIONS = "sister brother mother father friend cousin aunt uncle boss neighbour".split()
PETS = "dog cat parrot rabbit hamster turtle".split()
QUERIES = [
    "Do you remember where I live?",
    "What's my sister called again?",
    "I went hiking this morning and it was lovely",
    "Ugh, work was long today",
    "Tell me about black holes",
    "My dog is acting strange",
    "What should I cook tonight?",
    "I started learning the guitar",
]


def synthetic_facts(n: int, rng: random.Random) -> list[tuple[str, str, str, str]]:
    out: list[tuple[str, str, str, str]] = []
    for i in range(n):
        kind = i % 5
        if kind == 0:
            w = rng.choice(WORDS)
            out.append(("likes", w.lower(), w, f"The user likes {w} ({i})."))
        elif kind == 1:
            w = rng.choice(WORDS)
            out.append(("dislikes", w.lower(), w, f"The user dislikes {w} ({i})."))
        elif kind == 2:
            rel, name = rng.choice(RELATIONS), rng.choice(NAMES)
            out.append(("relationships", f"{rel}{i}", name, f"The user's {rel} is {name} ({i})."))
        elif kind == 3:
            pet, name = rng.choice(PETS), rng.choice(NAMES)
            out.append(("pets", f"{pet}{i}", name, f"The user has a {pet} named {name} ({i})."))
        else:
            a, b = rng.choice(WORDS), rng.choice(WORDS)
            out.append(("facts", f"fact{i}", f"{a} {b}", f"The user's note {i}: {a} and {b}."))
    return out


def fill(app: object, user_id: str, chat_id: str, n: int, seed: int) -> float:
    from phantom_cli.backend.memory.embedder import default_embedder
    from phantom_cli.backend.memory.service import memory_service

    svc = memory_service(app)
    emb = default_embedder()
    rng = random.Random(seed)
    t0 = time.perf_counter()
    done = 0
    while done < n:
        batch = synthetic_facts(min(10_000, n - done), rng)
        vecs = emb.embed([t for *_, t in batch])
        svc.store.add_many(app.state.db, user_id, chat_id, batch, vecs, emb.name)  # type: ignore[attr-defined]
        done += len(batch)
    return time.perf_counter() - t0


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


async def bench_turns(app: object, user_id: str, chat_id: str, turns: int) -> dict[str, list[float]]:
    from phantom_cli.backend.routes.companion import run_turn
    from phantom_cli.client import models as m

    persona = {"name": "Luna", "bio": "A warm, witty companion who loves astronomy.", "chat_style": "playful"}
    times: dict[str, list[float]] = {"memory": [], "disabled": [], "retrieved": []}
    for i in range(turns + 10):
        q = QUERIES[i % len(QUERIES)]
        body = m.CompanionChatRequest.model_validate({
            "chat_id": chat_id, "persona": persona, "extract_memory": False,
            "messages": [{"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hey you!"},
                         {"role": "user", "content": q}],
        })
        order = [("memory", True), ("disabled", False)] if i % 2 == 0 else [("disabled", False), ("memory", True)]
        for label, memory in order:
            t0 = time.perf_counter()
            out = await run_turn(app, user_id, body, memory=memory)
            dt = (time.perf_counter() - t0) * 1000
            if i >= 10:  # warm-up
                times[label].append(dt)
                if memory:
                    times["retrieved"].append(out.memory.retrieved_count)
    return times


async def bench_retrieval(app: object, user_id: str, chat_id: str, queries: int) -> tuple[float, list[float]]:
    from phantom_cli.backend.memory.service import memory_service

    svc = memory_service(app)
    conn = app.state.db  # type: ignore[attr-defined]
    svc.store.invalidate(user_id, chat_id)
    t0 = time.perf_counter()
    await svc.retrieve(conn, user_id, chat_id, QUERIES[0])
    cold = (time.perf_counter() - t0) * 1000
    out: list[float] = []
    for i in range(queries):
        t0 = time.perf_counter()
        r = await svc.retrieve(conn, user_id, chat_id, QUERIES[i % len(QUERIES)] + f" {i}")
        out.append((time.perf_counter() - t0) * 1000)
        assert len(r.hits) <= 5
    return cold, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--turns", type=int, default=300)
    ap.add_argument("--memories", type=int, default=10_000)
    ap.add_argument("--big", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="phantom-bench-conv-"))
    os.environ["PHANTOM_HOME"] = str(home)
    try:
        from phantom_cli.backend.app import create_app
        from phantom_cli.backend.memory.embedder import default_embedder
        from phantom_cli.backend.settings import ServerSettings

        app = create_app(ServerSettings.for_home(home, engine="scripted", seed=0, load_seed_content=False,
                                                 idle_timeout=0))
        user_id = app.state.db.execute("SELECT id FROM users LIMIT 1").fetchone()[0]
        print(f"embedder: {default_embedder().name}  python {sys.version.split()[0]}  cores {os.cpu_count()}")

        secs = fill(app, user_id, "bench-10k", args.memories, seed=1)
        print(f"stored {args.memories:,} memories in {secs:.1f} s (embed + insert)")
        times = asyncio.run(bench_turns(app, user_id, "bench-10k", args.turns))
        p50_mem, p50_off = statistics.median(times["memory"]), statistics.median(times["disabled"])
        overhead = p50_mem - p50_off
        print(f"\ncompanion turn, server side, {args.turns} turns each (interleaved):")
        print(f"  memory disabled        p50 {p50_off:6.2f} ms   p95 {pct(times['disabled'], 95):6.2f} ms")
        print(f"  {args.memories:>6,} memories       p50 {p50_mem:6.2f} ms   p95 {pct(times['memory'], 95):6.2f} ms"
              f"   (retrieved per turn: {min(times['retrieved']):.0f}-{max(times['retrieved']):.0f})")
        print(f"  memory overhead        p50 {overhead:6.2f} ms   target <= 15 ms: {'OK' if overhead <= 15 else 'MISSED'}")

        secs = fill(app, user_id, "bench-100k", args.big, seed=2)
        print(f"\nstored {args.big:,} memories in {secs:.1f} s (embed + insert)")
        cold, ret = asyncio.run(bench_retrieval(app, user_id, "bench-100k", args.queries))
        p50 = statistics.median(ret)
        print(f"retrieval at {args.big:,}: cold load {cold:.0f} ms (once per chat per server start; writes update the cache in place), then "
              f"p50 {p50:.2f} ms  p95 {pct(ret, 95):.2f} ms   target <= 30 ms: {'OK' if p50 <= 30 else 'MISSED'}")
        app.state.db.close()
        return 0
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
