"""Local admin (scope ``admin``): author activities, cards, skins and NPC personas.

Local extension, served only by the embedded backend, under ``/api/v1/local/admin``:

====== ============================================= ==============================================
GET    /activities                                   every activity, published or not (paged)
POST   /activities                                   create (201); body: activity fields + published
GET    /activities/{id}                              one activity, published or not
PATCH  /activities/{id}                              change fields (published too)
DELETE /activities/{id}                              delete (instances keep their snapshots)
POST   /activities/{id}/publish | /unpublish         publish / unpublish
POST   /cards                                        import a card: ``{"card": {…}}`` or
                                                     ``{"png_base64": "…"}`` (+ published, id, …)
GET    /activities/{id}/card?format=v2|v3&png=false  export: card JSON, or image/png with both
                                                     ``chara`` (V2) and ``ccv3`` (V3) chunks
POST   /skins                                        create/replace skins ``{"skins": [...]}``
POST   /lorebooks                                    import a lorebook (201): ``{"lorebook": {…},
                                                     "activity_id"?, "name"?, "id"?}`` — SillyTavern
                                                     world info (``entries`` map), a V2/V3
                                                     ``character_book``, or a card carrying one;
                                                     with ``activity_id`` it is added to that
                                                     activity's ``lorebook_ids``
GET    /lorebooks?activity_id=                       lorebooks (summaries: id, name, entries, …)
GET    /lorebooks/{id}?format=book|worldinfo         one lorebook: stored (character_book shape)
                                                     or as SillyTavern world-info JSON
====== ============================================= ==============================================

NPC personas: ``PUT /api/v1/local/admin/npcs/{persona_id}`` (routes/npc.py).

Start-up (``startup``) loads the shipped seed content (``phantom_cli.backend.content``) unless
``settings.load_seed_content`` is off.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, create_model

from phantom_cli.client import models as m

from .. import cards
from .. import content as ct
from ..db import transaction
from ..endpoints import Ctx, endpoint, page_json, read_json, validate_body
from ..errors import ApiError, not_found
from ..pagination import page, where_eq
from .activities import set_published

BASE = "/api/v1/local/admin"
MAX_ADMIN_BODY = cards.MAX_PNG_BYTES * 4 // 3 + 65536  # a base64 PNG card and its options
TEXT_MAX = cards.MAX_TEXT_FIELD
LIST_MAX = cards.MAX_LIST_ITEMS
ListItem = Annotated[str, Field(max_length=TEXT_MAX)]


def _field_spec(name: str, annotation: Any) -> tuple[Any, Any]:
    if name == "id":
        return (str | None, Field(default=None, pattern=m.ID_PATTERN, max_length=128))
    if name == "title":
        return (str | None, Field(default=None, min_length=1, max_length=cards.MAX_NAME))
    options = set(get_args(annotation)) or {annotation}
    if any(get_origin(a) is list for a in options):
        return (list[ListItem] | None, Field(default=None, max_length=LIST_MAX))
    if bool in options:
        return (bool | None, None)
    return (str | None, Field(default=None, max_length=TEXT_MAX))


class _WriteBase(BaseModel):
    model_config = ConfigDict(extra="forbid")


#: every seed-002 activity field, optional, with limits (PATCH body; POST requires title)
ActivityFields: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "ActivityFields",
    __base__=_WriteBase,
    published=(bool | None, None),
    character_book=(dict[str, Any] | None, None),
    **{name: _field_spec(name, info.annotation) for name, info in m.Activity.model_fields.items()},
)


class CardImport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    card: dict[str, Any] | None = None
    png_base64: str | None = None
    id: str | None = Field(default=None, pattern=m.ID_PATTERN, max_length=128)
    published: bool = False
    category: str | None = Field(default=None, max_length=100)
    is_companion: bool | None = None
    featured: bool | None = None


class CardQuery(BaseModel):
    format: Literal["v2", "v3"] = "v3"
    png: bool = False


class AdminListQuery(m.PageQuery):
    published: bool | None = None


async def _json_body(ctx: Ctx) -> Any:
    return await read_json(ctx.request, MAX_ADMIN_BODY)


def _validate(model: type[BaseModel], data: Any) -> Any:
    return validate_body(model, data, strict=False)


def _admin_view(conn: Any, activity_id: str) -> dict[str, Any]:
    data = ct.activity_any(conn, activity_id)
    if data is None:
        raise not_found("activity", activity_id)
    return data


def _card_error(exc: cards.CardError) -> ApiError:
    return ApiError(
        400,
        message=f"card: {exc}",
        details=[{"loc": ["body", "card", *exc.where.split(".")], "msg": exc.problem}],
    )


def _lorebook_from(fields: dict[str, Any]) -> dict[str, Any] | None:
    book = fields.get("character_book")
    if book is None:
        return None
    try:
        return cards.parse_lorebook(book, "character_book")
    except cards.CardError as exc:
        raise ApiError(
            400,
            message=str(exc),
            details=[{"loc": ["body", *exc.where.split(".")], "msg": exc.problem}],
        ) from None


# --------------------------------------------------------------------------- activities


@endpoint(
    "GET",
    f"{BASE}/activities",
    scope="admin",
    query=AdminListQuery,
    response=m.Activity,
    paged=True,
    summary="Every activity, published or not (local admin)",
)
async def list_activities(ctx: Ctx) -> Any:
    q: AdminListQuery = ctx.query
    where, params = where_eq({"published": q.published})
    rows, nxt, more = page(
        ctx.db,
        "activities",
        where,
        params,
        limit=q.limit,
        cursor=q.cursor,
        columns="id, created_at, published, data",
    )
    items = []
    for r in rows:
        d = json.loads(r["data"])
        d["published"] = bool(r["published"])
        items.append(json.dumps(d, ensure_ascii=False))
    return page_json(items, nxt, more)


@endpoint(
    "POST",
    f"{BASE}/activities",
    scope="admin",
    response=m.Activity,
    status=201,
    errors=(400, 409),
    summary="Create an activity (local admin)",
)
async def create_activity(ctx: Ctx) -> Any:
    body = _validate(ActivityFields, await _json_body(ctx))
    fields = body.model_dump(exclude_none=True)
    if not fields.get("title"):
        raise ApiError(
            400,
            message="title: required (1-200 characters)",
            details=[{"loc": ["body", "title"], "msg": "required"}],
        )
    if fields.get("id") and ct.activity_row(ctx.db, fields["id"]) is not None:
        raise ApiError(409, message=f"activity {fields['id']!r} already exists (PATCH it instead)")
    book = _lorebook_from(fields)
    with transaction(ctx.db):
        aid = ct.write_activity(
            ctx.db, fields, published=bool(fields.get("published", False)), lorebook=book
        )
    return _admin_view(ctx.db, aid)


@endpoint(
    "GET",
    f"{BASE}/activities/{{id}}",
    scope="admin",
    response=m.Activity,
    errors=(404,),
    summary="One activity, published or not (local admin)",
)
async def get_activity(ctx: Ctx) -> Any:
    return _admin_view(ctx.db, ctx.params["id"])


@endpoint(
    "PATCH",
    f"{BASE}/activities/{{id}}",
    scope="admin",
    response=m.Activity,
    errors=(400, 404),
    summary="Change an activity's fields (local admin)",
)
async def update_activity(ctx: Ctx) -> Any:
    aid = ctx.params["id"]
    body = _validate(ActivityFields, await _json_body(ctx))
    changes = body.model_dump(exclude_unset=True)
    if "id" in changes and changes["id"] != aid:
        raise ApiError(
            400,
            message="id: cannot be changed",
            details=[{"loc": ["body", "id"], "msg": "cannot be changed"}],
        )
    current = _admin_view(ctx.db, aid)
    was_published = bool(current.pop("published"))
    flag = changes.pop("published", None)
    published = was_published if flag is None else bool(flag)
    book = _lorebook_from(changes)
    changes.pop("character_book", None)
    merged = {**current, **changes, "id": aid}
    if book is not None:
        merged.pop("lorebook_ids", None)
    with transaction(ctx.db):
        ct.write_activity(
            ctx.db,
            merged,
            published=published,
            lorebook=book,
            lorebook_id=(current.get("lorebook_ids") or [None])[0],
        )
    return _admin_view(ctx.db, aid)


@endpoint(
    "DELETE",
    f"{BASE}/activities/{{id}}",
    scope="admin",
    status=204,
    errors=(404,),
    summary="Delete an activity (instances keep their snapshots; local admin)",
)
async def delete_activity(ctx: Ctx) -> Any:
    aid = ctx.params["id"]
    with transaction(ctx.db):
        cur = ctx.db.execute("DELETE FROM activities WHERE id = ?", (aid,))
        if cur.rowcount == 0:
            raise not_found("activity", aid)
        ctx.db.execute("DELETE FROM activity_card_extra WHERE activity_id = ?", (aid,))
    return None


def _publish(flag: bool) -> Any:
    async def handler(ctx: Ctx) -> Any:
        aid = ctx.params["id"]
        if not set_published(ctx.db, aid, flag):
            raise not_found("activity", aid)
        return _admin_view(ctx.db, aid)

    handler.__name__ = "publish_activity" if flag else "unpublish_activity"
    return handler


publish_activity = endpoint(
    "POST",
    f"{BASE}/activities/{{id}}/publish",
    scope="admin",
    response=m.Activity,
    errors=(404,),
    summary="Publish an activity (local admin)",
)(_publish(True))
unpublish_activity = endpoint(
    "POST",
    f"{BASE}/activities/{{id}}/unpublish",
    scope="admin",
    response=m.Activity,
    errors=(404,),
    summary="Unpublish an activity (local admin)",
)(_publish(False))


# --------------------------------------------------------------------------- cards


def import_card(conn: Any, body: CardImport) -> dict[str, Any]:
    """Parse and store a card; returns the admin view of the new activity."""
    if (body.card is None) == (body.png_base64 is None):
        raise ApiError(
            400,
            message="body: give exactly one of card or png_base64",
            details=[{"loc": ["body"], "msg": "give exactly one of card or png_base64"}],
        )
    try:
        if body.card is not None:
            card = cards.parse_card_obj(body.card)
        else:
            try:
                png = base64.b64decode(body.png_base64 or "", validate=True)
            except (binascii.Error, ValueError):
                raise ApiError(
                    400,
                    message="png_base64: not valid base64",
                    details=[{"loc": ["body", "png_base64"], "msg": "not valid base64"}],
                ) from None
            card = cards.parse_card(png)
    except cards.CardError as exc:
        raise _card_error(exc) from None
    fields = dict(card.activity)
    if body.id:
        if ct.activity_row(conn, body.id) is not None:
            raise ApiError(409, message=f"activity {body.id!r} already exists")
        fields["id"] = body.id
    fields["category"] = body.category or "companion"
    fields["is_companion"] = True if body.is_companion is None else body.is_companion
    if body.featured is not None:
        fields["featured"] = body.featured
    if fields.get("description"):
        first = re.split(r"(?<=[.!?])\s", fields["description"].strip(), maxsplit=1)[0]
        fields["short_description"] = first[:280]
    with transaction(conn):
        aid = ct.write_activity(conn, fields, published=body.published, lorebook=card.lorebook)
        conn.execute(
            "INSERT INTO activity_card_extra(activity_id, extra, image) VALUES (?,?,?)"
            " ON CONFLICT(activity_id) DO UPDATE SET extra = excluded.extra, image = excluded.image",
            (
                aid,
                json.dumps({"spec": card.spec, **card.extra}, ensure_ascii=False),
                card.image_png,
            ),
        )
    out = _admin_view(conn, aid)
    out["imported_from"] = card.source
    out["card_spec"] = card.spec
    return out


@endpoint(
    "POST",
    f"{BASE}/cards",
    scope="admin",
    response=m.Activity,
    status=201,
    errors=(400, 409, 413),
    summary="Import a V2/V3 character card, JSON or PNG (local admin)",
)
async def post_card(ctx: Ctx) -> Any:
    body = _validate(CardImport, await _json_body(ctx))
    return import_card(ctx.db, body)


def export_card(conn: Any, activity_id: str, fmt: str, png: bool) -> tuple[bytes, str]:
    act = _admin_view(conn, activity_id)
    act.pop("published", None)
    book = ct.activity_lorebook(conn, act)
    row = conn.execute(
        "SELECT extra, image FROM activity_card_extra WHERE activity_id = ?", (activity_id,)
    ).fetchone()
    extra = json.loads(row["extra"]) if row is not None else {}
    extra.pop("spec", None)
    if png:
        image = row["image"] if row is not None else None
        return cards.export_png(act, lorebook=book, extra=extra, image_png=image), "image/png"
    card = cards.build_card(act, fmt=fmt, lorebook=book, extra=extra)  # type: ignore[arg-type]
    return cards.card_json(card).encode("utf-8"), "application/json"


@endpoint(
    "GET",
    f"{BASE}/activities/{{id}}/card",
    scope="admin",
    query=CardQuery,
    errors=(404,),
    summary="Export an activity as a V2/V3 card (JSON, or PNG with chara + ccv3 chunks)",
)
async def get_card(ctx: Ctx) -> Any:
    from starlette.responses import Response

    from ..app import run_in_thread

    q: CardQuery = ctx.query
    aid = ctx.params["id"]
    _admin_view(ctx.db, aid)  # 404 first
    if q.png:
        from ..db import connect

        def work() -> tuple[bytes, str]:
            conn = connect(ctx.settings.db_path)
            try:
                return export_card(conn, aid, q.format, True)
            finally:
                conn.close()

        data, mt = await run_in_thread(work)
    else:
        data, mt = export_card(ctx.db, aid, q.format, False)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", aid)
    ext = "png" if q.png else "json"
    return Response(
        data, media_type=mt, headers={"Content-Disposition": f'attachment; filename="{safe}.{ext}"'}
    )


# --------------------------------------------------------------------------- skins
# (NPC personas are imported with ``PUT /api/v1/local/admin/npcs/{id}``, routes/npc.py, which
# writes through ``content.import_npc_persona``.)


@endpoint(
    "POST",
    f"{BASE}/skins",
    scope="admin",
    status=201,
    errors=(400,),
    summary="Create or replace skins (local admin)",
)
async def post_skins(ctx: Ctx) -> Any:
    data = await _json_body(ctx)
    items = data.get("skins") if isinstance(data, dict) and "skins" in data else [data]
    if not isinstance(items, list) or not items:
        raise ApiError(
            400,
            message="skins: a non-empty list of skin objects",
            details=[{"loc": ["body", "skins"], "msg": "a non-empty list"}],
        )
    if len(items) > 1000:
        raise ApiError(400, message=f"skins: {len(items)} skins; the limit is 1000")
    try:
        clean = [ct.validate_skin(item, f"skins[{i}]") for i, item in enumerate(items)]
    except ct.ContentError as exc:
        where = str(exc).split(":", 1)[0]
        raise ApiError(
            400, message=str(exc), details=[{"loc": ["body", *where.split(".")], "msg": str(exc)}]
        ) from None
    with transaction(ctx.db):
        ids = [ct.upsert_skin(ctx.db, s) for s in clean]
    out = []
    for sid in ids:
        row = ct.skin_row(ctx.db, sid)
        out.append({k: row[k] for k in ("id", "name", "gender", "style", "cover_photo_url")})
    return {"data": out}


# --------------------------------------------------------------------------- lorebooks


class LorebookImport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lorebook: dict[str, Any]
    activity_id: str | None = Field(default=None, pattern=m.ID_PATTERN, max_length=128)
    name: str | None = Field(default=None, max_length=200)
    id: str | None = Field(default=None, pattern=m.ID_PATTERN, max_length=128)


class LorebookListQuery(BaseModel):
    activity_id: str | None = Field(default=None, max_length=128)


class LorebookQuery(BaseModel):
    format: Literal["book", "worldinfo"] = "book"


_LOREBOOK_COLUMNS = "SELECT id, activity_id, data, updated_at FROM lorebooks"


def _lorebook_row(conn: Any, lorebook_id: str) -> Any:
    """The stored lorebook row (id, activity_id, data, updated_at), or None."""
    return conn.execute(f"{_LOREBOOK_COLUMNS} WHERE id = ?", (lorebook_id,)).fetchone()


def _lorebook_summary(row: Any) -> dict[str, Any]:
    book = json.loads(row["data"])
    entries = book.get("entries") or []
    return {
        "id": row["id"],
        "activity_id": row["activity_id"],
        "name": book.get("name") or "",
        "entries": len(entries),
        "enabled": sum(1 for e in entries if e.get("enabled", True) is not False),
        "constant": sum(1 for e in entries if e.get("constant")),
        "scan_depth": book.get("scan_depth"),
        "token_budget": book.get("token_budget"),
        "updated_at": row["updated_at"],
    }


@endpoint(
    "POST",
    f"{BASE}/lorebooks",
    scope="admin",
    status=201,
    errors=(400, 404, 409, 413),
    summary="Import a lorebook: SillyTavern world info or a V2/V3 character_book (local admin)",
)
async def post_lorebook(ctx: Ctx) -> Any:
    body = _validate(LorebookImport, await _json_body(ctx))
    try:
        book, kind = cards.parse_lorebook_file(body.lorebook, name=body.name)
    except cards.CardError as exc:
        raise ApiError(
            400,
            message=f"lorebook: {exc}",
            details=[{"loc": ["body", "lorebook", *exc.where.split(".")], "msg": exc.problem}],
        ) from None
    if body.name:
        book["name"] = body.name
    act = None
    if body.activity_id is not None:
        act = _admin_view(ctx.db, body.activity_id)
    if body.id and ct.get_lorebook(ctx.db, body.id) is not None:
        raise ApiError(409, message=f"lorebook {body.id!r} already exists")
    with transaction(ctx.db):
        lid = ct.save_lorebook(ctx.db, book, body.activity_id, body.id)  # type: ignore[arg-type]
        if act is not None:
            published = bool(act.pop("published"))
            act["lorebook_ids"] = [*(act.get("lorebook_ids") or []), lid]
            ct.write_activity(ctx.db, act, published=published)
    row = _lorebook_row(ctx.db, lid)
    return {**_lorebook_summary(row), "format": kind}


@endpoint(
    "GET",
    f"{BASE}/lorebooks",
    scope="admin",
    query=LorebookListQuery,
    errors=(404,),
    summary="Lorebooks, all or one activity's (local admin)",
)
async def list_lorebooks(ctx: Ctx) -> Any:
    q: LorebookListQuery = ctx.query
    if q.activity_id is None:
        rows = ctx.db.execute(
            f"{_LOREBOOK_COLUMNS} ORDER BY created_at, id"
        ).fetchall()
    else:
        act = _admin_view(ctx.db, q.activity_id)
        ids = list(act.get("lorebook_ids") or [])
        found = {
            r["id"]: r
            for r in ctx.db.execute(
                f"{_LOREBOOK_COLUMNS} WHERE activity_id = ?"
                f" OR id IN ({','.join('?' * len(ids))})",
                (q.activity_id, *ids),
            ).fetchall()
        }
        rows = [found[i] for i in ids if i in found] + [r for i, r in found.items() if i not in ids]
    return {"data": [_lorebook_summary(r) for r in rows]}


@endpoint(
    "GET",
    f"{BASE}/lorebooks/{{id}}",
    scope="admin",
    query=LorebookQuery,
    errors=(404,),
    summary="One lorebook, stored or as SillyTavern world info (local admin)",
)
async def get_lorebook_route(ctx: Ctx) -> Any:
    q: LorebookQuery = ctx.query
    row = _lorebook_row(ctx.db, ctx.params["id"])
    if row is None:
        raise not_found("lorebook", ctx.params["id"])
    book = json.loads(row["data"])
    if q.format == "worldinfo":
        return cards.lorebook_to_worldinfo(book)
    return {"id": row["id"], "activity_id": row["activity_id"], **book}


async def load_seed_on_start(app: Any) -> None:
    """Start-up hook (registry.STARTUP): load the shipped seed content."""
    if app.state.settings.load_seed_content:
        ct.load_seed(app.state.db)


routes = [
    list_activities,
    create_activity,
    get_activity,
    update_activity,
    delete_activity,
    publish_activity,
    unpublish_activity,
    post_card,
    get_card,
    post_skins,
    post_lorebook,
    list_lorebooks,
    get_lorebook_route,
]
