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


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True),
) -> None:
    """phantom"""


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
