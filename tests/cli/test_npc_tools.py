"""phantom npc lint | graph | walk: findings naming file/machine/state, drawings, shortest walks
that pass against the local backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from phantom_cli.backend.npc.lint import Finding, lint, load_lenient, shadows
from phantom_cli.backend.npc.machine import DATA_DIR, Transition

SEEDS = sorted(str(p) for p in DATA_DIR.iterdir() if p.suffix in (".json", ".toml"))

BAD = {
    "format": "phantom-npc/1",
    "persona": {"id": "badnpc", "name": "Bad"},
    "intents": {"buy": ["buy", "purchase"], "shop": ["buy", "purchase", "trade*"]},
    "machines": [{
        "id": "m1", "initial_state": "start", "opening": ["Hi {player_nam}."],
        "states": {
            "start": {
                "redirect_lines": ["What? {{player_name}}"],
                "on_redirect_limit": {"decision": "fail", "to": "end", "lines": ["Bye."]},
                "transitions": [
                    {"id": "shop", "decision": "pass", "to": "loop", "when": {"intents": ["shop"]}, "lines": ["ok"]},
                    {"id": "buy", "decision": "pass", "to": "end", "when": {"intents": ["buy"]}, "lines": ["ok"]},
                    {"id": "trader", "decision": "pass", "to": "end", "when": {"keywords": ["trader"]},
                     "lines": ["ok"]},
                    {"id": "buy_now", "decision": "pass", "to": "end",
                     "when": {"keywords": ["buy"], "all": ["now"]}, "lines": ["ok"]},
                    {"id": "pay", "decision": "pass", "to": "end", "when": {"keywords": ["pay"]}, "lines": ["ok"]},
                ],
            },
            "loop": {
                "redirect_lines": ["Hm."],
                "transitions": [{"id": "again", "decision": "pass", "to": "loop2",
                                 "when": {"keywords": ["again"]}, "lines": ["again"]}],
            },
            "loop2": {
                "redirect_lines": ["Hm."],
                "on_redirect_limit": {"decision": "fail", "to": "loop", "lines": ["back"]},
                "transitions": [{"id": "back", "decision": "pass", "to": "loop", "lines": ["back"]}],
            },
            "island": {"redirect_lines": ["?"], "transitions": []},
            "end": {"terminal": True, "outcome": "done"},
            "orphan_end": {"terminal": True, "outcome": "never"},
        },
    }],
}


def _bad_file(tmp_path: Path) -> Path:
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(BAD), encoding="utf-8")
    return p


def test_lint_finds_each_kind_naming_file_machine_state(tmp_path: Path) -> None:
    f = _bad_file(tmp_path)
    found = lint(load_lenient(f), str(f))
    by = {(x.kind, x.state) for x in found}
    assert ("unreachable", "island") in by and ("unreachable", "orphan_end") in by
    assert ("dead-end", "island") in by  # no way out at all
    assert ("dead-end", "loop") in by and ("dead-end", "loop2") in by  # no terminal reachable
    assert ("redirect-limit", "loop") in by and ("redirect-limit", "island") in by
    assert ("redirect-limit", "start") not in by
    shadowed = {x.message.split("'")[1] for x in found if x.kind == "shadowed"}
    assert shadowed == {"buy", "trader", "buy_now"}  # superset intent, prefix keyword, extra 'all' word
    placeholders = [x.message for x in found if x.kind == "placeholder"]
    assert any("{player_nam}" in m and "never filled" in m for m in placeholders)
    assert any("doubled braces" in m for m in placeholders)
    assert all(x.file == str(f) and x.machine == "m1" for x in found)
    assert Finding(str(f), "m1", "island", "unreachable", "x").line().startswith(f"{f}: machine m1, state island:")


def test_shadowing_is_conservative() -> None:
    intents = {"coin": ["gold", "coin*"]}
    t = lambda tid, **w: Transition(id=tid, decision="pass", to="x", lines=("l",), when=w or None)  # noqa: E731
    assert shadows(t("a", keywords=["gold"]), t("b", keywords=["gold"]), intents)  # identical
    assert shadows(t("a", intents=["coin"]), t("b", keywords=["coins", "gold bar"]), intents)  # superset
    assert shadows(t("a"), t("b", keywords=["x"]), intents)  # catch-all first
    assert not shadows(t("a", keywords=["gold"]), t("b", keywords=["gold", "silver"]), intents)
    assert not shadows(t("a", keywords=["gold"], none=["no"]), t("b", keywords=["gold"]), intents)
    assert shadows(t("a", keywords=["gold"], none=["no"]), t("b", keywords=["gold"], none=["no"]), intents)
    assert not shadows(t("a", keywords=["gold"], all=["now"]), t("b", keywords=["gold"]), intents)
    assert not shadows(t("a", patterns=["^x"]), t("b", keywords=["x"]), intents)
    assert not shadows(t("a", keywords=["coin*"]), t("b", keywords=["co"]), intents)


@pytest.mark.parametrize("seed", SEEDS)
def test_shipped_machines_are_clean(plain_cli, seed: str) -> None:
    r = plain_cli("npc", "lint", seed)
    assert r.exit_code == 0, r.output
    assert "clean" in r.output


def test_lint_cli_exit_1_and_json(plain_cli, tmp_path: Path) -> None:
    f = _bad_file(tmp_path)
    r = plain_cli("npc", "lint", str(f))
    assert r.exit_code == 1
    assert f"{f}: machine m1, state island: unreachable:" in r.output
    r = plain_cli("npc", "lint", str(f), "--json")
    data = json.loads(r.stdout)
    assert r.exit_code == 1 and {x["kind"] for x in data["findings"]} >= {"unreachable", "dead-end", "shadowed",
                                                                           "redirect-limit", "placeholder"}
    bad = tmp_path / "broken.json"
    bad.write_text("{not json", encoding="utf-8")
    r = plain_cli("npc", "lint", str(bad))
    assert r.exit_code == 2 and "not valid JSON" in r.output


def test_graph_mermaid_and_dot(plain_cli, tmp_path: Path) -> None:
    seed = str(DATA_DIR / "abc123_hollow_market.json")
    r = plain_cli("npc", "graph", seed, "--format", "mermaid", "--machine", "machine_main")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("stateDiagram-v2\n")
    assert "[*] --> greeting" in r.stdout
    assert "haggling --> deal_struck : accept (pass, +2)" in r.stdout
    assert "negotiation --> walked_away : redirect limit 2 exceeded (fail)" in r.stdout
    assert "deal_struck --> [*]" in r.stdout
    r = plain_cli("npc", "graph", seed, "--format", "dot", "-o", str(tmp_path / "g.dot"))
    assert r.exit_code == 0, r.output
    text = (tmp_path / "g.dot").read_text()
    assert text.startswith('digraph "abc123" {') and text.rstrip().endswith("}")
    assert '"machine_main.haggling" -> "machine_main.haggling" [label="counter (redirect)", style=dashed];' in text
    assert 'label="unlocks machine_secret"' in text
    assert plain_cli("npc", "graph", seed, "--format", "svg").exit_code == 2
    assert plain_cli("npc", "graph", seed, "--machine", "nope").exit_code == 2


OUTCOMES = [("abc123_hollow_market.json", o) for o in ("deal_struck", "secret_revealed", "thrown_out", "walked_away")]
OUTCOMES += [("npc_ironbridge.toml", o) for o in ("crossed", "turned_back")]


@pytest.mark.parametrize(("file", "outcome"), OUTCOMES)
def test_walk_writes_the_shortest_scenario_that_passes(plain_cli, live_cli, tmp_path: Path, file: str, outcome: str) -> None:
    out = tmp_path / f"{outcome}.yaml"
    r = plain_cli("npc", "walk", str(DATA_DIR / file), "--to", outcome, "-o", str(out))
    assert r.exit_code == 0, r.output
    doc = yaml.safe_load(out.read_text())
    steps = doc["scenarios"][0]["steps"]
    assert steps[-1]["expect"]["outcome"] == outcome and steps[-1]["expect"]["machine_completed"] is True
    if outcome == "secret_revealed":
        assert steps[-1]["expect"]["unlocked"] == ["machine_secret"]
    if outcome in ("thrown_out", "walked_away", "turned_back"):
        assert len(steps) == 1  # one rule leads there directly
    r = live_cli("test", str(out))
    assert r.exit_code == 0, r.output


def test_walk_through_the_redirect_limit(plain_cli, live_cli, tmp_path: Path) -> None:
    """An outcome only the redirect limit reaches: limit + 1 off-track lines."""
    data = json.loads((DATA_DIR / "abc123_hollow_market.json").read_text())
    for st in data["machines"][0]["states"].values():  # thrown out only by the greeting's limit
        if "transitions" in st:
            st["transitions"] = [t for t in st["transitions"] if t.get("to") != "thrown_out"]
    f = tmp_path / "m.json"
    f.write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "w.yaml"
    r = plain_cli("npc", "walk", str(f), "--to", "thrown_out", "-o", str(out))
    assert r.exit_code == 0, r.output
    steps = yaml.safe_load(out.read_text())["scenarios"][0]["steps"]
    assert len(steps) == 3  # redirect_limit 2 → the third off-track line
    assert [s["expect"]["decision"] for s in steps] == ["redirect", "redirect", "fail"]
    assert live_cli("test", str(out)).exit_code == 0  # the seed machine behaves the same on this path


def test_walk_errors(plain_cli) -> None:
    seed = str(DATA_DIR / "abc123_hollow_market.json")
    r = plain_cli("npc", "walk", seed, "--to", "nope")
    assert r.exit_code == 2 and "no machine of 'abc123' has outcome 'nope'" in r.output
    r = plain_cli("npc", "walk", seed, "--to", "vault_opened")
    assert r.exit_code == 2 and "locked" in r.output


RIDDLE = {
    "format": "phantom-npc/1",
    "persona": {"id": "sphinx_walk", "name": "Sphinx"},
    "intents": {"greet": ["hello", "greetings"]},
    "machines": [{
        "id": "m", "initial_state": "gate", "opening": ["Speak, {player_name}."],
        "states": {
            "gate": {
                "redirect_lines": ["Speak the word."],
                "on_redirect_limit": {"decision": "fail", "to": "gate", "lines": ["Again."]},
                "transitions": [
                    {"id": "hello", "decision": "redirect", "when": {"intents": ["greet"]}, "lines": ["Hm."]},
                    {"id": "word", "decision": "pass", "to": "inner",
                     "when": {"patterns": [r"\bopen (sesame|now)\b"]}, "lines": ["It opens."]},
                ],
            },
            "inner": {
                "redirect_lines": ["Choose."],
                "on_redirect_limit": {"decision": "fail", "to": "lost", "lines": ["Lost."]},
                "transitions": [
                    {"id": "take", "decision": "pass", "to": "won", "score": 5,
                     "when": {"keywords": ["take"], "all": ["gold"], "none": ["silver"]}, "lines": ["Yours."]},
                ],
            },
            "won": {"terminal": True, "outcome": "treasure"},
            "lost": {"terminal": True, "outcome": "lost"},
        },
    }],
}


def test_walk_a_custom_machine_with_patterns_and_all_words(plain_cli, live_cli, live_server, tmp_path: Path) -> None:
    f = tmp_path / "sphinx.json"
    f.write_text(json.dumps(RIDDLE), encoding="utf-8")
    lint_out = plain_cli("npc", "lint", str(f))
    assert lint_out.exit_code == 1 and "on_redirect_limit goes back to the same state" in lint_out.output
    with live_server.http() as c:  # the backend must know the persona to run the walk
        assert c.put("/api/v1/local/admin/npcs/sphinx_walk", json=RIDDLE).status_code == 200
    out = tmp_path / "t.yaml"
    r = plain_cli("npc", "walk", str(f), "--to", "treasure", "-o", str(out))
    assert r.exit_code == 0, r.output
    steps = yaml.safe_load(out.read_text())["scenarios"][0]["steps"]
    assert len(steps) == 2
    assert "open sesame" in steps[0]["say"].lower()
    assert "take" in steps[1]["say"].lower() and "gold" in steps[1]["say"].lower()
    assert steps[1]["expect"]["score"] == 5
    assert live_cli("test", str(out)).exit_code == 0
    out2 = tmp_path / "lost.yaml"
    assert plain_cli("npc", "walk", str(f), "--to", "lost", "-o", str(out2)).exit_code == 0
    steps = yaml.safe_load(out2.read_text())["scenarios"][0]["steps"]
    assert len(steps) == 1 + 3 and [s["expect"]["decision"] for s in steps[1:]] == ["redirect", "redirect", "fail"]
    assert live_cli("test", str(out2)).exit_code == 0
