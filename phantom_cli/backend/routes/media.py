"""The user's media collection (camelCase wire fields, as seed 002).

The shared ``media`` table holds every medium (seeded, generated, uploaded); a medium is visible
to a user when it has no owner (``user_id`` NULL) or is theirs. ``add_to_collection`` is the one
way to link a medium to a user (the generation worker uses it with ``relationType="generated"``).
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

TABLE = "media_collection c JOIN media md ON md.id = c.media_id"
COLUMNS = ("c.id AS id, c.created_at AS created_at, c.media_id, c.relation_type, c.is_favorite,"
           " c.metadata, md.type AS media_type, md.url AS url")


def item_wire(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "mediaId": row["media_id"],
        "mediaType": row["media_type"],
        "cdnUrl": row["url"],
        "relationType": row["relation_type"],
        "isFavorite": bool(row["is_favorite"]),
        "createdAt": row["created_at"],
        "metadata": json.loads(row["metadata"]) if row["metadata"] else None,
    }


def get_item(conn: sqlite3.Connection, user_id: str, item_id: str) -> dict[str, Any]:
    row = conn.execute(f"SELECT {COLUMNS} FROM {TABLE} WHERE c.id = ? AND c.user_id = ?",
                       (item_id, user_id)).fetchone()
    if row is None:
        raise not_found("collection item", item_id)
    return item_wire(row)


def add_to_collection(
    conn: sqlite3.Connection, user_id: str, media_id: str, relation_type: str = "favorited",
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Link a visible medium to the user's collection; 404 unknown, 409 already there."""
    media = conn.execute(
        "SELECT id FROM media WHERE id = ? AND (user_id IS NULL OR user_id = ?)", (media_id, user_id)
    ).fetchone()
    if media is None:
        raise not_found("media", media_id)
    cid = new_id("col")
    try:
        conn.execute(
            "INSERT INTO media_collection(id, user_id, media_id, relation_type, is_favorite, metadata, created_at)"
            " VALUES (?,?,?,?,?,?,?)",
            (cid, user_id, media_id, relation_type, 0, json.dumps(metadata) if metadata else None, now()),
        )
    except sqlite3.IntegrityError:
        raise ApiError(409, message=f"media {media_id!r} is already in your collection") from None
    return get_item(conn, user_id, cid)


@endpoint("GET", "/api/v1/media/collection", scope="media", query=m.MediaQuery, response=m.MediaItem,
          paged=True, summary="List your media collection")
async def list_collection(ctx: Ctx) -> Any:
    q: m.MediaQuery = ctx.query
    where, params = where_eq(
        {"md.type": q.type, "c.is_favorite": q.favorite, "c.relation_type": q.relationType},
        ["c.user_id = ?"], [ctx.user.id],
    )
    rows, nxt, more = page(ctx.db, TABLE, where, params, limit=q.limit, cursor=q.cursor, columns=COLUMNS,
                           created_col="c.created_at", id_col="c.id")
    return {"data": [item_wire(r) for r in rows], "next_cursor": nxt, "has_more": more}


@endpoint("POST", "/api/v1/media/collection", scope="media", body=m.MediaAdd, response=m.MediaItem,
          status=201, errors=(404, 409), idempotent=True, summary="Add a medium to your collection")
async def add(ctx: Ctx) -> Any:
    b: m.MediaAdd = ctx.body
    return add_to_collection(ctx.db, ctx.user.id, b.mediaId, b.relationType)


@endpoint("PATCH", "/api/v1/media/collection/{id}", scope="media", body=m.MediaUpdate, response=m.MediaItem,
          errors=(404,), summary="Set favourite / metadata of a collection item")
async def update(ctx: Ctx) -> Any:
    b: m.MediaUpdate = ctx.body
    item = get_item(ctx.db, ctx.user.id, ctx.params["id"])
    if b.isFavorite is not None:
        ctx.db.execute("UPDATE media_collection SET is_favorite = ? WHERE id = ?", (int(b.isFavorite), item["id"]))
    if b.metadata is not None:
        ctx.db.execute("UPDATE media_collection SET metadata = ? WHERE id = ?", (json.dumps(b.metadata), item["id"]))
    return get_item(ctx.db, ctx.user.id, item["id"])


routes = [list_collection, add, update]
