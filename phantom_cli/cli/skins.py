"""`phantom skins list|get` — character skins (looks) for generation."""

from __future__ import annotations

import typer

from phantom_cli.cli._choices import one_of
from phantom_cli.cli.common import (
    AllOpt,
    CursorOpt,
    JqOpt,
    JsonOpt,
    LimitOpt,
    get_client,
    group_app,
    handle_errors,
    list_or_stream,
    output_mode,
)
from phantom_cli.client import enums as E
from phantom_cli.client import paths

app = group_app("skins")


def _columns() -> list:
    from phantom_cli.cli.output import col

    return [
        col("ID", "id", "id", 28),
        col("NAME", "name", "text", 28),
        col("GENDER", "gender", "text", 10),
        col("STYLE", "style", "text", 9),
        col("COVER", "cover_photo_url", "text", 40),
    ]


@app.command("list", epilog="Example: phantom skins list --style anime --gender female")
@handle_errors
def list_(
    ctx: typer.Context,
    gender: str | None = typer.Option(
        None, "--gender", callback=one_of(E.SKIN_GENDERS), help="Only this gender: female, male or non-binary."
    ),
    style: str | None = typer.Option(
        None, "--style", callback=one_of(E.STYLES), help="anime or realistic."
    ),
    limit: LimitOpt = None,
    cursor: CursorOpt = None,
    all_: AllOpt = False,
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """List skins."""
    out = output_mode(ctx, json_, jq)
    list_or_stream(
        ctx,
        out,
        paths.SKINS,
        _columns(),
        "skins",
        limit,
        cursor,
        all_,
        gender=gender,
        style=style,
    )


@app.command("get", epilog="Example: phantom skins get skin_123 --jq .cover_photo_url")
@handle_errors
def get(
    ctx: typer.Context,
    skin_id: str = typer.Argument(..., metavar="ID", help="Skin id."),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Show one skin."""
    out = output_mode(ctx, json_, jq)
    out.item(get_client(ctx).skins.get(skin_id))
