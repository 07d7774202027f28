"""One source for command summaries and examples (phantom_cli/cli/_help.py), issue 14."""

from __future__ import annotations

import shlex
from typing import Any

import click
import pytest

from phantom_cli.cli import _help
from phantom_cli.cli.main import COMMANDS, EXAMPLES, load_command

from .conftest import Cli

GLOBAL_WITH_VALUE = {"--profile", "-p", "--base-url"}


def _example_commands(epilog: str) -> list[list[str]]:
    """The argv (after ``phantom``) of every example in an epilog."""
    text = epilog.split(":", 1)[1]
    out = []
    for part in text.replace("  ·  ", ";").split(";"):
        words = shlex.split(part.split("|")[-1].strip())
        if "phantom" not in words:
            continue
        argv = words[words.index("phantom") + 1 :]
        while argv and argv[0].startswith("-"):  # global options
            argv = argv[2:] if argv[0] in GLOBAL_WITH_VALUE else argv[1:]
        out.append(argv)
    return out


def test_every_command_has_a_summary_and_examples() -> None:
    assert set(COMMANDS) == set(_help.SUMMARIES) == set(_help.EXAMPLES)
    assert set(_help.DETAILS) <= set(COMMANDS)
    assert EXAMPLES is _help.EXAMPLES


@pytest.mark.parametrize("name", list(COMMANDS))
def test_group_help_agrees_with_the_root_listing(name: str) -> None:
    cmd = load_command(name)
    summary = COMMANDS[name][2]
    assert summary == _help.SUMMARIES[name]
    assert (cmd.help or "").split("\n\n")[0].strip() == summary
    assert cmd.epilog == _help.EXAMPLES[name]


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_example_names_a_real_command(name: str) -> None:
    examples = _example_commands(_help.EXAMPLES[name])
    assert examples, name
    for argv in examples:
        assert argv[0] == name, argv
        cmd = load_command(argv[0])
        rest = argv[1:]
        while isinstance(cmd, click.Group) and rest and not rest[0].startswith("-"):
            sub = cmd.get_command(click.Context(cmd), rest[0])
            if sub is None and type(cmd).__name__ == "DefaultGroup":  # `phantom test SUITE`
                cmd = cmd.get_command(click.Context(cmd), "run")
                break
            assert sub is not None, f"phantom {' '.join(argv)}: no command {rest[0]!r}"
            cmd, rest = sub, rest[1:]
        if isinstance(cmd, click.Group):
            assert cmd.invoke_without_command, f"phantom {' '.join(argv)}: a group, no command"


def test_list_jq_help_says_it_gets_the_page_object() -> None:
    r = _run("activities", "list", "--help")
    assert ".data[].id" in r.stdout


def test_instances_chat_help_says_what_skin_and_medium_do() -> None:
    """It said "--skin ID  Skin for image replies." (seed 002: it only scopes play-mode XP)."""
    out = " ".join(_run("instances", "chat", "--help").stdout.split())
    assert "image replies" not in out
    assert "XP" in out and "How YOUR message was sent" in out


def _run(*args: str, env: dict[str, str] | None = None) -> Any:
    """`phantom ARGS` with no server: no base URL or key from the fixtures."""
    return Cli(None, None)(*args, env=env, auth=False)
