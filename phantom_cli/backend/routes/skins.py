"""Skins: list with gender / style filters, get.

Skins are written in one place: ``content.upsert_skin`` (input checked by
``content.validate_skin``), used by the seed loader, the admin routes and the tests.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from phantom_cli.client import models as m

from ..endpoints import Ctx, endpoint
from ..errors import not_found
from ..pagination import page, where_eq


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
