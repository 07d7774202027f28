"""`phantom activities list|get` — the published activities (characters and scenarios)."""

from __future__ import annotations

import typer

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
from phantom_cli.client import paths

app = group_app("activities")


def _columns() -> list:
    from phantom_cli.cli.output import col

    return [
        col("ID", "id", "id", 28),
        col("TITLE", "title", "text", 32),
        col("CATEGORY", "category", "text", 16),
        col("FEATURED", "featured", "bool", 8),
        col("COMPANION", "is_companion", "bool", 9),
        col("DESCRIPTION", "short_description", "text", 50),
    ]


@app.command("list", epilog="Example: phantom activities list --companion --featured --json")
@handle_errors
def list_(
    ctx: typer.Context,
    category: str | None = typer.Option(None, "--category", help="Only this category."),
    featured: bool | None = typer.Option(
        None, "--featured/--no-featured", help="Only featured / only non-featured activities."
    ),
    companion: bool | None = typer.Option(
        None, "--companion/--no-companion", help="Only companions / only non-companions."
    ),
    limit: LimitOpt = None,
    cursor: CursorOpt = None,
    all_: AllOpt = False,
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """List activities, newest first."""
    out = output_mode(ctx, json_, jq)
    filters = {
        "category": category,
        "featured": featured,
        "is_companion": companion,
    }
    list_or_stream(
        ctx, out, paths.ACTIVITIES, _columns(), "activities", limit, cursor, all_,
        **filters,
    )  # fmt: skip


@app.command("get", epilog="Example: phantom activities get act_123 --jq .first_message")
@handle_errors
def get(
    ctx: typer.Context,
    activity_id: str = typer.Argument(..., metavar="ID", help="Activity id."),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Show one activity (all fields with --json)."""
    out = output_mode(ctx, json_, jq)
    out.item(get_client(ctx).activities.get(activity_id))
