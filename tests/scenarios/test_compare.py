"""phantom test compare: two sides (persona files, engines), step-by-step differences, Markdown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phantom_cli.scenarios.compare import compare, markdown
from phantom_cli.scenarios.model import RunSummary, ScenarioResult, StepResult

from .conftest import write


@pytest.fixture
def run_local():
    """``phantom test ARGS`` with the (isolated) home's default local profile: no URL given, so
    persona sides each get a fresh local backend of their own."""

    def run(*args: str):
        from typer.testing import CliRunner

        from phantom_cli.cli.main import app

        return CliRunner().invoke(app, ["test", *args])

    return run

SUITE = """\
scenarios:
  - name: companion greets
    persona: {name: Placeholder}
    steps:
      - say: Hi! My name is Sam and I love sailing.
      - say: What do you think I should do this weekend?
  - name: merchant interest
    npc: abc123
    steps:
      - say: Show me your wares.
        expect: {state: negotiation}
"""


def _personas(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text('name = "Luna"\npersonality = "warm, curious, playful"\n', encoding="utf-8")
    b.write_text('name = "Grimwald"\npersonality = "gruff, terse, suspicious"\n'
                 'greeting = "What do you want."\n', encoding="utf-8")
    return a, b


def test_two_persona_files_give_different_replies(run_local, tmp_path: Path) -> None:
    f = write(tmp_path, SUITE)
    a, b = _personas(tmp_path)
    js = tmp_path / "c.json"
    r = run_local("compare", str(f), "--persona", str(a), "--persona", str(b), "--report", "json", "-o", str(js))
    assert r.exit_code == 1, r.output  # the sides differ
    data = json.loads(js.read_text())
    assert data["a"] == f"persona {a}" and data["b"] == f"persona {b}"
    comp = next(s for s in data["results"] if s["id"].endswith("::companion greets"))
    assert comp["differs"] and comp["status"] == ["passed", "passed"]
    step1 = comp["steps"][0]
    assert "reply" in step1["differs"] and step1["a"]["reply"] != step1["b"]["reply"]
    assert all(x is not None for x in step1["latency_ms"])
    npc = next(s for s in data["results"] if s["id"].endswith("::merchant interest"))
    assert not npc["differs"]  # the persona files only replace companion personas
    # the text report, step by step
    r = run_local("compare", str(f), "--persona", str(a), "--persona", str(b))
    assert r.exit_code == 1
    assert f"DIFF {f}::companion greets (A: passed, B: passed)" in r.output
    assert "  step 1 say Hi! My name is Sam and I love sailing.: latency A " in r.output
    assert "    reply: A " in r.output and " | B " in r.output
    assert "merchant interest" not in r.output.split("compare: ")[1].split("scenarios,")[0]
    assert "2 scenarios, 1 differ; median turn latency A " in r.output


def test_markdown_report(run_local, tmp_path: Path) -> None:
    f = write(tmp_path, SUITE)
    a, b = _personas(tmp_path)
    md = tmp_path / "compare.md"
    r = run_local("compare", str(f), "--persona", str(a), "--persona", str(b), "--report", "md", "-o", str(md))
    assert r.exit_code == 1, r.output
    text = md.read_text()
    assert text.startswith("## phantom test compare\n")
    assert f"| side | persona {a} | persona {b} |".replace("_", "\\_") in text
    assert "| passed | 2/2 | 2/2 |" in text
    assert "**1 of 2 scenarios differ.**" in text
    assert "### " in text and "companion greets" in text
    assert "| step | sent | field | A | B |" in text
    row = next(ln for ln in text.splitlines() if ln.startswith("| 1 | Hi! My name is Sam") and "| reply |" in ln)
    assert row.count(" | ") == 4  # five cells: no pipe from the reply leaked into the table
    assert "<details><summary>Same on both sides</summary>" in text and "merchant interest" in text


def test_same_sides_exit_0(run_local, tmp_path: Path) -> None:
    f = write(tmp_path, SUITE)
    a, _b = _personas(tmp_path)
    r = run_local("compare", str(f), "--persona", str(a), "--persona", str(a), "--all")
    assert r.exit_code == 0, r.output
    assert "SAME " in r.output and "2 scenarios, 0 differ" in r.output


def test_persona_sides_on_one_given_backend_get_ids_of_their_own(run_test, tmp_path: Path) -> None:
    f = write(tmp_path, SUITE)
    a, b = _personas(tmp_path)
    r = run_test("compare", str(f), "--persona", str(a), "--persona", str(b), "--report", "json")
    assert r.exit_code == 1, r.output
    data = json.loads(r.stdout)
    comp = next(s for s in data["results"] if s["id"].endswith("::companion greets"))
    assert "reply" in comp["steps"][0]["differs"]


def test_two_engines_spawn_two_local_backends(run_test, tmp_path: Path) -> None:
    f = write(tmp_path, SUITE.split("  - name: merchant interest")[0])
    r = run_test("compare", str(f), "--engine", "scripted", "--engine", "scripted", "--report", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["a"] == data["b"] == "engine scripted" and data["differing"] == 0
    r = run_test("compare", str(f), "--engine", "scripted", "--engine", "no_such_engine")
    assert r.exit_code == 2 and "no_such_engine" in r.output


def test_usage_errors(run_test, tmp_path: Path) -> None:
    f = write(tmp_path, SUITE)
    assert run_test("compare", str(f), "-p", "local").exit_code == 2
    r = run_test("compare", str(f), "--persona", "a", "--persona", "b", "--engine", "x", "--engine", "y")
    assert r.exit_code == 2 and "two sides of one kind" in r.output
    assert run_test("compare", str(f), "-p", "a", "-p", "b", "--report", "pdf").exit_code == 2


def test_markdown_escapes_untrusted_text() -> None:
    def res(reply: str) -> RunSummary:
        st = StepResult(1, "say", 3, sent="hi", actual={"status": 200, "reply": reply}, latency_ms=5.0)
        r = ScenarioResult("s", "f.yaml", 1, "persona x", 1, "passed", 5.0, 1, steps=[st])
        return RunSummary([r], 0.1, 0, 1, 1.0)

    md = markdown(compare(res("a | b <script>[x](http://e)"), res("plain"), "A", "B"))
    row = next(ln for ln in md.splitlines() if "| reply |" in ln)
    assert "<script>" not in row and "&lt;script&gt;" in row and "\\|" in row and "\\[x\\]" in row
