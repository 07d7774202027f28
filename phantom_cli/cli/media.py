"""`phantom media …` — your media collection and image/video generation."""

from __future__ import annotations

import typer

from phantom_cli.cli import _help
from phantom_cli.cli.common import (
    EXIT_API,
    EXIT_NOT_FOUND,
    AllOpt,
    CursorOpt,
    JqOpt,
    JsonOpt,
    LimitOpt,
    fail,
    flag_names,
    get_client,
    get_state,
    handle_errors,
    list_or_stream,
    output_mode,
    parse_bool,
)
from phantom_cli.client import paths

app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help=_help.group_help("media"),
    epilog=_help.examples("media"),
)
generate_app = typer.Typer(
    no_args_is_help=True,
    help="Generate an image or a video of a skin (a background job).",
    epilog="Example: phantom media generate image --skin skin_1 --category portrait --wait",
    rich_markup_mode=None,
)
app.add_typer(generate_app, name="generate")


def _columns() -> list:
    from phantom_cli.cli.output import col

    return [
        col("ID", "id", "id", 28),
        col("MEDIA", "mediaId", "id", 28),
        col("TYPE", "mediaType", "text", 6),
        col("RELATION", "relationType", "text", 10),
        col("FAVORITE", "isFavorite", "bool", 8),
        col("URL", "cdnUrl", "text", 48),
        col("CREATED", "createdAt", "date", 16),
    ]


