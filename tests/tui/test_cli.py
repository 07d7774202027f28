"""The `phantom chat` / `phantom playground` launchers."""

from __future__ import annotations

import subprocess
import sys

from phantom_cli.tui import chat_source
from phantom_cli.tui.conversations import (
    CompanionConversation,
    InstanceConversation,
    NpcConversation,
)
from typer.testing import CliRunner

from phantom_cli.cli.main import app

runner = CliRunner()


def test_launcher_module_imports_no_textual():
    code = ("import sys, phantom_cli.cli.tuicmd; "
            "bad = [m for m in ('textual', 'httpx', 'pydantic', 'rich') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_chat_help_documents_keys():
    result = runner.invoke(app, ["chat", "--help"])
    assert result.exit_code == 0
    for needle in ("--npc", "--persona", "--instance", "--activity", "ctrl+j", "ctrl+r"):
        assert needle in result.output


def test_chat_refuses_two_entries():
    result = runner.invoke(app, ["chat", "--npc", "abc123", "--instance", "i1"])
    assert result.exit_code == 2
    assert "only one of --npc, --instance" in result.output


def test_chat_persona_must_exist(tmp_path):
    result = runner.invoke(app, ["chat", "--persona", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2 and "no such file" in result.output


def test_playground_bad_persona_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = ""\n')
    result = runner.invoke(app, ["playground", "--persona", str(bad)])
    assert result.exit_code == 2 and "name" in result.output


def test_direct_entries_pick_the_conversation(ctx, tmp_path):
    persona = tmp_path / "p.toml"
    persona.write_text('name = "Luna"\n')
    assert isinstance(chat_source(ctx, npc="abc123"), NpcConversation)
    conv = chat_source(ctx, persona=persona)
    assert isinstance(conv, CompanionConversation) and conv.persona.name == "Luna"
    assert conv.chat_id == "luna" and conv.transcript is not None
    assert isinstance(chat_source(ctx, instance="i1"), InstanceConversation)
    assert callable(chat_source(ctx, activity="act_luna"))
    assert chat_source(ctx) is None


def test_bare_persona_name_falls_back_to_the_shipped_example(tmp_path, monkeypatch):
    """`phantom chat|playground --persona luna.toml` from any directory (QA 15)."""
    import phantom_cli.tui as tui

    import phantom_cli.cli.tuicmd as tuicmd

    seen = {}
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PHANTOM_FORCE_TTY", "1")  # CliRunner is no terminal
    monkeypatch.setattr(tuicmd, "_context", lambda *a: "ctx")
    monkeypatch.setattr(tui, "run_chat", lambda ctx, **kw: seen.update(chat=kw["persona"]))
    monkeypatch.setattr(tui, "run_playground", lambda ctx, persona: seen.update(pg=persona))
    result = runner.invoke(app, ["chat", "--persona", "luna.toml"])
    assert result.exit_code == 0, result.output
    assert seen["chat"].name == "luna.toml" and seen["chat"].is_file()
    result = runner.invoke(app, ["playground", "--persona", "luna.toml"])
    assert result.exit_code == 0, result.output
    assert seen["pg"].name == "Luna"


def test_chat_and_playground_refuse_without_a_terminal(monkeypatch):
    """Without a TTY (a pipe, CI) the TUI would wait forever: exit 2 with a pointer instead,
    before any server is started."""
    monkeypatch.delenv("PHANTOM_FORCE_TTY", raising=False)
    started = []
    monkeypatch.setattr("phantom_cli.cli.tuicmd._context", lambda *a: started.append(a))
    for cmd in (["chat", "--npc", "abc123"], ["playground"]):
        result = runner.invoke(app, cmd)
        assert result.exit_code == 2, result.output
        assert "needs an interactive terminal" in result.output
        assert "phantom npc say" in result.output
    assert not started
