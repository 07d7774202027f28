"""The root Typer app. Module level imports typer and the standard library only (start-up)."""

from __future__ import annotations

import typer

from phantom_cli import __version__
from phantom_cli.cli import (
    activities,
    admin,
    api,
    auth,
    companion,
    instances,
    keys,
    media,
    npc,
    personas,
    profile,
    scratchpad,
    serve,
    settings,
    skins,
    tuicmd,
)
from phantom_cli.cli.common import State

app = typer.Typer(
    name="phantom",
    help="Chat with companions and NPCs, and manage Phantom API resources.",
    no_args_is_help=True,
    rich_markup_mode=None,
    add_completion=False,
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


app.command("chat")(tuicmd.chat)
app.command("playground")(tuicmd.playground)
app.command("api")(api.api)
for _name, _mod in [
    ("activities", activities),
    ("instances", instances),
    ("personas", personas),
    ("skins", skins),
    ("media", media),
    ("scratchpad", scratchpad),
    ("npc", npc),
    ("companion", companion),
    ("auth", auth),
    ("config", settings),
    ("profile", profile),
    ("serve", serve),
    ("keys", keys),
    ("admin", admin),
]:
    app.add_typer(_mod.app, name=_name)


def run() -> None:
    app()
