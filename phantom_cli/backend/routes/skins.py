"""Skins: list with gender / style filters, get.

The seed loader and the admin routes write skins with ``content.upsert_skin`` (validated by
``content.validate_skin``); ``upsert_skin`` here stores any ``models.Skin`` as is (tests).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from phantom_cli.client import models as m

from ..db import new_id, now
from ..endpoints import Ctx, endpoint
from ..errors import ApiError, not_found
from ..pagination import page, where_eq


def upsert_skin(conn: sqlite3.Connection, data: dict[str, Any]) -> str:
    """Insert or replace a skin (validated against ``models.Skin``); returns its id."""
    data = dict(data)
    data.setdefault("id", new_id("skin"))
    try:
        skin = m.Skin.model_validate(data)
    except Exception as exc:  # pydantic.ValidationError
        raise ApiError(400, message=f"skin: {exc}") from None
    conn.execute(
        "INSERT INTO skins(id, name, gender, style, cover_photo_url, data, created_at) VALUES (?,?,?,?,?,?,?)"
        " ON CONFLICT(id) DO UPDATE SET name=excluded.name, gender=excluded.gender, style=excluded.style,"
        " cover_photo_url=excluded.cover_photo_url, data=excluded.data",
        (skin.id, skin.name, skin.gender, skin.style, skin.cover_photo_url,
         json.dumps(skin.model_dump(mode="json"), ensure_ascii=False), now()),
    )
    return skin.id


def skin_wire(row: sqlite3.Row) -> dict[str, Any]:
    extra = json.loads(row["data"] or "{}")
    return {**extra, **{k: row[k] for k in ("id", "name", "gender", "style", "cover_photo_url")}}


@endpoint("GET", "/api/v1/skins", scope="skins", query=m.SkinQuery, response=m.Skin, paged=True,
          summary="List skins")
async def list_skins(ctx: Ctx) -> Any:
    q: m.SkinQuery = ctx.query
    where, params = where_eq({"gender": q.gender, "style": q.style})
    rows, nxt, more = page(ctx.db, "skins", where, params, limit=q.limit, cursor=q.cursor)
    return {"data": [skin_wire(r) for r in rows], "next_cursor": nxt, "has_more": more}


@endpoint("GET", "/api/v1/skins/{id}", scope="skins", response=m.Skin, errors=(404,), summary="Get a skin")
async def get_skin(ctx: Ctx) -> Any:
    row = ctx.db.execute("SELECT * FROM skins WHERE id = ?", (ctx.params["id"],)).fetchone()
    if row is None:
        raise not_found("skin", ctx.params["id"])
    return skin_wire(row)


routes = [list_skins, get_skin]
