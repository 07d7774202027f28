"""`phantom scratchpad get|set|edit` against the live backend, with a scripted $EDITOR."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from phantom_cli.cli import scratchpad as sp_cli


def seed(live_server: Any, companion: str, text: str) -> int:
    c = live_server.client()
    cur = c.scratchpad.get(companion_id=companion)
    return c.scratchpad.update(content=text, version=cur.version, companion_id=companion).version


def server(live_server: Any, companion: str) -> Any:
    return live_server.client().scratchpad.get(companion_id=companion)


def recovery_files(home: Path) -> list[Path]:
    d = home / "state" / "recovery"
    return sorted(d.glob("*.txt")) if d.is_dir() else []


# --------------------------------------------------------------------------- get / set


def test_get_plain_and_json(phantom, live_server, uid) -> None:
    seed(live_server, uid, "Likes tea.\nHates [bold red]markup[/] \x1b]52;c;Zm9v\x07")
    r = phantom("scratchpad", "get", "--companion", uid)
    assert r.exit_code == 0, r.stderr
    assert "Likes tea.\nHates [bold red]markup[/]" in r.stdout
    assert "\x1b" not in r.stdout and "\\x1b" in r.stdout  # escape sequences made inert
    assert "version 1" in r.stderr
    data = phantom("scratchpad", "get", "--companion", uid, "--json").json()
    assert data["version"] == 1 and data["type"] == "companion"
    assert data["content"].startswith("Likes tea.")


def test_get_with_max_words_and_hint(phantom, live_server, uid) -> None:
    seed(live_server, uid, " ".join(f"word{i}" for i in range(50)))
    r = phantom("scratchpad", "get", "--companion", uid, "--max-words", "5", "--hint", "x", "--json")
    assert r.exit_code == 0, r.stderr
    assert len(r.json()["content"].split()) <= 5


def test_get_needs_a_target(phantom) -> None:
    r = phantom("scratchpad", "get")
    assert r.exit_code == 2
    assert "--companion" in r.stderr


def test_set_from_argument_file_and_stdin(phantom, live_server, uid, tmp_path) -> None:
    r = phantom("scratchpad", "set", "--companion", uid, "one")
    assert r.exit_code == 0, r.stderr
    assert "version 1" in r.stderr
    f = tmp_path / "notes.md"
    f.write_text("two\n", encoding="utf-8")
    assert phantom("scratchpad", "set", "--companion", uid, "--file", str(f)).exit_code == 0
    assert server(live_server, uid).content == "two\n"
    r = phantom("scratchpad", "set", "--companion", uid, "--json", input="three")
    assert r.exit_code == 0, r.stderr
    assert r.json()["content"] == "three" and r.json()["version"] == 3


def test_set_with_a_stale_version_conflicts(phantom, live_server, uid) -> None:
    seed(live_server, uid, "a")
    seed(live_server, uid, "b")  # now version 2
    r = phantom("scratchpad", "set", "--companion", uid, "--version", "1", "mine")
    assert r.exit_code == 6
    assert "409" in r.stderr
    assert server(live_server, uid).content == "b"
    ok = phantom("scratchpad", "set", "--companion", uid, "--version", "2", "mine")
    assert ok.exit_code == 0 and server(live_server, uid).content == "mine"


def test_conversation_scratchpad(phantom, live_server, uid) -> None:
    r = phantom("scratchpad", "set", "--conversation", uid, "conversation notes")
    assert r.exit_code == 0, r.stderr
    data = phantom(
        "scratchpad", "get", "--type", "conversation", "--conversation", uid, "--json"
    ).json()
    assert data["type"] == "conversation" and data["content"] == "conversation notes"


# --------------------------------------------------------------------------- edit


def test_edit_unchanged_writes_nothing(phantom, live_server, uid, editor, phantom_home) -> None:
    v = seed(live_server, uid, "Likes tea.")
    editor.set({"keep": True})
    r = phantom("scratchpad", "edit", "--companion", uid)
    assert r.exit_code == 0, r.stderr
    assert "no changes" in r.stderr
    assert server(live_server, uid).version == v
    assert editor.runs()[0]["seen"] == "Likes tea.\n"  # the editor got the text (+ final newline)
    assert recovery_files(phantom_home) == []


def test_edit_changed_is_saved_with_the_version_read(phantom, live_server, uid, editor, phantom_home):
    v = seed(live_server, uid, "Likes tea.")
    editor.set({"write": "Likes tea.\nHates coffee.\n"})
    r = phantom("scratchpad", "edit", "--companion", uid)
    assert r.exit_code == 0, r.stderr
    assert f"version {v + 1}" in r.stderr
    now = server(live_server, uid)
    assert now.content == "Likes tea.\nHates coffee."  # the editor's final newline is not added
    assert now.version == v + 1
    assert recovery_files(phantom_home) == []  # removed once the write succeeded


def test_edit_emptied_is_refused_without_a_terminal(phantom, live_server, uid, editor, phantom_home):
    v = seed(live_server, uid, "Important memory.")
    editor.set({"write": "\n"})
    r = phantom("scratchpad", "edit", "--companion", uid)
    assert r.exit_code == 2
    assert "empties the scratchpad" in r.stderr and "nothing saved" in r.stderr
    assert server(live_server, uid).content == "Important memory."
    assert server(live_server, uid).version == v
    editor.set({"write": ""})
    r = phantom("scratchpad", "edit", "--companion", uid, "--allow-empty")
    assert r.exit_code == 0, r.stderr
    assert server(live_server, uid).content == ""


@pytest.mark.parametrize(("answer", "saved"), [("n\n", False), ("y\n", True)])
def test_edit_emptied_asks_at_a_terminal(
    phantom, live_server, uid, editor, monkeypatch, answer, saved
) -> None:
    seed(live_server, uid, "Important memory.")
    monkeypatch.setattr(sp_cli, "stdin_is_tty", lambda: True)
    editor.set({"write": ""})
    r = phantom("scratchpad", "edit", "--companion", uid, input=answer)
    assert "Save an empty scratchpad?" in r.stderr
    assert r.exit_code == (0 if saved else 1)
    assert server(live_server, uid).content == ("" if saved else "Important memory.")


def conflict_plan(uid: str, mine: str, theirs: str) -> dict[str, Any]:
    return {
        "write": mine,
        "interfere": {"query": {"companion_id": uid, "type": "companion"}, "content": theirs},
    }


def test_edit_conflict_abort_keeps_the_edit(phantom, live_server, uid, editor, phantom_home) -> None:
    v = seed(live_server, uid, "base line\n")
    editor.set(conflict_plan(uid, "base line\nmy line\n", "base line\ntheir line\n"))
    r = phantom("scratchpad", "edit", "--companion", uid, input="a\n")
    assert r.exit_code == 6
    # the diff between the server's current text and the user's edit
    assert f"--- server (version {v + 1})" in r.stderr
    assert "+++ your edit" in r.stderr
    assert "-their line" in r.stderr and "+my line" in r.stderr
    assert "[r]e-edit" in r.stderr and "[o]verwrite" in r.stderr
    # nothing of mine was written; theirs is intact; my text is in the recovery file
    assert server(live_server, uid).content == "base line\ntheir line\n"
    files = recovery_files(phantom_home)
    assert len(files) == 1
    assert files[0].read_text(encoding="utf-8") == "base line\nmy line\n"
    assert files[0].stat().st_mode & 0o777 == 0o600  # the user's text is private
    assert str(files[0]) in r.stderr
    assert "--recover" in r.stderr

    # --recover reopens it; it conflicts again (based on the old version) → overwrite
    editor.set({"keep": True})
    r = phantom("scratchpad", "edit", "--companion", uid, "--recover", input="o\n")
    assert r.exit_code == 0, r.stderr
    assert editor.runs()[0]["seen"] == "base line\nmy line\n"
    assert server(live_server, uid).content == "base line\nmy line\n"
    assert recovery_files(phantom_home) == []
    r = phantom("scratchpad", "edit", "--companion", uid, "--recover")
    assert r.exit_code == 5 and "no unsaved edit" in r.stderr


def test_edit_conflict_overwrite(phantom, live_server, uid, editor, phantom_home) -> None:
    v = seed(live_server, uid, "base\n")
    editor.set(conflict_plan(uid, "mine\n", "theirs\n"))
    r = phantom("scratchpad", "edit", "--companion", uid, input="o\n")
    assert r.exit_code == 0, r.stderr
    assert "-theirs" in r.stderr and "+mine" in r.stderr
    now = server(live_server, uid)
    assert now.content == "mine\n" and now.version == v + 2  # saved against their version
    assert recovery_files(phantom_home) == []


def test_edit_conflict_re_edit(phantom, live_server, uid, editor, phantom_home) -> None:
    v = seed(live_server, uid, "base\n")
    editor.set(
        conflict_plan(uid, "base\nmine\n", "base\ntheirs\n"),
        {"write": "base\ntheirs\nmine\n"},  # the user merges by hand
    )
    r = phantom("scratchpad", "edit", "--companion", uid, input="r\n")
    assert r.exit_code == 0, r.stderr
    runs = editor.runs()
    assert len(runs) == 2
    assert runs[1]["seen"] == "base\nmine\n"  # re-edit reopens the user's own text
    assert any(n.endswith(".txt") for n in runs[1]["recovery"])  # kept while not yet saved
    now = server(live_server, uid)
    assert now.content == "base\ntheirs\nmine\n" and now.version == v + 2
    assert recovery_files(phantom_home) == []


def test_edit_conflict_without_an_answer_aborts(phantom, live_server, uid, editor, phantom_home):
    seed(live_server, uid, "base\n")
    editor.set(conflict_plan(uid, "mine\n", "theirs\n"))
    r = phantom("scratchpad", "edit", "--companion", uid)  # stdin at EOF: no answer
    assert r.exit_code == 6
    assert server(live_server, uid).content == "theirs\n"
    assert [f.read_text() for f in recovery_files(phantom_home)] == ["mine\n"]


def test_edit_on_conflict_flag(phantom, live_server, uid, editor) -> None:
    seed(live_server, uid, "base\n")
    editor.set(conflict_plan(uid, "mine\n", "theirs\n"))
    r = phantom("scratchpad", "edit", "--companion", uid, "--on-conflict", "overwrite")
    assert r.exit_code == 0, r.stderr
    assert server(live_server, uid).content == "mine\n"


def test_edit_failing_editor_saves_nothing(phantom, live_server, uid, editor) -> None:
    v = seed(live_server, uid, "keep me")
    editor.set({"write": "garbage", "exit": 3})
    r = phantom("scratchpad", "edit", "--companion", uid)
    assert r.exit_code == 1
    assert "exited with status 3" in r.stderr and "nothing saved" in r.stderr
    assert server(live_server, uid).version == v


def test_edit_without_any_editor(phantom, live_server, uid, monkeypatch, tmp_path) -> None:
    seed(live_server, uid, "x")
    monkeypatch.setenv("PATH", str(tmp_path))  # no sensible-editor, nano or vi
    r = phantom("scratchpad", "edit", "--companion", uid)
    assert r.exit_code == 2
    assert "no editor found" in r.stderr and "$EDITOR" in r.stderr


def test_editor_command_resolution(monkeypatch, tmp_path) -> None:
    env = {"VISUAL": "code --wait", "EDITOR": "nano"}
    assert sp_cli.editor_command(env) == ["code", "--wait"]
    assert sp_cli.editor_command({"EDITOR": "'/opt/my editor/ed' -n"}) == [
        "/opt/my editor/ed",
        "-n",
    ]
    fake = tmp_path / "nano"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert sp_cli.editor_command({}) == [str(fake)]


def test_edit_help_has_an_example(phantom) -> None:
    for cmd in ("get", "set", "edit"):
        r = phantom("scratchpad", cmd, "--help")
        # the usage line names the command too: look for it in the epilog's example
        assert r.exit_code == 0 and re.search(rf"Examples?: phantom scratchpad {cmd} ", r.stdout)


def test_companion_and_conversation_together_is_refused_not_ignored(phantom, live_server, uid) -> None:
    """QA: `set --companion X --conversation Y` wrote X's companion pad and silently ignored
    --conversation (the help says --conversation selects the conversation pad)."""
    r = phantom("scratchpad", "set", "--companion", uid, "--conversation", uid + "c", "x")
    assert r.exit_code == 2
    assert "--conversation" in r.stderr and "--type conversation" in r.stderr
    assert server(live_server, uid).version == 0  # nothing written
    r = phantom("scratchpad", "get", "--type", "companion", "-c", uid, "--conversation", uid)
    assert r.exit_code == 2 and "--conversation" in r.stderr
    ok = phantom("scratchpad", "set", "-t", "conversation", "-c", uid, "--conversation", uid + "c", "y")
    assert ok.exit_code == 0, ok.stderr
    assert "conversation " + uid + "c" in ok.stderr


def test_get_notes_say_never_written_and_condensed(phantom, live_server, uid) -> None:
    """QA: a pad never written said "version 0 · updated just now"; a condensed read did not
    say it was condensed; --hint without --max-words was silently ignored."""
    r = phantom("scratchpad", "get", "--companion", uid)
    assert r.exit_code == 0 and "version 0 · never written" in r.stderr
    seed(live_server, uid, "one two three\nfour five six")
    r = phantom("scratchpad", "get", "--companion", uid, "--max-words", "3")
    assert r.exit_code == 0 and r.stdout == "one two three\n"
    assert "condensed to 3 of 6 words" in r.stderr and "version 1 · updated" in r.stderr
    r = phantom("scratchpad", "get", "--companion", uid, "--hint", "five")
    assert r.exit_code == 2 and "--hint" in r.stderr and "--max-words" in r.stderr
    assert r.stdout == ""
