"""`phantom instances …` — your activity instances, their messages, and streamed chat."""

from __future__ import annotations

from typing import Any

import typer

from phantom_cli.cli._choices import one_of
from phantom_cli.cli.common import (
    AllOpt,
    CursorOpt,
    JqOpt,
    JsonOpt,
    LimitOpt,
    flag_names,
    get_async_client,
    get_client,
    group_app,
    handle_errors,
    list_or_stream,
    output_mode,
)
from phantom_cli.client import enums as E
from phantom_cli.client import paths

app = group_app("instances")
messages_app = typer.Typer(
    no_args_is_help=True,
    help="Messages of one instance.",
    epilog="Example: phantom instances messages list inst_123 --role assistant",
    rich_markup_mode=None,
)
app.add_typer(messages_app, name="messages")


def _instance_columns() -> list:
    from phantom_cli.cli.output import col

    return [
        col("ID", "id", "id", 28),
        col("TITLE", "snapshot_title", "text", 32),
        col("STATUS", "status", "text", 9),
        col("ACTIVITY", "activity_id", "id", 24),
        col("LAST USED", "last_accessed_at", "date", 16),
        col("CREATED", "created_at", "date", 16),
    ]


def _message_columns() -> list:
    from phantom_cli.cli.output import col

    return [
        col("ID", "id", "id", 28),
        col("ROLE", "role", "text", 9),
        col("MEDIUM", "medium", "text", 6),
        col("CONTENT", "content", "text", 60),
        col("CREATED", "created_at", "date", 16),
    ]


