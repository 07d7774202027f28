"""phantom test against a live local backend: examples, failures, reports, exit codes, -x,
--repeat, unknown targets, interrupt."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from .conftest import write

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "scenarios"

FAILING = """\
scenarios:
  - name: merchant passes
    npc: abc123
    steps:
      - say: I'm looking for something rare.
        expect: {state: negotiation}
  - name: merchant wrong score
    npc: abc123
    steps:
      - say: I'm looking for something rare.
        expect:
          state: negotiation
          score: ">=5"
      - say: never reached
  - name: ghost npc
    npc: no_such_npc
    steps:
      - say: hello
"""


def test_examples_pass_against_a_live_local_backend(run_test, tmp_path: Path) -> None:
    r = run_test(str(EXAMPLES), "-j", "2", "--json", str(tmp_path / "r.json"), "--seed", "1")
    assert r.exit_code == 0, r.output
    data = json.loads((tmp_path / "r.json").read_text())
    names = {s["id"].split("::")[1] for s in data["scenarios"]}
    assert {"merchant deal struck in gold", "merchant secret revealed unlocks the vault",
            "luna recalls the cat's name", "inbound moderation refusal",
            "persona name over its limit is refused with 400"} <= names
    assert data["ok"] and data["counts"]["passed"] == len(data["results"]) >= 9


def test_failures_are_one_line_and_exit_1_and_reports(run_test, tmp_path: Path) -> None:
    f = write(tmp_path, FAILING)
    junit, js = tmp_path / "j.xml", tmp_path / "r.json"
    r = run_test(str(f), "-j", "1", "--junit", str(junit), "--json", str(js))
    assert r.exit_code == 1, r.output
    line = next(ln for ln in r.output.splitlines() if "merchant wrong score" in ln and ln.startswith(str(f)))
    assert line.startswith(f"{f}:13: merchant wrong score › step 1: score: ")
    assert "expected >=5, got 1" in line
    ghost = next(ln for ln in r.output.splitlines() if ln.startswith(f"{f}:") and "ghost npc" in ln)
    assert "unknown NPC 'no_such_npc'" in ghost
    # JUnit: structure CI systems read
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "3"
    assert root.get("failures") == "1" and root.get("errors") == "1"
    (suite,) = root.findall("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"merchant passes", "merchant wrong score", "ghost npc"}
    assert cases["merchant passes"].find("failure") is None and float(cases["merchant passes"].get("time")) >= 0
    assert "expected >=5" in cases["merchant wrong score"].find("failure").get("message")
    assert cases["ghost npc"].find("error") is not None
    # JSON: per-step actual values for the failure
    data = json.loads(js.read_text())
    wrong = next(x for x in data["results"] if x["name"] == "merchant wrong score")
    assert wrong["status"] == "failed" and wrong["failed_step"] == 1 and wrong["steps_run"] == 1
    assert wrong["steps"][0]["actual"]["score"] == 1 and wrong["steps"][0]["latency_ms"] > 0
    assert wrong["failure"] == {"expectation": "score", "expected": ">=5", "actual": 1,
                                "message": "score: expected >=5, got 1", "line": 13}


def test_bad_file_is_exit_2_with_line(run_test, tmp_path: Path) -> None:
    f = write(tmp_path, "scenarios:\n  - name: a\n    npc: abc123\n    steps:\n      - say: hi\n        expect: {outcme: x}\n")
    r = run_test(str(f))
    assert r.exit_code == 2
    assert f"{f}:6: " in r.output and "unknown expectation key 'outcme'" in r.output


def test_exitfirst_stops_and_repeat_gives_pass_rates(run_test, tmp_path: Path) -> None:
    f = write(tmp_path, FAILING)
    js = tmp_path / "r.json"
    r = run_test(str(f), "-j", "1", "-x", "-k", "merchant", "--json", str(js))
    assert r.exit_code == 1
    data = json.loads(js.read_text())
    assert [x["name"] for x in data["results"]] == ["merchant passes", "merchant wrong score"]
    assert data["stopped_early"] is True
    r = run_test(str(f), "-k", "merchant and not wrong", "--repeat", "3", "--json", str(js))
    assert r.exit_code == 0, r.output
    data = json.loads(js.read_text())
    assert data["scenarios"] == [{"id": f"{f}::merchant passes", "passed": 3, "attempts": 3, "pass_rate": 1.0, "ok": True}]
    assert len({x["ids"]["session"] for x in data["results"]}) == 3  # own session per run
    r = run_test(str(f), "-k", "wrong", "--repeat", "2", "--min-pass-rate", "0.5")
    assert r.exit_code == 1 and "0/2" in r.output


def test_seed_makes_ids_reproducible(run_test, tmp_path: Path) -> None:
    f = write(tmp_path, FAILING)
    ids = []
    for _ in range(2):
        js = tmp_path / "r.json"
        run_test(str(f), "-k", "passes", "--seed", "7", "--json", str(js))
        ids.append(json.loads(js.read_text())["results"][0]["ids"]["session"])
    assert ids[0] == ids[1] and ids[0].startswith("scn-merchant-passes-")


COMPANION = """\
scenarios:
  - name: luna small talk
    persona: {name: Luna, bio: a night-owl astronomer}
    steps:
      - say: Tell me something about the sky tonight.
      - say: And what should I look for first?
