"""`phantom personas …` — your own personas (who you are in a conversation)."""

from __future__ import annotations

import typer

from phantom_cli.cli._choices import not_blank, one_of
from phantom_cli.cli.common import (
    AllOpt,
    CursorOpt,
    JqOpt,
    JsonOpt,
    LimitOpt,
    fail,
    flag_names,
    get_client,
    group_app,
    handle_errors,
    list_or_stream,
    output_mode,
)
from phantom_cli.client import enums as E
from phantom_cli.client import paths

app = group_app("personas")


def _columns() -> list:
    from phantom_cli.cli.output import col

    return [
        col("ID", "id", "id", 28),
        col("NAME", "name", "text", 24),
        col("GENDER", "gender", "text", 10),
        col("STYLE", "style_preference", "text", 9),
        col("DEFAULT", "is_default", "bool", 7),
        col("DESCRIPTION", "description", "text", 40),
        col("UPDATED", "updated_at", "date", 16),
    ]


# wire field -> the flag a person typed (for client-side validation errors)
_FLAGS = {
    "name": "NAME",
    "gender": "--gender",
    "description": "--description",
    "style_preference": "--style",
}


@app.command("list", epilog="Example: phantom personas list --json")
@handle_errors
def list_(
    ctx: typer.Context,
    limit: LimitOpt = None,
    cursor: CursorOpt = None,
    all_: AllOpt = False,
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """List your personas."""
    out = output_mode(ctx, json_, jq)
    list_or_stream(
        ctx, out, paths.PERSONAS, _columns(), "personas", limit, cursor, all_
    )


@app.command(
    "create",
    epilog='Example: phantom personas create "Ash" --gender non-binary --style anime --default',
)
@handle_errors
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., callback=not_blank, help="Persona name (1–120 characters)."),
    gender: str | None = typer.Option(
        None, "--gender", callback=one_of(E.PLAYER_GENDERS), help="female, male or non-binary."
    ),
    description: str | None = typer.Option(None, "--description", help="Up to 4000 characters."),
    style: str | None = typer.Option(
        None, "--style", callback=one_of(E.STYLES), help="anime or realistic."
    ),
    default: bool = typer.Option(False, "--default", help="Make it your default persona."),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Create a persona."""
    out = output_mode(ctx, json_, jq)
    with flag_names(_FLAGS):
        persona = get_client(ctx).personas.create(
            name=name,
            gender=gender,
            description=description,
            style_preference=style,
            is_default=True if default else None,
        )
    out.item(persona)


@app.command("get", epilog="Example: phantom personas get per_123")
@handle_errors
def get(
    ctx: typer.Context,
    persona_id: str = typer.Argument(..., metavar="ID", help="Persona id (per_…)."),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Show one persona."""
    out = output_mode(ctx, json_, jq)
    out.item(get_client(ctx).personas.get(persona_id))


@app.command("update", epilog='Example: phantom personas update per_123 --description "A ranger"')
@handle_errors
def update(
    ctx: typer.Context,
    persona_id: str = typer.Argument(..., metavar="ID", help="Persona id (per_…)."),
    name: str | None = typer.Option(
        None, "--name", callback=not_blank, help="New name (1–120 characters)."
    ),
    gender: str | None = typer.Option(
        None, "--gender", callback=one_of(E.PLAYER_GENDERS), help="female, male or non-binary."
    ),
    description: str | None = typer.Option(
        None, "--description", help="New description (up to 4000 characters)."
    ),
    style: str | None = typer.Option(
        None, "--style", callback=one_of(E.STYLES), help="anime or realistic."
    ),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Change fields of a persona (only the ones given)."""
    fields = {
        k: v
        for k, v in {
            "name": name,
            "gender": gender,
            "description": description,
            "style_preference": style,
        }.items()
        if v is not None
    }
    if not fields:
        fail("nothing to update: give --name, --gender, --description or --style")
    out = output_mode(ctx, json_, jq)
    with flag_names({**_FLAGS, "name": "--name"}):  # update takes the name as an option
        updated = get_client(ctx).personas.update(persona_id, **fields)
    out.item(updated)


@app.command("set-default", epilog="Example: phantom personas set-default per_123")
@handle_errors
def set_default(
    ctx: typer.Context,
    persona_id: str = typer.Argument(..., metavar="ID", help="Persona id (per_…)."),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Make a persona your default."""
    out = output_mode(ctx, json_, jq)
    out.item(get_client(ctx).personas.set_default(persona_id))