@app.command("list", epilog="Example: phantom instances list --status active --all --json")
@handle_errors
def list_(
    ctx: typer.Context,
    status: str | None = typer.Option(
        None, "--status", callback=one_of(E.INSTANCE_STATUSES), help="active or archived."
    ),
    activity: str | None = typer.Option(
        None, "--activity", metavar="ID", help="Only this activity."
    ),
    limit: LimitOpt = None,
    cursor: CursorOpt = None,
    all_: AllOpt = False,
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """List your instances, newest first."""
    out = output_mode(ctx, json_, jq)
    list_or_stream(
        ctx,
        out,
        paths.INSTANCES,
        _instance_columns(),
        "instances",
        limit,
        cursor,
        all_,
        status=status,
        activity_id=activity,
    )


@app.command("create", epilog="Example: phantom instances create act_123 --json")
@handle_errors
def create(
    ctx: typer.Context,
    activity_id: str = typer.Argument(..., metavar="ACTIVITY_ID", help="Activity to start."),
    voice: str | None = typer.Option(None, "--voice", metavar="ID", help="Assigned voice id."),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Start an instance of an activity (a snapshot of it is taken now)."""
    out = output_mode(ctx, json_, jq)
    out.item(get_client(ctx).instances.create(activity_id, assigned_voice_id=voice))


@app.command("get", epilog="Example: phantom instances get inst_123")
@handle_errors
def get(
    ctx: typer.Context,
    instance_id: str = typer.Argument(..., metavar="ID", help="Instance id (inst_…)."),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Show one instance."""
    out = output_mode(ctx, json_, jq)
    out.item(get_client(ctx).instances.get(instance_id))


@app.command("update", epilog="Example: phantom instances update inst_123 --voice v_9")
@handle_errors
def update(
    ctx: typer.Context,
    instance_id: str = typer.Argument(..., metavar="ID", help="Instance id (inst_…)."),
    voice: str | None = typer.Option(None, "--voice", metavar="ID", help="Assigned voice id."),
    status: str | None = typer.Option(
        None, "--status", callback=one_of(E.INSTANCE_STATUSES), help="active or archived."
    ),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Change an instance's voice or status."""
    out = output_mode(ctx, json_, jq)
    with flag_names({"assigned_voice_id": "--voice", "status": "--status"}):
        updated = get_client(ctx).instances.update(
            instance_id, assigned_voice_id=voice, status=status
        )
    out.item(updated)


@app.command("archive", epilog="Example: phantom instances archive inst_123")
@handle_errors
def archive(
    ctx: typer.Context,
    instance_id: str = typer.Argument(..., metavar="ID", help="Instance id (inst_…)."),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Archive an instance (it then refuses new messages). Prints one line (--json: the instance)."""
    from phantom_cli.cli.output import visible

    out = output_mode(ctx, json_, jq)
    archived = get_client(ctx).instances.archive(instance_id)
    if out.json:
        out.item(archived)
        return
    title = getattr(archived, "snapshot_title", None)
    print(f"archived {visible(archived.id)}" + (f" ({visible(title)})" if title else ""))


@app.command("chat", epilog='Example: phantom instances chat inst_123 "Hello there"')
@handle_errors
def chat(
    ctx: typer.Context,
    instance_id: str = typer.Argument(..., metavar="ID", help="Instance id (inst_…)."),
    text: str = typer.Argument(..., help="Your message ('-' reads it from stdin)."),
    medium: str | None = typer.Option(
        None,
        "--medium",
        help="How YOUR message was sent: text, voice, image or video (the reply is text).",
    ),
    skin: str | None = typer.Option(
        None,
        "--skin",
        metavar="ID",
        help="Skin id for play-mode XP scoping (XP is awarded to this skin); no image is made.",
    ),
) -> None:
    """Send a message and stream the reply to stdout as it arrives.

    If it fails or is interrupted, run the same command again: it reuses the send's
    Idempotency-Key, so the server replays the reply it saved instead of a second exchange.
    """
    import sys

    if text == "-":
        text = sys.stdin.read().rstrip("\n")
    from phantom_cli.conversation import InstanceChat, run_turn

    out = output_mode(ctx)
    from phantom_cli.pending import begin, finish

    ended_with_newline = True
    body = {"content": text, "medium": medium, "skin_id": skin}
    sent: list[str] = []

    def chunk(piece: str) -> None:
        nonlocal ended_with_newline
        if piece:
            out.write_chunk(piece)
            ended_with_newline = piece.endswith("\n")

    def turn(client: Any) -> Any:
        # an interrupted send, run again, reuses its Idempotency-Key: the server replays its reply
        key, token = begin(str(client.base_url), f"chat:{instance_id}", body)
        sent.append(token)
        conv = InstanceChat(client, instance_id)
        conv.medium, conv.skin_id = medium, skin
        return conv.send(text, idempotency_key=key)

    run_turn(lambda: get_async_client(ctx), turn, on_delta=chunk)
    finish(sent[0])
    if not ended_with_newline:
        out.write_chunk("\n")


# --------------------------------------------------------------------------- messages


@messages_app.command("list", epilog="Example: phantom instances messages list inst_123 --all")
@handle_errors
def messages_list(
    ctx: typer.Context,
    instance_id: str = typer.Argument(..., metavar="INSTANCE", help="Instance id (inst_…)."),
    role: str | None = typer.Option(
        None, "--role", callback=one_of(E.MESSAGE_ROLES), help="user, assistant or system."
    ),
    medium: str | None = typer.Option(
        None, "--medium", callback=one_of(E.MEDIUMS), help="text, voice, image or video."
    ),
    limit: LimitOpt = None,
    cursor: CursorOpt = None,
    all_: AllOpt = False,
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """List the messages of an instance, newest first."""
    out = output_mode(ctx, json_, jq)
    list_or_stream(
        ctx,
        out,
        paths.INSTANCE_MESSAGES,
        _message_columns(),
        "messages",
        limit,
        cursor,
        all_,
        path_params={"instance_id": instance_id},
        role=role,
        medium=medium,
    )


@messages_app.command("create", epilog='Example: phantom instances messages create inst_123 "Hi"')
@handle_errors
def messages_create(
    ctx: typer.Context,
    instance_id: str = typer.Argument(..., metavar="INSTANCE", help="Instance id (inst_…)."),
    content: str = typer.Argument(..., help="Message text ('-' reads stdin)."),
    role: str = typer.Option(
        "user", "--role", callback=one_of(E.MESSAGE_ROLES), help="user, assistant or system."
    ),
    medium: str = typer.Option(
        "text", "--medium", callback=one_of(E.MEDIUMS), help="text, voice, image or video."
    ),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Add a message to an instance (no reply is generated; see 'instances chat')."""
    import sys

    if content == "-":
        content = sys.stdin.read().rstrip("\n")
    out = output_mode(ctx, json_, jq)
    msg = get_client(ctx).instances.messages.create(
        instance_id, content=content, role=role, medium=medium
    )
    out.item(msg)


@messages_app.command("get", epilog="Example: phantom instances messages get inst_123 msg_456")
@handle_errors
def messages_get(
    ctx: typer.Context,
    instance_id: str = typer.Argument(..., metavar="INSTANCE", help="Instance id (inst_…)."),
    message_id: str = typer.Argument(
        ..., metavar="MESSAGE", help="Message id (from messages list)."
    ),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Show one message."""
    out = output_mode(ctx, json_, jq)
    out.item(get_client(ctx).instances.messages.get(instance_id, message_id))


@messages_app.command(
    "update", epilog='Example: phantom instances messages update inst_123 msg_456 "Fixed text"'
)
@handle_errors
def messages_update(
    ctx: typer.Context,
    instance_id: str = typer.Argument(..., metavar="INSTANCE", help="Instance id (inst_…)."),
    message_id: str = typer.Argument(
        ..., metavar="MESSAGE", help="Message id (from messages list)."
    ),
    content: str = typer.Argument(..., help="New text ('-' reads stdin)."),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Replace a message's text."""
    import sys

    if content == "-":
        content = sys.stdin.read().rstrip("\n")
    out = output_mode(ctx, json_, jq)
    out.item(get_client(ctx).instances.messages.update(instance_id, message_id, content=content))
