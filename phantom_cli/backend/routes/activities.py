"""Activities (seed 002): published only, filters category / featured / is_companion.

Stored as the full wire JSON in ``activities.data`` plus indexed columns for the filters.
``upsert_activity`` is the one way to write one (seed loader, admin endpoints, card import).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from phantom_cli.client import models as m

from ..db import new_id, now
from ..endpoints import Ctx, endpoint, page_json
from ..errors import ApiError, not_found
from ..pagination import page, where_eq


def upsert_activity(conn: sqlite3.Connection, data: dict[str, Any], published: bool = True) -> str:
    """Insert or replace an activity (validated against ``models.Activity``); returns its id.

    Replacing keeps ``created_at`` (its place in listings). Instances keep their snapshots.
    """
    data = dict(data)
    data.setdefault("id", new_id("act"))
    try:
        act = m.Activity.model_validate(data)
    except Exception as exc:  # pydantic.ValidationError
        raise ApiError(400, message=f"activity: {exc}") from None
    wire = act.model_dump(mode="json")
    ts = now()
    conn.execute(
        "INSERT INTO activities(id, data, title, category, featured, is_companion, published, created_at, updated_at)"
        " VALUES (?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT(id) DO UPDATE SET data=excluded.data, title=excluded.title, category=excluded.category,"
        " featured=excluded.featured, is_companion=excluded.is_companion, published=excluded.published,"
        " updated_at=excluded.updated_at",
        (act.id, json.dumps(wire, ensure_ascii=False), act.title, act.category, int(act.featured),
         int(act.is_companion), int(published), ts, ts),
    )
    return act.id


def set_published(conn: sqlite3.Connection, activity_id: str, published: bool) -> bool:
    cur = conn.execute(
        "UPDATE activities SET published = ?, updated_at = ? WHERE id = ?", (int(published), now(), activity_id)
    )
    return cur.rowcount > 0


def get_published(conn: sqlite3.Connection, activity_id: str) -> dict[str, Any]:
    row = conn.execute(
        "SELECT data FROM activities WHERE id = ? AND published = 1", (activity_id,)
    ).fetchone()
    if row is None:
        raise not_found("activity", activity_id)
    return json.loads(row[0])


@endpoint("GET", "/api/v1/activities", scope="activities", query=m.ActivityQuery,
          response=m.Activity, paged=True, summary="List published activities (newest first)")
async def list_activities(ctx: Ctx) -> Any:
    q: m.ActivityQuery = ctx.query
    where, params = where_eq(
        {"category": q.category, "featured": q.featured, "is_companion": q.is_companion},
        ["published = 1"],
    )
    rows, nxt, more = page(ctx.db, "activities", where, params, limit=q.limit, cursor=q.cursor,
                           columns="id, created_at, CAST(data AS BLOB) AS data")  # bytes: no decode/encode
    return page_json([r["data"] for r in rows], nxt, more)


@endpoint("GET", "/api/v1/activities/{id}", scope="activities", response=m.Activity,
          summary="Get a published activity", errors=(404,))
async def get_activity(ctx: Ctx) -> Any:
    return get_published(ctx.db, ctx.params["id"])


routes = [list_activities, get_activity]
