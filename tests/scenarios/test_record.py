"""phantom test record: piped lines → a valid scenario of what happened, which passes when run."""

from __future__ import annotations

from pathlib import Path

import yaml

from phantom_cli.scenarios.load import load_suite
from phantom_cli.scenarios.record import expect_from, fragment

ROOT = Path(__file__).resolve().parents[2]


def _record(run_test, *args: str, input: str):
    from typer.testing import CliRunner

    from phantom_cli.cli.main import app

    return CliRunner().invoke(app, ["test", "record", *args], input=input)


def test_record_npc_writes_what_happened_and_it_passes(run_test, tmp_path: Path) -> None:
    out = tmp_path / "rec" / "merchant.yaml"
    lines = "Show me your wares.\nI can pay in gold.\n/reset\nHand it over or I'll take it by force.\n/save\nnever sent\n"
    r = _record(run_test, "--npc", "abc123", "--player-name", "Ash", "-o", str(out), input=lines)
    assert r.exit_code == 0, r.output
    # the line mode shows each reply and its state
    assert "state=negotiation" in r.output and "state=haggling" in r.output and "outcome=thrown_out" in r.output
    assert "-- reset" in r.output
    doc = yaml.safe_load(out.read_text())
    sc = doc["scenarios"][0]
    assert sc["npc"] == "abc123" and sc["player"] == {"name": "Ash", "gender": "non-binary"}
    steps = sc["steps"]
    assert [s.get("say") for s in steps] == ["Show me your wares.", "I can pay in gold.", None,
                                             "Hand it over or I'll take it by force."]
    assert steps[2] == {"reset": True}
    assert steps[0]["expect"]["state"] == "negotiation" and steps[0]["expect"]["decision"] == "pass"
    assert steps[0]["expect"]["score"] == 1
    assert steps[1]["expect"]["state"] == "haggling" and steps[1]["expect"]["score"] == 2
    last = steps[3]["expect"]
    assert last["outcome"] == "thrown_out" and last["machine_completed"] is True and last["decision"] == "fail"
    assert isinstance(last["reply"]["contains"], str) and 0 < len(last["reply"]["contains"]) <= 60
    assert "never sent" not in out.read_text()
    load_suite(out)  # validates against the schema
    r = run_test(str(out))
    assert r.exit_code == 0, r.output
    assert "PASS" in r.output


def test_record_unlock_is_expected(run_test, tmp_path: Path) -> None:
    out = tmp_path / "secret.yaml"
    lines = ("Show me your wares.\nCould I pay with a secret instead of gold?\n"
             "I confess, I have never told anyone that I once lost my brother's ring.\n")
    r = _record(run_test, "--npc", "abc123", "-o", str(out), input=lines)  # EOF ends and saves
    assert r.exit_code == 0, r.output
    last = yaml.safe_load(out.read_text())["scenarios"][0]["steps"][-1]["expect"]
    assert last["unlocked"] == ["machine_secret"] and last["outcome"] == "secret_revealed"
    assert run_test(str(out)).exit_code == 0


def test_record_companion_persona_file_and_moderation(run_test, tmp_path: Path) -> None:
    persona = tmp_path / "p" / "luna.toml"
    persona.parent.mkdir()
    persona.write_text('name = "Luna"\npersonality = "warm, curious"\n', encoding="utf-8")
    out = tmp_path / "s" / "luna.yaml"
    r = _record(run_test, "--persona", str(persona), "-o", str(out),
                input="Hi Luna, my cat is called Pixel.\n")
    assert r.exit_code == 0, r.output
    sc = yaml.safe_load(out.read_text())["scenarios"][0]
    assert sc["persona"] == "../p/luna.toml"  # relative to the scenario file
    exp = sc["steps"][0]["expect"]
    assert exp["moderation"] == {"inbound_prohibited": False, "outbound_filtered": False}
    assert exp["reply"]["contains"]
    assert run_test(str(out)).exit_code == 0


def test_record_refused_turn_expects_the_status(run_test, tmp_path: Path) -> None:
    out = tmp_path / "refused.yaml"
    r = _record(run_test, "--npc", "abc123", "-o", str(out), input="x" * 16001 + "\n")
    assert r.exit_code == 0, r.output
    exp = yaml.safe_load(out.read_text())["scenarios"][0]["steps"][0]["expect"]
    assert exp["status"] == 400 and exp["error"]["code"]
    assert run_test(str(out)).exit_code == 0


def test_record_usage_errors(run_test, tmp_path: Path) -> None:
    out = tmp_path / "x.yaml"
    r = _record(run_test, "-o", str(out), input="")
    assert r.exit_code == 2 and "exactly one target" in r.output
    r = _record(run_test, "--npc", "no_such_npc", "-o", str(out), input="hello\n")
    assert r.exit_code == 5 and "unknown NPC" in r.output and not out.exists()
    r = _record(run_test, "--npc", "abc123", "-o", str(out), input="/quit\n")
    assert r.exit_code == 0 and not out.exists()
    r = _record(run_test, "--npc", "abc123", "-o", "/proc/no/such/dir/x.yaml", input="hello\n")
    assert r.exit_code == 2 and "cannot write /proc/no/such/dir/x.yaml" in r.output


def test_fragment_prefers_distinctive_words() -> None:
    reply = "Gold, then. Forty crowns — and before you gasp, remember that no other stall carries one."
    frag = fragment(reply, "I pay in gold")
    assert frag in reply and len(frag.split()) == 4 and "gold" not in frag.casefold()
    assert fragment("Gold gold gold.", "gold") == "Gold gold gold"
    assert expect_from({"status": 404, "error.code": "NOT_FOUND"}, "npc") == {"status": 404, "error.code": "NOT_FOUND"}
