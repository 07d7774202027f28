"""Start-up time of the CLI against its floors (rerunnable).

    .venv/bin/python benchmarks/startup.py [-n 15]

Times, side by side (median of N runs each, wall clock of a fresh process):

- ``phantom --help`` and ``phantom --version`` vs ``python -c "import typer"`` (target ≤ 1.3×)
- ``phantom activities list --json`` against a running local backend (started here, on a free
  loopback port) vs ``python -c "import typer, httpx"`` (target ≤ 1.5×)

with byte-code caching on (in a temp dir), as an installed package has it,
and, for context, what pydantic and the typed client cost next to the same floor (list
commands take the transport alone, without them: see ``phantom_cli.cli.common.list_or_stream``
and ``phantom_cli.cli._coerce``),
and checks with ``-X importtime`` that ``--help`` / ``--version`` import none of httpx, pydantic,
rich, keyring, textual, starlette, numpy, PIL or the backend.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FORBIDDEN = ("httpx", "pydantic", "rich", "keyring", "textual", "starlette", "numpy", "PIL",
             "phantom_cli.backend.app", "phantom_cli.client", "platformdirs")  # fmt: skip


def phantom_cmd() -> list[str]:
    script = Path(sys.executable).with_name("phantom")
    return [str(script)] if script.exists() else [sys.executable, "-m", "phantom_cli"]


def run_once(cmd: list[str], env: dict[str, str]) -> float:
    """Wall-clock milliseconds of one run of ``cmd`` (which must succeed)."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = (time.perf_counter() - t0) * 1000
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace")[-500:]
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {tail}")
    return elapsed


def time_rounds(
    cmds: list[tuple[list[str], dict[str, str]]], n: int, warmup: int = 2
) -> list[float]:
    """Median ms of each command over ``n`` rounds; each round runs every command once, so a
    change in machine load hits the commands and their floors alike."""
    samples: list[list[float]] = [[] for _ in cmds]
    for r in range(warmup + n):
        for i, (cmd, env) in enumerate(cmds):
            ms = run_once(cmd, env)
            if r >= warmup:
                samples[i].append(ms)
    return [statistics.median(s) for s in samples]


def imported_modules(cmd_args: list[str], env: dict[str, str]) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "phantom_cli", *cmd_args],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    mods = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            mods.add(line.rsplit("|", 1)[1].strip())
    return mods


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=15, help="measured runs per command (median)")
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix="phantom-bench-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)  # its server, its byte-code cache
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHANTOM_")}
    env["PHANTOM_HOME"] = home
    # Measure what a user gets: byte-code cached (an installed package has .pyc files). The
    # cache goes to a temp dir, not into the source tree; the warm-up runs fill it.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(Path(home) / "pycache")
    py = sys.executable
    ph = phantom_cmd()

    # --- import check
    bad: dict[str, list[str]] = {}
    for flag in ("--help", "--version"):
        mods = imported_modules([flag], env)
        hits = sorted(m for m in mods if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))
        if hits:
            bad[flag] = hits

    # --- a local backend on a free loopback port, in this process
    from phantom_cli.backend.testing import LiveServer

    server = LiveServer(Path(home) / "server", engine="scripted", seed=0).start()
    try:
        list_env = dict(env, PHANTOM_BASE_URL=server.base_url, PHANTOM_API_KEY=server.api_key)
        rows = [
            ("python -c 'import typer'", [py, "-c", "import typer"], env, None),
            ("phantom --help", [*ph, "--help"], env, 0),
            ("phantom --version", [*ph, "--version"], env, 0),
            ("python -c 'import typer, httpx'", [py, "-c", "import typer, httpx"], env, None),
            ("phantom activities list --json", [*ph, "activities", "list", "--json"], list_env, 3),
            # context, not a target: what the client's own dependencies cost before any work
            (
                "python -c 'import typer, httpx, pydantic'",
                [py, "-c", "import typer, httpx, pydantic; pydantic.BaseModel"],
                env,
                3,
            ),
            (
                "python -c '…client import Phantom'",
                [py, "-c", "import typer; from phantom_cli.client import Phantom"],
                env,
                3,
            ),
            # context: the same list as tab-separated rows
            ("phantom activities list (rows)", [*ph, "activities", "list"], list_env, 3),
        ]
        # the JSON list path takes the transport alone: no pydantic, no wire models
        mods = imported_modules(["activities", "list", "--json"], list_env)
        hits = sorted(m for m in mods if m.split(".")[0] == "pydantic" or m == "phantom_cli.client.models")
        if hits:
            bad["activities list --json"] = hits
        medians = time_rounds([(cmd, e) for _label, cmd, e, _floor in rows], args.n)
    finally:
        server.stop()

    targets = {1: 1.3, 2: 1.3, 4: 1.5}
    print(f"start-up, median of {args.n} runs ({sys.version.split()[0]}, {os.cpu_count()} cores)")
    print(f"{'command':<36} {'median ms':>10} {'ratio':>7} {'target':>7}")
    ok = True
    for i, (label, _cmd, _e, floor) in enumerate(rows):
        ratio = f"{medians[i] / medians[floor]:.2f}x" if floor is not None else "floor"
        target = f"≤{targets[i]}x" if i in targets else ""
        if i in targets and floor is not None and medians[i] / medians[floor] > targets[i]:
            ok = False
        print(f"{label:<36} {medians[i]:>10.1f} {ratio:>7} {target:>7}")
    if bad:
        ok = False
        for flag, hits in bad.items():
            print(f"phantom {flag} imports: {', '.join(hits)}")
    else:
        print("--help/--version import none of: " + ", ".join(FORBIDDEN))
        print("activities list --json imports neither pydantic nor the wire models")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
