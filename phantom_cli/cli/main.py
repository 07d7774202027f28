"""The root Typer app. Module level imports typer and the standard library only (start-up).

Sub-commands are registered in ``COMMANDS`` below and loaded lazily: ``phantom --help`` and
``--version`` import no command module and build no sub-command (Typer builds every command's
parameters from its signature, which costs more than all the imports together), and
``phantom activities list`` imports and builds only ``phantom_cli.cli.activities``.

To add a command group: one line in ``COMMANDS`` — ``name: (module, attribute, short help)``;
the attribute is a ``typer.Typer`` (a group) or a function (a single command).
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup

from phantom_cli import __version__
from phantom_cli.cli import _coerce
from phantom_cli.cli.common import State

# plain-Python coercion of str/int/float/bool/Path values: Typer's own imports pydantic (~100 ms)
_coerce.install()

# name -> (module under phantom_cli.cli, attribute, short help for `phantom --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "chat": ("tuicmd", "chat", "Chat with a companion, an NPC or an activity (TUI)."),
    "playground": ("tuicmd", "playground", "Build a companion request, send it, copy it (TUI)."),
    "api": ("api", "api", "Call any API path with your key and print the response JSON."),
    "activities": ("activities", "app", "Browse published activities (characters, scenarios)."),
    "instances": ("instances", "app", "Your activity instances, their messages, streamed chat."),
    "personas": ("personas", "app", "Your personas: who you are in conversations."),
    "skins": ("skins", "app", "Character skins (looks) used by generation."),
    "media": ("media", "app", "Your media collection, and image/video generation."),
    "scratchpad": ("scratchpad", "app", "Read and edit a companion's scratchpad (working notes)."),
    "npc": ("npc", "app", "Talk to NPCs: sessions with a state machine, score and outcome."),
    "companion": ("companion", "app", "Talk to a companion defined by a persona file."),
    "auth": ("auth", "app", "Log in to the hosted API; show, check or forget the key."),
    "config": ("settings", "app", "Show and change settings, with each value's source."),
    "profile": ("profile", "app", "Named profiles: backend, base URL and defaults."),
    "serve": ("serve", "app", "Run the embedded local backend, or manage the background one."),
    "keys": ("keys", "app", "API keys of the local backend (local extension)."),
    "admin": ("admin", "app", "Author content on the local backend (local only)."),
    "test": ("testcmd", "app", "Run scenario tests: NPC state, score, outcome, flags, replies."),
}


# Examples shown at the end of a group's --help (a group's own epilog wins).
EXAMPLES: dict[str, str] = {
    "chat": "Examples: phantom chat; phantom chat --npc abc123; phantom chat --persona luna.toml; "
    "phantom chat --activity act_luna",
    "playground": "Example: phantom playground --persona luna.toml",
    "api": "Example: phantom api GET /api/v1/skins -f limit=5",
    "activities": "Examples: phantom activities list --companion --featured; phantom activities get act_luna",
    "instances": 'Examples: phantom instances create act_luna; phantom instances chat inst_123 "Hi"',
    "personas": 'Examples: phantom personas list; phantom personas create "Ash" --gender non-binary',
    "skins": "Examples: phantom skins list --gender female; phantom skins get skin_1",
    "media": "Examples: phantom media list --type image; phantom media generate image --skin skin_1 "
    "--category portrait --wait",
    "scratchpad": "Examples: phantom scratchpad get --companion luna; "
    "phantom scratchpad edit --companion luna",
    "npc": "Examples: phantom npc init abc123; phantom npc say abc123 'How much?'; "
    "phantom npc history abc123",
    "companion": "Examples: phantom companion say -P luna.toml 'Hi!'; "
    "phantom companion transcript -P luna.toml",
    "auth": 'Examples: phantom auth login; echo "$KEY" | phantom --profile prod auth login; '
    "phantom auth status",
    "config": "Examples: phantom config list; phantom config set player_name Ash; "
    "phantom config get engine",
    "profile": "Examples: phantom profile add staging --url https://staging.example; "
    "phantom profile use staging; phantom profile list",
    "serve": "Examples: phantom serve --port 0; phantom serve --engine scripted --idle-timeout 0; "
    "phantom serve status",
    "keys": "Examples: phantom keys create --user alice; phantom keys list; phantom keys revoke key_123",
    "admin": "Examples: phantom admin activities; phantom admin import-card mira.png; "
    "phantom admin publish act_123",
    "test": "Examples: phantom test examples/scenarios; phantom test s.yaml -k merchant --junit out.xml; "
    "phantom test schema",
}


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