@app.command("list", epilog="Example: phantom media list --type image --favorite true")
@handle_errors
def list_(
    ctx: typer.Context,
    type_: str | None = typer.Option(None, "--type", help="image, video or other."),
    favorite: str | None = typer.Option(None, "--favorite", metavar="BOOL", help="true or false."),
    relation: str | None = typer.Option(
        None, "--relation", help="generated, favorited, uploaded or unlocked."
    ),
    limit: LimitOpt = None,
    cursor: CursorOpt = None,
    all_: AllOpt = False,
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """List your media collection, newest first."""
    out = output_mode(ctx, json_, jq)
    list_or_stream(
        ctx,
        out,
        paths.MEDIA_COLLECTION,
        _columns(),
        "media",
        limit,
        cursor,
        all_,
        type=type_,
        favorite=parse_bool(favorite, "--favorite"),
        relation_type=relation,
        wire={"relation_type": "relationType"},
    )


@app.command("add", epilog="Example: phantom media add med_123 --relation favorited")
@handle_errors
def add(
    ctx: typer.Context,
    media_id: str = typer.Argument(
        ..., metavar="MEDIA_ID", help="Media id (from a generation job or a list)."
    ),
    relation: str = typer.Option(
        "favorited", "--relation", help="generated, favorited, uploaded or unlocked."
    ),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Add a media item to your collection."""
    out = output_mode(ctx, json_, jq)
    out.item(get_client(ctx).media.collection.add(media_id, relation_type=relation))


def _set_favorite(
    ctx: typer.Context, item_id: str, value: bool, json_: bool, jq: str | None
) -> None:
    out = output_mode(ctx, json_, jq)
    out.item(get_client(ctx).media.collection.update(item_id, is_favorite=value))


@app.command("favorite", epilog="Example: phantom media favorite col_123")
@handle_errors
def favorite(
    ctx: typer.Context,
    item_id: str = typer.Argument(..., metavar="ID", help="Collection item id."),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Mark a collection item as favorite."""
    _set_favorite(ctx, item_id, True, json_, jq)


@app.command("unfavorite", epilog="Example: phantom media unfavorite col_123")
@handle_errors
def unfavorite(
    ctx: typer.Context,
    item_id: str = typer.Argument(..., metavar="ID", help="Collection item id."),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Remove the favorite mark of a collection item."""
    _set_favorite(ctx, item_id, False, json_, jq)


@app.command("open", epilog="Example: phantom media open col_123")
@handle_errors
def open_(
    ctx: typer.Context,
    item_id: str = typer.Argument(..., metavar="ID", help="Collection item id or media id."),
) -> None:
    """Open a media item's URL in the browser (prints the URL when there is none)."""
    import webbrowser

    from phantom_cli.cli.output import visible

    client = get_client(ctx)
    url = None
    for item in client.media.collection.iter():
        if item_id in (item.id, item.mediaId):
            url = item.cdnUrl
            break
    else:
        fail(
            f"media item {item_id!r} not found in your collection",
            "see 'phantom media list'",
            EXIT_NOT_FOUND,
        )
    if not url:
        fail(f"media item {item_id!r} has no URL yet", None, EXIT_API)
    if url.startswith("/") and not url.startswith("//"):
        # the local backend serves its media under its own base URL
        url = str(getattr(client, "base_url", "")).rstrip("/") + url
    if not url.lower().startswith(("http://", "https://")):
        fail(f"refusing to open a non-http(s) URL: {visible(url)!r}", None, EXIT_API)
    opened = False
    try:
        opened = webbrowser.open(url)
    except webbrowser.Error:
        opened = False
    if opened:
        import sys

        print(f"opened {visible(url)}", file=sys.stderr)
    else:
        print(visible(url))


# --------------------------------------------------------------------------- generation


def _generate(
    ctx: typer.Context,
    kind: str,
    body: dict,
    wait: bool,
    timeout: float,
    json_: bool,
    jq: str | None,
) -> None:
    import sys

    out = output_mode(ctx, json_, jq)
    client = get_client(ctx)
    call = client.media.generate_image if kind == "image" else client.media.generate_video
    flags = {
        "skin_id": "--skin",
        "category": "--category",
        "seed": "--seed",
        "nsfw_level": "--nsfw",
        "first_frame_source": "--first-frame",
        "activity_id": "--activity",
        "activity_instance_id": "--instance",
    }
    with flag_names(flags):
        started = call(**{k: v for k, v in body.items() if v is not None})
    if not wait:
        out.item(started)
        return
    state = get_state(ctx)
    progress = None
    if out.tty and not state.debug:
        from rich.console import Console

        progress = Console(stderr=True, no_color=out.no_color).status(
            f"generating {kind} (job {started.job_id}): queued"
        )
        progress.start()
    last: list[str] = []

    def on_update(job: object) -> None:
        from phantom_cli.cli.output import visible

        status = visible(getattr(job, "status", "?"))
        if progress is not None:
            progress.update(f"generating {kind} (job {visible(started.job_id)}): {status}")
        elif not last or last[-1] != status:
            print(f"job {visible(started.job_id)}: {status}", file=sys.stderr, flush=True)
        last.append(status)

    try:
        job = client.media.wait(started.job_id, timeout=timeout, on_update=on_update)
    finally:
        if progress is not None:
            progress.stop()
    if job.status != "succeeded" or job.media is None:
        from phantom_cli.cli.output import visible

        fail(
            f"generation job {visible(job.job_id)} {visible(job.status)}"
            + (f": {visible(job.error)}" if job.error else ""),
            "try again, or another --category / --skin",
            EXIT_API,
        )
    out.item(job.media)


_SKIN = typer.Option(..., "--skin", metavar="ID", help="Skin to generate.")
_CATEGORY = typer.Option(
    ..., "--category", help="portrait, selfie, full_body, outfit, scene, action (local backend)."
)
_WAIT = typer.Option(
    False, "--wait", help="Wait for the job, showing progress, then print the item."
)
_TIMEOUT = typer.Option(300.0, "--timeout", min=1, help="Seconds to wait with --wait.")
_ACTIVITY = typer.Option(
    None, "--activity", metavar="ID", help="Link the result to this activity (act_…)."
)
_INSTANCE = typer.Option(
    None, "--instance", metavar="ID", help="Link the result to this activity instance (inst_…)."
)


@generate_app.command(
    "image", epilog="Example: phantom media generate image --skin skin_1 --category portrait --wait"
)
@handle_errors
def generate_image(
    ctx: typer.Context,
    skin: str = _SKIN,
    category: str = _CATEGORY,
    seed: int | None = typer.Option(None, "--seed", min=0, help="Seed for reproducible output."),
    nsfw: str | None = typer.Option(None, "--nsfw", help="none, suggestive or explicit."),
    activity: str | None = _ACTIVITY,
    instance: str | None = _INSTANCE,
    wait: bool = _WAIT,
    timeout: float = _TIMEOUT,
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Generate an image of a skin."""
    body = {
        "skin_id": skin,
        "category": category,
        "seed": seed,
        "nsfw_level": nsfw,
        "activity_id": activity,
        "activity_instance_id": instance,
    }
    _generate(ctx, "image", body, wait, timeout, json_, jq)


@generate_app.command(
    "video", epilog="Example: phantom media generate video --skin skin_1 --category action --wait"
)
@handle_errors
def generate_video(
    ctx: typer.Context,
    skin: str = _SKIN,
    category: str = _CATEGORY,
    seed: int | None = typer.Option(None, "--seed", min=0, help="Seed for reproducible output."),
    nsfw: str | None = typer.Option(None, "--nsfw", help="none, suggestive or explicit."),
    first_frame: str | None = typer.Option(
        None, "--first-frame", help="generate or skin_reference."
    ),
    activity: str | None = _ACTIVITY,
    instance: str | None = _INSTANCE,
    wait: bool = _WAIT,
    timeout: float = _TIMEOUT,
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Generate a video of a skin."""
    body = {
        "skin_id": skin,
        "category": category,
        "seed": seed,
        "nsfw_level": nsfw,
        "first_frame_source": first_frame,
        "activity_id": activity,
        "activity_instance_id": instance,
    }
    _generate(ctx, "video", body, wait, timeout, json_, jq)
