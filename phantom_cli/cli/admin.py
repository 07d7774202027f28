"""`phantom admin …` — author content on the LOCAL backend (cards, activities, skins, NPCs).

Local only: these call the embedded backend's admin API (/api/v1/local/admin, scope `admin`);
the hosted API does not serve it. Module level imports typer + stdlib only (start-up rule).
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from phantom_cli.cli.common import (
    EXIT_NOT_FOUND,
    AllOpt,
    CursorOpt,
    JqOpt,
    JsonOpt,
    LimitOpt,
    fail,
    get_client,
    get_settings,
    group_app,
    handle_errors,
    list_or_stream,
    output_mode,
    stdin_is_tty,
)
from phantom_cli.client import paths

app = group_app("admin")

ADMIN = paths.LOCAL_ADMIN
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_FILE = 32 * 1024 * 1024


def _local_only(ctx: typer.Context) -> None:
    eff = get_settings(ctx)
    if getattr(eff, "backend", "local") == "hosted":
        fail(
            "admin commands are local only: the hosted API does not serve /api/v1/local/admin",
            hint="use a profile with backend = local (phantom profile use local)",
        )


@contextmanager
def _admin_route() -> Iterator[None]:
    """A backend without the admin API (404 "no such route") as one clear line."""
    from phantom_cli.client.errors import NotFoundError

    try:
        yield
    except NotFoundError as exc:
        msg = str(getattr(exc, "message", "") or exc)
        if "no such route" in msg:
            fail(
                "not available on this backend (the admin API is served by the local backend only)",
                code=EXIT_NOT_FOUND,
            )
        raise


def _call(ctx: typer.Context, method: str, path: str, **kwargs: Any) -> Any:
    _local_only(ctx)
    with _admin_route():
        return get_client(ctx).request(method, path, **kwargs)


def _read(path: Path, what: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FILE:
            fail(f"{what} {path}: {size} bytes; the limit is {MAX_FILE}")
        return path.read_bytes()
    except FileNotFoundError:
        fail(f"{what} {path}: no such file")
    except IsADirectoryError:
        fail(f"{what} {path}: is a directory")
    except OSError as exc:
        fail(f"{what} {path}: cannot read ({exc.strerror or exc})")


def _load_doc(path: Path, what: str) -> Any:
    """A JSON, TOML or YAML document from a file (chosen by extension; JSON otherwise)."""
    raw = _read(path, what)
    suffix = path.suffix.lower()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        fail(f"{what} {path}: not UTF-8 text")
    try:
        if suffix == ".toml":
            import tomllib

            return tomllib.loads(text)
        if suffix in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)
    except Exception as exc:  # noqa: BLE001 - JSON/TOML/YAML errors: report, never a traceback
        kind = {".toml": "TOML", ".yaml": "YAML", ".yml": "YAML"}.get(suffix, "JSON")
        fail(f"{what} {path}: not valid {kind} ({exc})")


def _activity_columns() -> list:
    from phantom_cli.cli.output import col

    return [
        col("ID", "id", "id", 30),
        col("TITLE", "title", "text", 34),
        col("CATEGORY", "category", "text", 12),
        col("COMPANION", "is_companion", "bool", 9),
        col("FEATURED", "featured", "bool", 8),
        col("PUBLISHED", "published", "bool", 9),
    ]


def _summary(out: Any, act: dict[str, Any], verb: str) -> None:
    out.item(act, _activity_columns())  # --json: the whole object
    if not out.json:
        out.note(f"{verb} activity {act.get('id')}")


# --------------------------------------------------------------------------- activities


@app.command(
    "activities",
    epilog=(
        "Examples:\n\n  phantom admin activities\n\n  phantom admin activities --unpublished\n\n"
        "  phantom admin activities --all --json | jq -r .id"
    ),
)
@handle_errors
def activities(
    ctx: typer.Context,
    published: bool | None = typer.Option(
        None, "--published/--unpublished", help="Only published / only unpublished activities."
    ),
    limit: LimitOpt = None,
    cursor: CursorOpt = None,
    all_: AllOpt = False,
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """List every activity, published or not (with a PUBLISHED column)."""
    out = output_mode(ctx, json_, jq)
    _local_only(ctx)
    with _admin_route():
        list_or_stream(
            ctx, out, f"{ADMIN}/activities", _activity_columns(), "activities", limit, cursor,
            all_, published=published,
        )  # fmt: skip


def _set_published(
    ctx: typer.Context, activity_id: str, action: str, json_: bool, jq: str | None
) -> None:
    out = output_mode(ctx, json_, jq)
    act = _call(ctx, "POST", f"{ADMIN}/activities/{_seg(activity_id)}/{action}").json()
    _summary(out, act, f"{action}ed")


@app.command("publish", epilog="Example: phantom admin publish act_clockwork_orchard_draft")
@handle_errors
def publish(
    ctx: typer.Context,
    activity_id: str = typer.Argument(..., metavar="ID", help="Activity id (act_…)."),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Publish an activity (it appears in `phantom activities list`)."""
    _set_published(ctx, activity_id, "publish", json_, jq)


