"""`phantom media …` — your media collection and image/video generation."""

from __future__ import annotations

from typing import Any

import typer

from phantom_cli.cli._choices import one_of
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
    group_app,
    handle_errors,
    list_or_stream,
    output_mode,
)
from phantom_cli.client import enums as E
from phantom_cli.client import paths

app = group_app("media")
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


@app.command("list", epilog="Example: phantom media list --type image --favorite")
@handle_errors
def list_(
    ctx: typer.Context,
    type_: str | None = typer.Option(
        None, "--type", callback=one_of(E.MEDIA_TYPES), help="image, video or other."
    ),
    favorite: bool | None = typer.Option(
        None, "--favorite/--no-favorite", help="Only favorites / only non-favorites."
    ),
    relation: str | None = typer.Option(
        None, "--relation", callback=one_of(E.RELATION_TYPES),
        help="generated, favorited, uploaded or unlocked."
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
        favorite=favorite,
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
        "favorited", "--relation", callback=one_of(E.RELATION_TYPES),
        help="generated, favorited, uploaded or unlocked."
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

# a job's statuses as steps of the progress bar, and the word shown for each
_STEPS = {"queued": 0, "running": 1, "succeeded": 2, "failed": 2}
_LABELS = {"succeeded": "done"}


class JobProgress:
    """The progress of a generation job on stderr: its status (queued → running → done) and
    the elapsed time. At a terminal, a Rich progress display (spinner, step bar, status,
    elapsed time); otherwise one plain line per status change (``job gen_1: running (1.2s)``).
    ``console`` is for tests."""

    def __init__(self, kind: str, job_id: str, *, tty: bool, no_color: bool = False,
                 console: Any = None) -> None:
        import time

        from phantom_cli.cli.output import visible

        self.kind, self.job_id = kind, visible(str(job_id))
        self.tty, self.no_color, self.console = tty, no_color, console
        self.started = time.monotonic()
        self.last: str | None = None
        self.progress: Any = None
        self.task: Any = None

    def __enter__(self) -> JobProgress:
        if self.tty:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            console = self.console or Console(stderr=True, no_color=self.no_color)
            self.progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}", markup=False),
                BarColumn(bar_width=12),
                TextColumn("{task.fields[status]}", markup=False),
                TimeElapsedColumn(),
                console=console,
            )
            self.task = self.progress.add_task(
                f"generating {self.kind} (job {self.job_id})", total=2, status="queued"
            )
            self.progress.start()
        return self

    def update(self, status: str) -> None:
        import sys
        import time

        from phantom_cli.cli.output import visible

        status = visible(str(status))
        label = _LABELS.get(status, status)
        if self.progress is not None:
            self.progress.update(self.task, completed=_STEPS.get(status, 0), status=label)
        elif label != self.last:
            elapsed = time.monotonic() - self.started
            print(f"job {self.job_id}: {label} ({elapsed:.1f}s)", file=sys.stderr, flush=True)
        self.last = label

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()



def _generate(
    ctx: typer.Context,
    kind: str,
    body: dict,
    wait: bool,
    timeout: float,
    json_: bool,
    jq: str | None,
) -> None:

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
    with JobProgress(kind, started.job_id, tty=out.tty and not state.debug,
                     no_color=out.no_color) as progress:
        progress.update(getattr(started, "status", None) or "queued")
        job = client.media.wait(
            started.job_id, timeout=timeout, on_update=lambda j: progress.update(j.status)
        )
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
    nsfw: str | None = typer.Option(
        None, "--nsfw", callback=one_of(E.NSFW_LEVELS), help="none, suggestive or explicit."
    ),
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
    nsfw: str | None = typer.Option(
        None, "--nsfw", callback=one_of(E.NSFW_LEVELS), help="none, suggestive or explicit."
    ),
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