"""


def test_seed_is_the_companion_attempt_seed(run_test, tmp_path: Path) -> None:
    """On the local backend --seed N goes with every companion turn (through the conversation
    core): the same seed repeats the scripted replies, another seed changes them."""
    f = write(tmp_path, COMPANION)

    def replies(seed: str) -> list[str]:
        js = tmp_path / f"r{seed}.json"
        r = run_test(str(f), "--seed", seed, "--steps", "--json", str(js))
        assert r.exit_code == 0, r.output
        return [st["actual"]["reply"] for st in json.loads(js.read_text())["results"][0]["steps"]]

    first, again, other = replies("3"), replies("3"), replies("4")
    assert first == again and all(first)
    assert first != other


def test_schema_command_prints_the_schema(run_test) -> None:
    r = run_test("schema")
    assert r.exit_code == 0
    data = json.loads(r.output)
    assert data["title"] == "phantom-scenario/1" and "scenarios" in data["properties"]


def test_no_selection_and_bad_k_are_usage_errors(run_test, tmp_path: Path) -> None:
    f = write(tmp_path, FAILING)
    assert run_test(str(f), "-k", "nothing-matches").exit_code == 2
    assert run_test(str(f), "-k", "a and").exit_code == 2
    assert run_test(str(f), "--shard", "5/3").exit_code == 2


def test_ctrl_c_stops_cleanly_and_writes_reports(live_server, tmp_path: Path) -> None:
    steps = "".join("      - say: What do you have for sale?\n      - reset: true\n" for _ in range(40))
    text = "scenarios:\n" + "".join(f"  - name: long {i}\n    npc: abc123\n    steps:\n{steps}" for i in range(6))
    f = write(tmp_path, text)
    junit, js = tmp_path / "j.xml", tmp_path / "r.json"
    env = {**os.environ, "PHANTOM_BASE_URL": live_server.base_url, "PHANTOM_API_KEY": live_server.api_key,
           "PHANTOM_HOME": str(tmp_path / "home")}
    p = subprocess.Popen([sys.executable, "-m", "phantom_cli", "test", str(f), "-j", "2", "--junit", str(junit),
                          "--json", str(js)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    out = ""
    while time.monotonic() < deadline:  # wait until at least one scenario finished
        line = p.stdout.readline()
        out += line
        if line.startswith("PASS"):
            break
    p.send_signal(signal.SIGINT)
    rest, err = p.communicate(timeout=30)
    assert p.returncode == 130, out + rest + err
    data = json.loads(js.read_text())
    assert data["interrupted"] is True
    statuses = [x["status"] for x in data["results"]]
    assert "passed" in statuses and "interrupted" in statuses
    assert ET.parse(junit).getroot().get("skipped") is not None


def test_tty_shows_a_live_display_and_plain_text_names(run_test, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PHANTOM_FORCE_TTY", "1")
    monkeypatch.setenv("COLUMNS", "250")
    f = write(tmp_path, FAILING.replace("merchant passes", "merchant [bold]passes[/bold]"))
    r = run_test(str(f), "-k", "merchant", "-j", "1")
    assert r.exit_code == 1
    assert "PASS" in r.output and "merchant [bold]passes[/bold]" in r.output  # no markup applied
    assert "FAIL" in r.output and "expected >=5, got 1" in r.output


def test_toml_and_json_suites_run(run_test, tmp_path: Path) -> None:
    import tomli_w
    import yaml

    data = yaml.safe_load(FAILING)
    data["scenarios"] = data["scenarios"][:1]
    (tmp_path / "a.toml").write_text(tomli_w.dumps(data))
    (tmp_path / "b.json").write_text(json.dumps(data))
    r = run_test(str(tmp_path), "--json", str(tmp_path / "r.json"))
    assert r.exit_code == 0, r.output
    files = sorted(x["file"] for x in json.loads((tmp_path / "r.json").read_text())["results"])
    assert files == [str(tmp_path / "a.toml"), str(tmp_path / "b.json")]


def test_extraction_pending_endpoint_counts_the_callers_jobs(live_server) -> None:
    from phantom_cli.client import paths

    with live_server.http() as c:
        r = c.get(paths.LOCAL_EXTRACTION_PENDING, params={"chat_id": "scn-none-123"})
        assert r.status_code == 200 and r.json() == {"pending": 0, "chat_id": "scn-none-123"}
    conn = live_server.db()
    try:
        me = conn.execute("SELECT id FROM users WHERE name = 'local'").fetchone()[0]
        with conn:  # 'running' rows are never picked up by the worker (it takes 'queued' ones)
            for jid, user in (("job_scn_mine", me), ("job_scn_other", "usr_other")):
                conn.execute(
                    "INSERT INTO jobs(id, kind, payload, status, created_at, updated_at) VALUES (?,?,?,?,?,?)",
                    (jid, "memory.extract", json.dumps({"user_id": user, "chat_id": "scn-x"}), "running",
                     "2026-01-01", "2026-01-01"))
    finally:
        conn.close()
    with live_server.http() as c:  # the caller's job counts, another user's does not
        assert c.get(paths.LOCAL_EXTRACTION_PENDING, params={"chat_id": "scn-x"}).json()["pending"] == 1
        assert c.get(paths.LOCAL_EXTRACTION_PENDING, params={"chat_id": "scn-y"}).json()["pending"] == 0
