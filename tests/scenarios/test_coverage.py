"""phantom test --coverage: transitions of each machine the suite exercised (table and --json)."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import write

SUITE = """\
scenarios:
  - name: deal
    npc: abc123
    steps:
      - say: Show me your wares.
      - say: I can pay in gold.
      - reset: true
      - say: Show me your wares.
      - say: I can pay in gold.
      - say: Too expensive.
      - say: Deal.
        expect: {outcome: deal_struck}
  - name: thrown out by the limit
    npc: abc123
    steps:
      - say: Hmm.
      - say: Hmm.
      - say: Hmm.
        expect: {outcome: thrown_out}
  - name: toll
    npc: ironbridge
    steps:
      - say: I trade at the market.
        expect: {state: toll}
"""


def test_coverage_table_and_json(run_test, tmp_path: Path) -> None:
    f = write(tmp_path, SUITE)
    js = tmp_path / "r.json"
    r = run_test(str(f), "--coverage", "--json", str(js), "-j", "2")
    assert r.exit_code == 0, r.output
    assert "coverage of NPC machine transitions:" in r.output
    assert "abc123 / machine_main: 5/19 transitions (26%)" in r.output
    line = next(ln for ln in r.output.splitlines() if " greeting " in ln and "interest" in ln)
    assert line.split()[0] == "ok" and line.split()[-1] == "2"  # taken twice (before and after the reset)
    line = next(ln for ln in r.output.splitlines() if " greeting " in ln and "threaten" in ln)
    assert line.split()[0] == "--" and line.split()[-1] == "0"
    cov = json.loads(js.read_text())["coverage"]
    mm = next(m for m in cov["machines"] if m["machine"] == "machine_main")
    hit = {(t["state"], t["transition"]) for t in mm["transitions"] if t["hits"]}
    assert hit == {("greeting", "interest"), ("negotiation", "coin"), ("haggling", "counter"),
                   ("haggling", "accept"), ("greeting", "on_redirect_limit")}
    assert mm["covered"] == 5 and mm["total"] == 19
    assert mm["redirects"] == 2 and mm["known"] is True
    toll = next(m for m in cov["machines"] if m["persona"] == "ironbridge")
    assert toll["covered"] == 1 and toll["total"] == 6
    assert cov["total"] == sum(m["total"] for m in cov["machines"])


def test_without_coverage_no_table(run_test, tmp_path: Path) -> None:
    f = write(tmp_path, SUITE)
    r = run_test(str(f))
    assert r.exit_code == 0 and "coverage of NPC" not in r.output
