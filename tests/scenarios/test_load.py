"""Scenario files: each format, schema errors with file:line, expectation-key typos."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phantom_cli.scenarios.load import ScenarioFileError, load_suite, load_text, schema

YAML = """\
format: phantom-scenario/1
vars: {who: Ash}
scenarios:
  - name: one
    npc: abc123
    player: {name: Ash, gender: female}
    steps:
      - say: hi {{who}}
        expect:
          state: negotiation
          reply: {contains: [a, b], max_chars: 10}
          moderation.inbound_prohibited: false
      - reset: true
      - vars: {x: 1}
"""


def _check(suite) -> None:
    (sc,) = suite.scenarios
    assert sc.name == "one" and sc.target.kind == "npc" and sc.target.id == "abc123"
    assert sc.target.player_name == "Ash" and sc.target.player_gender == "female"
    assert [s.kind for s in sc.steps] == ["say", "reset", "vars"]
    assert sc.steps[0].expect == {"state": "negotiation", "reply.contains": ["a", "b"], "reply.max_chars": 10,
                                  "moderation.inbound_prohibited": False}
    assert sc.vars == {"who": "Ash"}


def test_yaml_toml_json_give_the_same_suite(tmp_path: Path) -> None:
    import tomli_w
    import yaml

    data = yaml.safe_load(YAML)
    (tmp_path / "s.yaml").write_text(YAML)
    (tmp_path / "s.json").write_text(json.dumps(data, indent=2))
    (tmp_path / "s.toml").write_text(tomli_w.dumps(data))
    for name in ("s.yaml", "s.json", "s.toml"):
        _check(load_suite(tmp_path / name))


def test_yaml_lines_are_tracked(tmp_path: Path) -> None:
    suite = load_text(YAML, "yaml", "s.yaml")
    sc = suite.scenarios[0]
    assert sc.line == 4
    assert sc.steps[0].line == 8 and sc.steps[1].line == 13
    assert sc.steps[0].expect_lines["state"] == 10
    assert sc.steps[0].expect_lines["reply.contains"] == 11


@pytest.mark.parametrize("text,line,needle", [
    ("scenarios:\n  - name: a\n    npc: x\n    steps:\n      - say: hi\n        expect:\n          scroe: 3\n",
     7, "unknown expectation key 'scroe'"),
    ("scenarios:\n  - name: a\n    npc: x\n    steps:\n      - say: hi\n        expect:\n          reply: {contians: x}\n",
     7, "'contians'"),
    ("scenarios:\n  - name: a\n    npc: x\n    steps:\n      - say: hi\n        expect: {score: 'about 3'}\n",
     6, "score: 'about 3' is not valid: expected a number, or a comparison string such as \">=3\""),
    ("scenarios:\n  - name: a\n    steps:\n      - say: hi\n", 2, "exactly one target"),
    ("scenarios:\n  - name: a\n    npc: x\n    persona: y.toml\n    steps:\n      - say: hi\n", 2, "exactly one target"),
    ("scenarios:\n  - name: a\n    npc: x\n    steps:\n      - say: hi\n        reset: true\n", 5, "exactly one of"),
    ("scenarios:\n  - name: a\n    npc: x\n    steps: []\n", 4, "steps"),
    ("scenarios:\n  - name: a\n    npc: x\n    player: {name: A, gender: robot}\n    steps:\n      - say: hi\n",
     4, "robot"),
    ("scenarios:\n  - name: a\n    npc: x\n    stpes:\n      - say: hi\n", 4, "'stpes'"),
    ("scenarios:\n  - name: a\n    npc: [x\n", 4, "not valid YAML"),
])  # fmt: skip
def test_bad_files_name_line_and_message(text: str, line: int, needle: str) -> None:
    with pytest.raises(ScenarioFileError) as ei:
        load_text(text, "yaml", "bad.yaml")
    assert ei.value.line == line, str(ei.value)
    assert needle in str(ei.value)
    assert str(ei.value).startswith(f"bad.yaml:{line}: ")


def test_bad_json_and_toml_have_lines() -> None:
    with pytest.raises(ScenarioFileError) as ei:
        load_text('{"scenarios": [\n  {"name": "a", "npc": "x",\n   "steps": [{"say": "hi", "expect": {"outcom": "x"}}]}]}', "json", "b.json")
    assert ei.value.line == 3 and "'outcom'" in str(ei.value)
    with pytest.raises(ScenarioFileError) as ei:
        load_text('[[scenarios]]\nname = "a"\nnpc = "x"\n[[scenarios.steps]]\nsay = "hi"\n[scenarios.steps.expect]\nstat = "x"\n', "toml", "b.toml")
    assert ei.value.line == 7 and "'stat'" in str(ei.value)


def test_persona_file_is_relative_to_the_scenario_file(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "mira.toml").write_text('name = "Mira"\nbio = "A test persona."\n')
    f = tmp_path / "s.yaml"
    f.write_text("scenarios:\n  - name: a\n    persona: p/mira.toml\n    steps:\n      - say: hi\n")
    sc = load_suite(f).scenarios[0]
    assert sc.target.kind == "persona" and sc.target.persona["name"] == "Mira"
    f.write_text("scenarios:\n  - name: a\n    persona: p/nope.toml\n    steps:\n      - say: hi\n")
    sc = load_suite(f).scenarios[0]  # an unknown persona fails its scenario when run, not the file
    assert sc.target.error and "unknown persona 'p/nope.toml'" in sc.target.error


def test_duplicate_names_are_refused() -> None:
    text = "scenarios:\n  - name: a\n    npc: x\n    steps: [{say: hi}]\n  - name: a\n    npc: x\n    steps: [{say: hi}]\n"
    with pytest.raises(ScenarioFileError, match="used twice"):
        load_text(text, "yaml", "d.yaml")


def test_examples_are_valid_under_the_schema() -> None:
    import jsonschema
    import yaml

    root = Path(__file__).resolve().parents[2] / "examples" / "scenarios"
    files = sorted(root.glob("*.yaml"))
    assert len(files) >= 3
    for f in files:
        jsonschema.validate(yaml.safe_load(f.read_text()), schema())
