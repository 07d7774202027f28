"""`phantom chat` and `phantom playground` — thin launchers for phantom_cli.tui.

Module level: typer and the standard library only (start-up rule); Textual, the client and the
TUI are imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import typer


def _fail(message: str, hint: str | None = None, code: int = 2) -> NoReturn:
    """One ``error: …`` / ``hint: …`` on stderr, the project's style (common.report_error)."""
    from phantom_cli.cli.common import CLIError, State, report_error

    raise typer.Exit(report_error(CLIError(message, hint, code), State()))


def _flags(ctx: typer.Context, profile: str | None, base_url: str | None) -> tuple[str | None, str | None]:
    """The command's own flags win; otherwise the root's global --profile/--base-url."""
    state: Any = ctx.find_root().obj
    return (profile or getattr(state, "profile", None), base_url or getattr(state, "base_url", None))


def _context(ctx: typer.Context, profile: str | None, base_url: str | None) -> Any:
    from phantom_cli.tui.context import build_context

    profile, base_url = _flags(ctx, profile, base_url)
    try:
        return build_context(profile=profile, base_url=base_url)
    except Exception as exc:  # config errors, server start failures: a message, not a traceback
        _fail(f"cannot start: {exc}", "see 'phantom config list' and 'phantom serve status'")


def _need_terminal(command: str) -> None:
    """The TUI needs an interactive terminal; without one (a pipe, CI, cron) Textual would wait
    forever. Say so and point at the scriptable commands instead. ``PHANTOM_FORCE_TTY=1``
    overrides the detection, as everywhere in the CLI (docs/cli.md)."""
    import os
    import sys

    forced = os.environ.get("PHANTOM_FORCE_TTY")
    if forced == "1" or (forced != "0" and sys.stdin.isatty() and sys.stdout.isatty()):
        return
    _fail(
        f"phantom {command} needs an interactive terminal (stdin and stdout are not a TTY)",
        "for scripts use 'phantom companion say' or 'phantom npc say'",
    )


def _persona_file(persona: Path) -> Path:
    """``persona``, or the shipped example of that bare name (``luna.toml``) when no such file
    is here — the same fallback as `phantom companion say --persona`."""
    from phantom_cli.cli.companion import _shipped

    return _shipped(persona)


def chat(
    ctx: typer.Context,
    npc: str | None = typer.Option(None, "--npc", metavar="ID", help="Talk to this NPC persona."),
    persona: Path | None = typer.Option(
        None, "--persona", metavar="FILE", help="Talk to the companion in this persona file."
    ),
    instance: str | None = typer.Option(
        None, "--instance", metavar="ID", help="Resume this activity instance."
    ),
    activity: str | None = typer.Option(
        None, "--activity", metavar="ID", help="Start a new instance of this activity."
    ),
    profile: str | None = typer.Option(None, "--profile", "-p", metavar="NAME", help="Settings profile."),
    base_url: str | None = typer.Option(None, "--base-url", metavar="URL", help="API base URL."),
) -> None:
    """Chat with a companion, an NPC or an activity (TUI).

    Keys: Enter sends, ctrl+j inserts a newline, escape stops a reply, ctrl+r retries,
    ctrl+l edits your last message, ctrl+p opens the command palette.
    """
    given = [n for n, v in (("--npc", npc), ("--persona", persona), ("--instance", instance),
                            ("--activity", activity)) if v]
    if len(given) > 1:
        _fail(f"give only one of {', '.join(given)}", "see 'phantom chat --help'")
    if persona is not None:
        persona = _persona_file(persona)
    if persona is not None and not persona.is_file():
        _fail(f"--persona: no such file: {persona}", "give a persona file (.toml or .yaml)")
    _need_terminal("chat")
    app_ctx = _context(ctx, profile, base_url)
    from phantom_cli.tui import run_chat

    try:
        run_chat(app_ctx, npc=npc, persona=persona, instance=instance, activity=activity)
    except Exception as exc:
        name = type(exc).__name__
        if name in ("PersonaFileError",):
            _fail(str(exc))
        raise


def playground(
    ctx: typer.Context,
    persona: Path | None = typer.Option(
        None, "--persona", metavar="FILE", help="Start from this persona file."
    ),
    profile: str | None = typer.Option(None, "--profile", "-p", metavar="NAME", help="Settings profile."),
    base_url: str | None = typer.Option(None, "--base-url", metavar="URL", help="API base URL."),
) -> None:
    """Build a companion request, send it, copy it (TUI).

    Keys: ctrl+s sends, f2 shows the request/response JSON, f3/f4/f5 copy the request, the
    response, or the request as curl (with $PHANTOM_KEY, never the key).
    """
    loaded = None
    if persona is not None:
        from phantom_cli.personafile import load_persona

        persona = _persona_file(persona)
        try:
            loaded = load_persona(persona, warn=lambda msg: typer.echo(f"warning: {msg}", err=True))
        except Exception as exc:
            _fail(str(exc))
    _need_terminal("playground")
    app_ctx = _context(ctx, profile, base_url)
    from phantom_cli.tui import run_playground

    run_playground(app_ctx, persona=loaded)