@app.command("unpublish", epilog="Example: phantom admin unpublish act_luna")
@handle_errors
def unpublish(
    ctx: typer.Context,
    activity_id: str = typer.Argument(..., metavar="ID", help="Activity id (act_…)."),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Unpublish an activity (hidden from listings; GET by id answers 404)."""
    _set_published(ctx, activity_id, "unpublish", json_, jq)


@app.command(
    "create-activity",
    epilog=(
        "Example: phantom admin create-activity quiz.toml --publish\n\n"
        'File (JSON, TOML or YAML): seed-002 activity fields, e.g. title = "Quiz night", '
        'category = "game", first_message = "Ready?", tags = ["trivia"]; optional id and a '
        "character_book (lorebook)."
    ),
)
@handle_errors
def create_activity(
    ctx: typer.Context,
    file: Path = typer.Argument(..., metavar="FILE", help="The file to read."),
    publish_: bool = typer.Option(False, "--publish", help="Publish it right away."),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Create an activity from a file of activity fields (unpublished unless --publish)."""
    out = output_mode(ctx, json_, jq)
    doc = _load_doc(file, "activity file")
    if not isinstance(doc, dict):
        fail(f"activity file {file}: expected an object of activity fields")
    if publish_:
        doc["published"] = True
    act = _call(ctx, "POST", f"{ADMIN}/activities", json=doc).json()
    _summary(out, act, "created")


@app.command(
    "update-activity",
    epilog=(
        "Example: phantom admin update-activity act_luna changes.json\n\n"
        "Only the fields in the file change; instances keep their snapshots."
    ),
)
@handle_errors
def update_activity(
    ctx: typer.Context,
    activity_id: str = typer.Argument(..., metavar="ID", help="Activity id (act_…)."),
    file: Path = typer.Argument(..., metavar="FILE", help="The file to read."),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Change an activity's fields from a file (JSON, TOML or YAML)."""
    out = output_mode(ctx, json_, jq)
    doc = _load_doc(file, "activity file")
    if not isinstance(doc, dict) or not doc:
        fail(f"activity file {file}: expected a non-empty object of activity fields")
    act = _call(ctx, "PATCH", f"{ADMIN}/activities/{_seg(activity_id)}", json=doc).json()
    _summary(out, act, "updated")


@app.command("delete", epilog="Example: phantom admin delete act_123 --yes")
@handle_errors
def delete(
    ctx: typer.Context,
    activity_id: str = typer.Argument(..., metavar="ID", help="Activity id (act_…)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete an activity (existing instances keep their snapshots)."""
    if not yes:
        if not stdin_is_tty():
            fail("refusing to delete without --yes (stdin is not a terminal)")
        typer.confirm(f"Delete activity {activity_id}?", abort=True)
    _call(ctx, "DELETE", f"{ADMIN}/activities/{_seg(activity_id)}")
    print(f"deleted activity {activity_id}", file=sys.stderr)


def _seg(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


# --------------------------------------------------------------------------- cards


@app.command(
    "import-card",
    epilog=(
        "Examples:\n\n  phantom admin import-card mira.png --publish\n\n"
        "  phantom admin import-card mira.json --category adventure --not-companion\n\n"
        "Reads V2 (chara_card_v2) and V3 (chara_card_v3) JSON cards, and PNG cards carrying "
        "the card in a 'ccv3' (preferred) or 'chara' text chunk; the lorebook comes along."
    ),
)
@handle_errors
def import_card(
    ctx: typer.Context,
    file: Path = typer.Argument(..., metavar="FILE", help="A .json or .png character card."),
    publish_: bool = typer.Option(False, "--publish", help="Publish it right away."),
    activity_id: str | None = typer.Option(None, "--id", help="Use this activity id."),
    category: str | None = typer.Option(None, "--category", help="Category (default companion)."),
    companion: bool | None = typer.Option(
        None, "--companion/--not-companion", help="is_companion (default: companion)."
    ),
    featured: bool | None = typer.Option(None, "--featured/--not-featured", help="Featured."),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Import a character card as a new activity (unpublished unless --publish)."""
    from phantom_cli.backend.cards import LOREBOOK_NOT_CARD, CardError, parse_card

    out = output_mode(ctx, json_, jq)
    raw = _read(file, "card")
    try:
        parse_card(raw)  # check before sending: errors name the field and the chunk
    except CardError as exc:
        if exc.problem == LOREBOOK_NOT_CARD:
            fail(f"{file}: {exc.problem}")
        fail(f"card {file}: {exc}")
    body: dict[str, Any] = {"published": publish_}
    if raw.startswith(PNG_SIGNATURE):
        body["png_base64"] = base64.b64encode(raw).decode("ascii")
    else:
        body["card"] = json.loads(raw)
    for key, value in (
        ("id", activity_id),
        ("category", category),
        ("is_companion", companion),
        ("featured", featured),
    ):
        if value is not None:
            body[key] = value
    act = _call(ctx, "POST", f"{ADMIN}/cards", json=body).json()
    _summary(out, act, "imported" + (" and published" if publish_ else " (unpublished)"))


def _write_file(output: str, data: bytes, force: bool) -> Path | None:
    """``data`` to ``output`` ('-': stdout, returns None); never over a file without --force."""
    if output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return None
    target = Path(output)
    if target.exists() and not force:
        fail(f"{target}: already exists (use --force to overwrite)")
    try:
        tmp = target.with_name(f".{target.name}.part")
        tmp.write_bytes(data)
        tmp.replace(target)
    except OSError as exc:
        fail(f"{target}: cannot write ({exc.strerror or exc})")
    return target


@app.command(
    "export-card",
    epilog=(
        "Examples:\n\n  phantom admin export-card act_luna -o luna.json\n\n"
        "  phantom admin export-card act_luna --format v2 -o luna-v2.json\n\n"
        "  phantom admin export-card act_luna --png -o luna.png   (chara + ccv3 chunks)"
    ),
)
@handle_errors
def export_card(
    ctx: typer.Context,
    activity_id: str = typer.Argument(..., metavar="ACTIVITY_ID", help="Activity id (act_…)."),
    fmt: str = typer.Option("v3", "--format", help="v2 or v3 (JSON cards)."),
    png: bool = typer.Option(False, "--png", help="A PNG card with both chara (V2) and ccv3 (V3)."),
    output: str = typer.Option(..., "-o", "--output", help="File to write ('-' for stdout)."),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite an existing file."),
) -> None:
    """Export an activity as a SillyTavern-compatible character card."""
    if fmt not in ("v2", "v3"):
        fail(f"--format: {fmt!r} is not v2 or v3")
    suffix = Path(output).suffix.lower() if output != "-" else ""
    if suffix == ".png":
        png = True  # the format follows the file name: a .png gets a PNG card
    elif png and suffix == ".json":
        fail(f"--png with {output}: a PNG card needs a .png file name (or drop --png for JSON)")
    if png and output == "-" and sys.stdout.isatty():
        fail("refusing to write a PNG to the terminal; use -o FILE")
    resp = _call(
        ctx,
        "GET",
        f"{ADMIN}/activities/{_seg(activity_id)}/card",
        params={"format": fmt, "png": "true" if png else "false"},
    )
    data = resp.content
    target = _write_file(output, data, force)
    if target is None:
        return
    kind = "PNG card (chara + ccv3)" if png else f"{fmt.upper()} JSON card"
    print(f"wrote {kind} of {activity_id} to {target} ({len(data)} bytes)", file=sys.stderr)


# --------------------------------------------------------------------------- lorebooks

lorebook_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Lorebooks (world info) on the local backend: list an activity's, show one's entries.",
    epilog="Examples:\n\n  phantom admin lorebook list act_luna\n\n  phantom admin lorebook show act_luna",
)
app.add_typer(lorebook_app, name="lorebook")


def _lorebook_columns() -> list:
    from phantom_cli.cli.output import col

    return [
        col("ID", "id", "id", 30),
        col("NAME", "name", "text", 30),
        col("ACTIVITY", "activity_id", "id", 30),
        col("ENTRIES", "entries", "text", 7),
        col("ENABLED", "enabled", "text", 7),
        col("CONSTANT", "constant", "text", 8),
    ]


@app.command(
    "import-lorebook",
    epilog=(
        "Examples:\n\n  phantom admin import-lorebook Eldoria.worldinfo.json --activity act_luna\n\n"
        "  phantom admin import-lorebook book.json --name Eldoria\n\n"
        "Reads SillyTavern world-info JSON ({\"entries\": {\"0\": {\"key\": [...], "
        "\"content\": ...}}}), a V2/V3 character_book ({\"entries\": [{\"keys\": [...], "
        "\"content\": ...}]}) or a card carrying one. With --activity the book is added to that "
        "activity (new instances of it use it)."
    ),
)
@handle_errors
def import_lorebook(
    ctx: typer.Context,
    file: Path = typer.Argument(..., metavar="FILE", help="A world-info or character_book JSON file."),
    activity_id: str | None = typer.Option(None, "--activity", help="Attach it to this activity."),
    name: str | None = typer.Option(None, "--name", help="Name the lorebook (default: the file's)."),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Import a lorebook (SillyTavern world info or a character_book)."""
    from phantom_cli.backend.cards import CardError, parse_lorebook_file

    out = output_mode(ctx, json_, jq)
    doc = _load_doc(file, "lorebook")
    default_name = file.name.split(".")[0] if file.name else None
    try:
        parse_lorebook_file(doc, name=default_name)  # check before sending: errors name the entry
    except CardError as exc:
        fail(f"lorebook {file}: {exc}")
    body: dict[str, Any] = {"lorebook": doc}
    if activity_id is not None:
        body["activity_id"] = activity_id
    if name is not None or not (isinstance(doc, dict) and doc.get("name")):
        body["name"] = name or default_name
    res = _call(ctx, "POST", f"{ADMIN}/lorebooks", json=body).json()
    out.item(res, _lorebook_columns())
    if not out.json:
        where = f" to activity {activity_id}" if activity_id else " (not attached to an activity)"
        out.note(f"imported lorebook {res.get('id')} ({res.get('format')}, "
                 f"{res.get('entries')} entries){where}")


def _activity_lorebooks(ctx: typer.Context, activity_id: str) -> list[dict[str, Any]]:
    return _call(ctx, "GET", f"{ADMIN}/lorebooks", params={"activity_id": activity_id}).json()["data"]


def _lorebook_ids(ctx: typer.Context, ident: str) -> list[str]:
    """An activity's lorebook ids, or ``[ident]`` when ``ident`` is a lorebook id; no activity
    and no lorebook of that id: exit 'not found'."""
    from phantom_cli.client.errors import NotFoundError

    try:
        books = _activity_lorebooks(ctx, ident)
    except NotFoundError:
        try:
            _call(ctx, "GET", f"{ADMIN}/lorebooks/{_seg(ident)}")
        except NotFoundError:
            fail(f"{ident}: no such activity or lorebook", code=EXIT_NOT_FOUND)
        return [ident]
    if not books:
        fail(f"activity {ident}: has no lorebook", code=EXIT_NOT_FOUND)
    return [b["id"] for b in books]


@app.command(
    "export-lorebook",
    epilog=(
        "Examples:\n\n  phantom admin export-lorebook act_luna -o luna.worldinfo.json\n\n"
        "  phantom admin export-lorebook act_luna --format book   (character_book JSON to stdout)\n\n"
        "ACTIVITY is an activity id (its first lorebook; --lorebook picks another) or a lorebook "
        "id (lb_…). The default format is SillyTavern world info, which SillyTavern imports."
    ),
)
@handle_errors
def export_lorebook(
    ctx: typer.Context,
    activity_id: str = typer.Argument(..., metavar="ACTIVITY", help="Activity id (or lorebook id)."),
    output: str = typer.Option("-", "-o", "--output", help="File to write ('-': stdout)."),
    fmt: str = typer.Option("worldinfo", "--format", help="worldinfo (SillyTavern) or book (character_book)."),
    lorebook_id: str | None = typer.Option(None, "--lorebook", help="Which of the activity's lorebooks."),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite an existing file."),
) -> None:
    """Export an activity's lorebook as SillyTavern world-info JSON."""
    if fmt not in ("worldinfo", "book"):
        fail(f"--format: {fmt!r} is not worldinfo or book")
    lid = lorebook_id or _lorebook_ids(ctx, activity_id)[0]
    doc = _call(ctx, "GET", f"{ADMIN}/lorebooks/{_seg(lid)}", params={"format": fmt}).json()
    if fmt == "book":
        doc.pop("id", None)
        doc.pop("activity_id", None)
    data = (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    target = _write_file(output, data, force)
    if target is not None:
        kind = "world-info" if fmt == "worldinfo" else "character_book"
        print(f"wrote {kind} JSON of lorebook {lid} to {target} ({len(data)} bytes)", file=sys.stderr)


@lorebook_app.command(
    "list",
    epilog="Examples:\n\n  phantom admin lorebook list act_luna\n\n  phantom admin lorebook list   (all)",
)
@handle_errors
def lorebook_list(
    ctx: typer.Context,
    activity_id: str | None = typer.Argument(None, metavar="[ACTIVITY]", help="Activity id (default: all)."),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """List lorebooks: an activity's, or all."""
    out = output_mode(ctx, json_, jq)
    if activity_id is None:
        books = _call(ctx, "GET", f"{ADMIN}/lorebooks").json()["data"]
    else:
        books = _activity_lorebooks(ctx, activity_id)
    if out.json:
        out.emit_json(books)
        return
    out.rows(books, _lorebook_columns())
    if not books:
        out.note("no lorebooks" + (f" for activity {activity_id}" if activity_id else ""))


@lorebook_app.command(
    "show",
    epilog=(
        "Examples:\n\n  phantom admin lorebook show act_luna\n\n"
        "  phantom admin lorebook show lb_abc --json"
    ),
)
@handle_errors
def lorebook_show(
    ctx: typer.Context,
    activity_id: str = typer.Argument(..., metavar="ACTIVITY", help="Activity id (or lorebook id)."),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Show the entries of an activity's lorebooks (keys, logic, position, order)."""
    from phantom_cli.backend.content.lore import entry_logic, entry_position, entry_probability
    from phantom_cli.cli.output import col

    out = output_mode(ctx, json_, jq)
    ids = _lorebook_ids(ctx, activity_id)
    books = [_call(ctx, "GET", f"{ADMIN}/lorebooks/{_seg(i)}").json() for i in ids]
    if out.json:
        out.emit_json(books if len(books) > 1 else books[0])
        return
    for book in books:
        out.note(f"lorebook {book['id']} {book.get('name') or ''}".rstrip()
                 + f": {len(book.get('entries') or [])} entries")
        rows = []
        for i, e in enumerate(book.get("entries") or []):
            rows.append({
                "id": str(e.get("id", i)),
                "name": e.get("name") or e.get("comment") or "",
                "keys": ", ".join(map(str, e.get("keys") or [])),
                "secondary": (f"{entry_logic(e)}: " + ", ".join(map(str, e["secondary_keys"])))
                if e.get("selective") and e.get("secondary_keys") else "",
                "position": entry_position(e),
                "order": e.get("insertion_order", ""),
                "on": "constant" if e.get("constant") else ("yes" if e.get("enabled", True) else "no"),
                "prob": f"{entry_probability(e):g}%",
            })
        out.rows(rows, [
            col("ID", "id", "id", 6), col("NAME", "name", "text", 18), col("KEYS", "keys", "text", 30),
            col("SECONDARY", "secondary", "text", 22), col("POSITION", "position", "text", 11),
            col("ORDER", "order", "text", 5), col("ON", "on", "text", 8), col("P", "prob", "text", 5),
        ])


# --------------------------------------------------------------------------- skins and NPCs


@app.command(
    "import-skins",
    epilog=(
        "Example: phantom admin import-skins skins.json\n\n"
        'File: {"skins": [{"id": "skin_ada", "name": "Ada", "gender": "female", '
        '"style": "anime", "palette": ["#1b1f4b", "#3b2f63"]}]} (JSON, TOML or YAML; a list '
        "or a single skin works too). gender: female|male|non-binary; style: anime|realistic."
    ),
)
@handle_errors
def import_skins(
    ctx: typer.Context,
    file: Path = typer.Argument(..., metavar="FILE", help="The file to read."),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Create or replace skins from a file."""
    from phantom_cli.cli.output import col

    out = output_mode(ctx, json_, jq)
    doc = _load_doc(file, "skins file")
    if isinstance(doc, list):
        doc = {"skins": doc}
    elif isinstance(doc, dict) and "skins" not in doc:
        doc = {"skins": [doc]}
    if not isinstance(doc, dict) or not isinstance(doc.get("skins"), list) or not doc["skins"]:
        fail(f"skins file {file}: expected a non-empty 'skins' list")
    res = _call(ctx, "POST", f"{ADMIN}/skins", json=doc).json()
    if out.json:
        out.emit_json(res)
        return
    out.rows(
        res["data"],
        [
            col("ID", "id", "id", 30),
            col("NAME", "name", "text", 36),
            col("GENDER", "gender", "text", 10),
            col("STYLE", "style", "text", 9),
        ],
    )
    out.note(f"imported {len(res['data'])} skin(s)")


@app.command(
    "import-npc",
    epilog=(
        "Example: phantom admin import-npc merchant.toml\n\n"
        "The file is a phantom-npc/1 document (JSON or TOML): a persona and its state "
        "machines; see phantom_cli/backend/npc/README.md. An imported persona replaces a "
        "shipped one with the same id."
    ),
)
@handle_errors
def import_npc(
    ctx: typer.Context,
    file: Path = typer.Argument(..., metavar="FILE", help="The file to read."),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Import an NPC persona with its state machines."""
    out = output_mode(ctx, json_, jq)
    doc = _load_doc(file, "NPC file")
    persona = doc.get("persona") if isinstance(doc, dict) else None
    pid = persona.get("id") if isinstance(persona, dict) else None
    if not isinstance(pid, str) or not pid:
        fail(f"NPC file {file}: persona.id: required (a string)")
    res = _call(ctx, "PUT", f"{ADMIN}/npcs/{_seg(pid)}", json=doc).json()
    if out.json:
        out.emit_json(res)
        return
    machines = res.get("machines") or []
    names = [m.get("id") if isinstance(m, dict) else m for m in machines]
    out.item(
        {
            "id": res.get("id", pid),
            "name": (res.get("persona") or {}).get("name") or res.get("name"),
            "machines": ", ".join(str(n) for n in names),
        }
    )
    out.note(f"imported NPC persona {pid}")
