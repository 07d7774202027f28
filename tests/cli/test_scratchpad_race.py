"""Two `phantom scratchpad edit` processes on the same scratchpad at once (issue 7).

Real subprocesses (`python -m phantom_cli`), one shared PHANTOM_HOME, PHANTOM_BASE_URL /
PHANTOM_API_KEY pointing at the live server, scripted editors that meet at a barrier so both
processes have fetched the same version before either saves. One wins; the other gets the
conflict flow; neither edit is lost.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import EDITOR_SCRIPT


def start(
    name: str, uid: str, tmp: Path, home: Path, live_server: Any, steps: list[dict], answer: str
) -> subprocess.Popen:
    script = tmp / "editor.py"
    if not script.exists():
        script.write_text(EDITOR_SCRIPT, encoding="utf-8")
    plan = tmp / f"plan-{name}.json"
    plan.write_text(json.dumps({"steps": steps, "log": str(tmp / f"log-{name}")}), "utf-8")
    env = dict(os.environ)
    env.update(
        PHANTOM_HOME=str(home),
        PHANTOM_BASE_URL=live_server.base_url,
        PHANTOM_API_KEY=live_server.api_key,
        EDITOR=" ".join(shlex.quote(str(a)) for a in (sys.executable, script, plan)),
    )
    env.pop("VISUAL", None)
    answers = tmp / f"answers-{name}.txt"
    answers.write_text(answer, encoding="utf-8")  # read only by the process with a conflict
    with answers.open("rb") as stdin:
        return subprocess.Popen(
            [sys.executable, "-m", "phantom_cli", "scratchpad", "edit", "--companion", uid],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"a phantom process hung: {err}")
    return proc.returncode, err


def run_race(uid, tmp_path, phantom_home, live_server, answer, second_step):
    c = live_server.client()
    base = c.scratchpad.update(content="shared base\n", version=0, companion_id=uid).version
    query = {"companion_id": uid, "type": "companion"}
    barrier = {"dir": str(tmp_path / "barrier"), "peers": 2}
    procs = {}
    for name in ("A", "B"):
        steps = [
            {"barrier": {**barrier, "name": name}, "write": f"shared base\nline from {name}\n"},
            second_step(name, query),
        ]
        procs[name] = start(name, uid, tmp_path, phantom_home, live_server, steps, answer)
    results = {name: finish(p) for name, p in procs.items()}
    losers = [n for n, (_, err) in results.items() if "conflict:" in err]
    winners = [n for n, (code, err) in results.items() if code == 0 and "conflict:" not in err]
    assert len(losers) == 1 and len(winners) == 1, results
    return base, winners[0], losers[0], results


def test_race_re_edit_keeps_both_edits(live_server, uid, tmp_path, phantom_home) -> None:
    base, winner, loser, results = run_race(
        uid,
        tmp_path,
        phantom_home,
        live_server,
        "r\n",
        lambda name, query: {"merge": {"query": query, "add": f"line from {name}\n"}},
    )
    code, err = results[loser]
    assert code == 0, err
    # the loser saw the diff of the server's text (the winner's line) against its own edit
    assert f"-line from {winner}" in err and f"+line from {loser}" in err
    now = live_server.client().scratchpad.get(companion_id=uid)
    assert now.content == f"shared base\nline from {winner}\nline from {loser}\n"
    assert now.version == base + 2
    rec = phantom_home / "state" / "recovery"
    assert not list(rec.glob("*.txt"))  # both writes succeeded: nothing left to recover


def test_race_abort_keeps_the_losers_text(live_server, uid, tmp_path, phantom_home) -> None:
    base, winner, loser, results = run_race(
        uid, tmp_path, phantom_home, live_server, "a\n", lambda name, query: {"keep": True}
    )
    code, err = results[loser]
    assert code == 6, err
    now = live_server.client().scratchpad.get(companion_id=uid)
    assert now.content == f"shared base\nline from {winner}\n" and now.version == base + 1
    # the winner's success did not delete the loser's recovery file (same PHANTOM_HOME)
    kept = list((phantom_home / "state" / "recovery").glob("*.txt"))
    assert [p.read_text(encoding="utf-8") for p in kept] == [f"shared base\nline from {loser}\n"]
    assert str(kept[0]) in err
