"""Usage errors in the project's style, with "did you mean" suggestions.

Click prints its own usage errors (``Usage: … Try '… --help' … Error: No such option``); the
root group (main.py) hands them here instead, so every failure reads the same way::

    error: no such command 'activitys'
    hint: did you mean 'phantom activities'? see 'phantom --help'

The exit code stays Click's (2 for usage errors). Mistyped commands and options get the
closest names (difflib); a group given an argument where a sub-command belongs
(``phantom instances messages inst_1``) suggests its ``list`` command with that argument.

Start-up rule: typer + stdlib only at module level.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

_NO_COMMAND = re.compile(r"^No such command (['\"])(?P<name>.*)\1\.")
_NO_OPTION = re.compile(r"^No such option: (?P<name>\S+)")
_BAD_VALUE = re.compile(r"^Invalid value for (?P<name>'[^']*'(?: / '[^']*')*|\S+): (?P<why>.*)$", re.S)


def command_path(ctx: Any) -> str:
    """``phantom instances messages`` for a context, whatever the program was called."""
    names: list[str] = []
    while ctx is not None:
        if ctx.parent is None:
            names.append("phantom")
        elif ctx.info_name:
            names.append(str(ctx.info_name))
        ctx = ctx.parent
    return " ".join(reversed(names))


def _closest(word: str, choices: Sequence[str]) -> list[str]:
    return difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)


def _or(items: Sequence[str]) -> str:
    quoted = [f"'{i}'" for i in items]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _command_names(ctx: Any) -> list[str]:
    try:
        return [n for n in ctx.command.list_commands(ctx) if n]
    except Exception:  # pragma: no cover - a group that cannot list its commands
        return []


def _option_names(ctx: Any) -> list[str]:
    names: list[str] = []
    for param in getattr(ctx.command, "params", ()):
        if getattr(param, "param_type_name", "") == "option":
            names += [o for o in (*param.opts, *param.secondary_opts) if o.startswith("--")]
    return names + ["--help"]


def describe(exc: Any, args: Sequence[str] | None = None) -> tuple[str, str | None]:
    """(message, hint) for a Click usage error ``exc``; ``args`` are the command line's
    arguments (for the ``… list ID`` suggestion)."""
    ctx = getattr(exc, "ctx", None)
    raw = str(getattr(exc, "message", "") or exc)
    if ctx is not None:
        where = command_path(ctx)
    else:  # some parser errors carry no context: the command words typed
        words = []
        for arg in args or ():
            if not arg.replace("-", "").isalpha() or arg.startswith("-"):
                break
            words.append(arg)
        where = " ".join(["phantom", *words[:2]])
    see = f"see '{where} --help'"
    hints: list[str] = []
    m = _NO_COMMAND.match(raw)
    o = _NO_OPTION.match(raw)
    if m and ctx is not None:
        typo = m.group("name")
        message = f"no such command {typo!r} in '{where}'"
        names = _command_names(ctx)
        looks_like_an_id = not typo.replace("-", "").isalpha()
        close = [] if looks_like_an_id else _closest(typo, names)
        if close:
            hints.append(f"did you mean {_or([f'{where} {c}' for c in close])}?")
        elif "list" in names:
            rest = list(args or [])
            tail = rest[rest.index(typo):] if typo in rest else [typo]
            hints.append(f"did you mean '{where} list {' '.join(tail)}'?")
        elif names:
            hints.append(f"commands: {', '.join(names)}")
    elif o and ctx is not None:
        typo = o.group("name")
        message = f"no such option: {typo}"
        close = _closest(typo.split("=", 1)[0], _option_names(ctx))
        if close:
            hints.append(f"did you mean {_or(close)}?")
    else:
        message = exc.format_message() if hasattr(exc, "format_message") else raw
        b = _BAD_VALUE.match(message)
        if b:  # "--limit: must be between 1 and 100, got 0" — the client's wording
            name = re.findall(r"'([^']*)'", b.group("name")) or [b.group("name")]
            message = f"{name[0]}: {b.group('why')}"
        if message[:1].isupper() and not message[1:2].isupper():
            message = message[:1].lower() + message[1:]
        message = message.rstrip(".")
    if not hints:
        return message, see
    return message, f"{' '.join(hints)} ({see})"


def report(exc: Any, args: Sequence[str] | None = None) -> int:
    """Print a Click exception in the project's ``error:``/``hint:`` style; its exit code."""
    from phantom_cli.cli.common import CLIError, State, report_error

    code = int(getattr(exc, "exit_code", 2))
    if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: its help, as before
        exc.show()
        return code
    if not hasattr(exc, "ctx"):  # not a usage error (e.g. FileError): the message alone
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        return report_error(CLIError(message, None, code), State())
    message, hint = describe(exc, args)
    return report_error(CLIError(message, hint, code), State())
