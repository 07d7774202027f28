"""The root Typer app. Module level imports typer and the standard library only (start-up).

Sub-commands are registered in ``COMMANDS`` below and loaded lazily: ``phantom --help`` and
``--version`` import no command module and build no sub-command (Typer builds every command's
parameters from its signature, which costs more than all the imports together), and
``phantom activities list`` imports and builds only ``phantom_cli.cli.activities``.

To add a command group: one line in ``_REGISTRY`` — ``name: (module, attribute)`` — and its
summary and examples in ``cli/_help.py`` (the group's module uses the same text); the attribute
is a ``typer.Typer`` (a group) or a function (a single command).
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup

from phantom_cli import __version__
from phantom_cli.cli import _coerce, _help
from phantom_cli.cli.common import State

# plain-Python coercion of str/int/float/bool/Path values: Typer's own imports pydantic (~100 ms)
_coerce.install()

# name -> (module under phantom_cli.cli, attribute); summaries and examples: cli/_help.py
_REGISTRY: dict[str, tuple[str, str]] = {
    "chat": ("tuicmd", "chat"),
    "playground": ("tuicmd", "playground"),
    "api": ("api", "api"),
    "activities": ("activities", "app"),
    "instances": ("instances", "app"),
    "personas": ("personas", "app"),
    "skins": ("skins", "app"),
    "media": ("media", "app"),
    "scratchpad": ("scratchpad", "app"),
    "npc": ("npc", "app"),
    "companion": ("companion", "app"),
    "transcripts": ("transcripts", "app"),
    "auth": ("auth", "app"),
    "config": ("settings", "app"),
    "profile": ("profile", "app"),
    "serve": ("serve", "app"),
    "keys": ("keys", "app"),
    "admin": ("admin", "app"),
    "test": ("testcmd", "app"),
}
# name -> (module under phantom_cli.cli, attribute, short help for `phantom --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    name: (module, attr, _help.SUMMARIES[name]) for name, (module, attr) in _REGISTRY.items()
}
# Examples shown at the end of a group's --help (one source: cli/_help.py).
EXAMPLES: dict[str, str] = _help.EXAMPLES


def load_command(name: str) -> Any:
    """Import and build the click command registered as ``name`` (None if unknown)."""
    spec = COMMANDS.get(name)
    if spec is None:
        return None
    module, attr, short_help = spec
    obj = getattr(importlib.import_module(f"phantom_cli.cli.{module}"), attr)
    if isinstance(obj, typer.Typer):
        obj.rich_markup_mode = None  # plain help, like the root (design.md, start-up budget)
        obj.info.name = name
        cmd = typer.main.get_group(obj)
    else:
        single = typer.Typer(rich_markup_mode=None, add_completion=False)
        single.command(name)(obj)
        cmd = typer.main.get_command(single)
    cmd.name = name
    if not cmd.help:
        cmd.help = short_help
    if not cmd.epilog and name in EXAMPLES:
        cmd.epilog = EXAMPLES[name]
    return cmd


class LazyGroup(TyperGroup):
    """The root group: sub-commands are imported and built only when used."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands:
            cmd = load_command(cmd_name)
            if cmd is None:
                return None
            self.commands[cmd_name] = cmd
        return self.commands[cmd_name]

    def invoke(self, ctx: Any) -> Any:
        super().invoke(ctx)
        return None  # main() reads an int as an exit code: a command's return value is not one

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Click's main, with usage errors printed in the project's ``error:``/``hint:`` style
        and "did you mean" suggestions (phantom_cli.cli._usage); exit codes unchanged."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        import sys

        argv = list(sys.argv[1:] if args is None else args)
        try:
            code = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        except Exception as exc:
            from phantom_cli.cli.common import _is_click_exception

            if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: its help, as before
                exc.show()  # type: ignore[attr-defined]
                sys.exit(2)
            if _is_click_exception(exc):
                from phantom_cli.cli import _usage

                sys.exit(_usage.report(exc, argv))
            if type(exc).__name__ == "Abort":
                print("error: aborted", file=sys.stderr)
                sys.exit(1)
            raise
        sys.exit(code if isinstance(code, int) else 0)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # short help from the registry: listing commands must not build them all
        rows = [(name, short) for name, (_m, _a, short) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


app = typer.Typer(
    name="phantom",
    help="Chat with companions and NPCs, and manage Phantom API resources.",
    no_args_is_help=True,
    rich_markup_mode=None,
    add_completion=False,
    cls=LazyGroup,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"phantom {__version__}")
        raise typer.Exit()


@app.callback(
    epilog=(
        "Examples: phantom activities list; phantom --profile prod instances list --json; "
        "phantom --debug api GET /api/v1/skins. Exit codes: 0 ok, 1 API error, 2 usage or bad "
        "input, 3 network, 4 auth/credit, 5 not found, 6 conflict."
    )
)
def main(
    ctx: typer.Context,
    profile: str | None = typer.Option(
        None,
        "--profile",
        "-p",
        metavar="NAME",
        help="Settings profile to use (env PHANTOM_PROFILE).",
    ),
    base_url: str | None = typer.Option(
        None,
        "--base-url",
        metavar="URL",
        help="API base URL, overrides the profile (env PHANTOM_BASE_URL).",
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Trace HTTP calls on stderr (key redacted); tracebacks on errors."
    ),
    no_color: bool = typer.Option(False, "--no-color", help="No colour in output (or NO_COLOR)."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Chat with companions and NPCs, and manage Phantom API resources."""
    ctx.obj = State(profile=profile, base_url=base_url, debug=debug, no_color=no_color)


def run() -> None:
    # pydantic scans every installed distribution's entry points for plugins the first time a
    # model is built (~20 ms of importlib.metadata per command); the CLI uses none.
    import os

    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    app()
