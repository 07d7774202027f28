"""Hostile server text is shown inert and intact in table, plain and JSON output (issue 7)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from phantom_cli.cli.output import OutputMode, plain_cell, visible

from .conftest import Cli

MARKUP = "[bold red]ALERT[/bold red] [link=https://evil.example]click[/link]"
ANSI = "\x1b[31mred\x1b[0m \x1b[2J\x1b[H"
TITLE = "\x1b]0;pwned title\x07"
CLIPBOARD = "\x1b]52;c;ZWNobyBwd25lZA==\x07"
HYPERLINK = "\x1b]8;;https://evil.example\x1b\\innocent\x1b]8;;\x1b\\"
C1 = "\x9b31mc1\x9d0;t\x9c \u202eevil\u202c"
HUGE = "Ж" * 20000

HOSTILE = f"{MARKUP} {ANSI} {TITLE} {CLIPBOARD} {HYPERLINK} {C1}"
RAW_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def unescape_plain(cell: str) -> str:
    """Inverse of plain_cell: proves the plain output kept every character."""
    out, i = [], 0
    while i < len(cell):
        ch = cell[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = cell[i + 1]
        if nxt in "\\tnr":
            out.append({"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}[nxt])
            i += 2
        elif nxt == "x":
            out.append(chr(int(cell[i + 2 : i + 4], 16)))
            i += 4
        elif nxt == "u":
            out.append(chr(int(cell[i + 2 : i + 6], 16)))
            i += 6
        else:  # pragma: no cover - plain_cell never writes this
            raise AssertionError(f"bad escape at {i}: {cell[i : i + 6]!r}")
    return "".join(out)


@pytest.fixture
def hostile_activity(live_server: Any, unique: str) -> tuple[str, str]:
    cat = f"hostile-{unique}"
    act = live_server.add_activity(
        title=HOSTILE, category=cat, short_description=HOSTILE, description=HUGE + "END"
    )
    return act, cat


def test_plain_output_is_inert_and_intact(cli: Cli, hostile_activity: tuple[str, str]) -> None:
    act, cat = hostile_activity
    listed = cli("activities", "list", "--category", cat)
    assert listed.exit_code == 0, listed.stderr
    assert not RAW_CONTROLS.search(listed.stdout.replace("\n", "").replace("\t", ""))
    row = listed.stdout.rstrip("\n").split("\t")
    assert unescape_plain(row[1]) == HOSTILE
    assert unescape_plain(row[5]) == HOSTILE
    assert "[bold red]ALERT[/bold red]" in row[1]

    got = cli("activities", "get", act)
    fields = dict(line.split("\t", 1) for line in got.stdout.splitlines())
    assert unescape_plain(fields["title"]) == HOSTILE
    assert unescape_plain(fields["description"]) == HUGE + "END"  # huge line kept whole
    assert not RAW_CONTROLS.search(got.stdout.replace("\n", "").replace("\t", ""))


def test_json_output_is_inert_and_intact(cli: Cli, hostile_activity: tuple[str, str]) -> None:
    act, cat = hostile_activity
    r = cli("activities", "get", act, "--json")
    assert not RAW_CONTROLS.search(r.stdout.replace("\n", ""))
    data = json.loads(r.stdout)
    assert data["title"] == HOSTILE and data["description"] == HUGE + "END"
    nd = cli("activities", "list", "--category", cat, "--all", "--json")
    assert not RAW_CONTROLS.search(nd.stdout.replace("\n", ""))
    assert json.loads(nd.stdout.splitlines()[0])["short_description"] == HOSTILE
    jq = cli("activities", "get", act, "--jq", ".title")
    assert not RAW_CONTROLS.search(jq.stdout.replace("\n", ""))
    assert "\\x1b]52;c;" in jq.stdout


@pytest.mark.parametrize("color", [False, True])
def test_table_output_is_inert(cli: Cli, hostile_activity: tuple[str, str], color: bool) -> None:
    act, cat = hostile_activity
    flags = [] if color else ["--no-color"]
    table = cli(*flags, "activities", "list", "--category", cat, tty=True)
    assert table.exit_code == 0, table.stderr
    out = table.stdout
    # the only escape sequences are Rich's own SGR styling (none with --no-color)
    leftover = re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert not RAW_CONTROLS.search(leftover.replace("\n", ""))
    if not color:
        assert "\x1b" not in out
    assert "[bold red]ALERT" in leftover  # markup shown as typed (long text cut with …)

    detail = cli(*flags, "activities", "get", act, tty=True)
    leftover = re.sub(r"\x1b\[[0-9;]*m", "", detail.stdout)
    assert not RAW_CONTROLS.search(leftover.replace("\n", ""))
    assert leftover.count("Ж") == 20000  # folded across lines, nothing lost
    assert "\\x1b]52;c;ZWNobyBwd25lZA==\\x07" in leftover
    assert "\\x1b]0;pwned title\\x07" in leftover  # the title change is visible text


def test_messages_and_errors_are_inert(cli: Cli, live_server: Any, unique: str) -> None:
    act = live_server.add_activity(title=f"h {unique}", category=f"h-{unique}")
    inst = json.loads(cli("instances", "create", act, "--json").stdout)["id"]
    made = cli("instances", "messages", "create", inst, HOSTILE, "--json")
    assert json.loads(made.stdout)["content"] == HOSTILE
    for args, tty in ((["--no-color"], True), ([], False)):
        r = cli(*args, "instances", "messages", "list", inst, tty=tty)
        assert not RAW_CONTROLS.search(r.stdout.replace("\n", "").replace("\t", ""))
    bad = cli("activities", "get", "x\x1b]0;t\x07y")
    assert bad.exit_code in (2, 5)
    assert not RAW_CONTROLS.search(bad.stderr.replace("\n", ""))


def test_streamed_chunks_are_inert(capsys: pytest.CaptureFixture[str]) -> None:
    out = OutputMode(tty=True)
    for chunk in ("Hello \x1b]52;c;", "ZXZpbA==\x07 ", "[bold]world[/bold]\n"):
        out.write_chunk(chunk)
    text = capsys.readouterr().out
    assert text == "Hello \\x1b]52;c;ZXZpbA==\\x07 [bold]world[/bold]\n"


def test_helpers() -> None:
    assert visible("a\x1b[31mb") == "a\\x1b[31mb"
    assert visible("l1\nl2\tx", keep_newlines=True) == "l1\nl2\tx"
    assert visible("\u202e") == "\\u202e"
    assert plain_cell("a\\b\tc\nd") == "a\\\\b\\tc\\nd"
    assert unescape_plain(plain_cell(HOSTILE)) == HOSTILE
    assert (
        plain_cell(True) == "true" and plain_cell(None) == "" and plain_cell([1, "x"]) == '[1,"x"]'
    )
