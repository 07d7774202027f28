"""The user's own personas: list, create, get, update, set default (exactly one default)."""

from __future__ import annotations

import sqlite3
from typing import Any

from phantom_cli.client import models as m

from ..db import new_id, now, transaction
from ..endpoints import Ctx, endpoint
from ..errors import not_found
from ..pagination import page

COLS = ("id", "name", "gender", "description", "style_preference", "is_default", "created_at", "updated_at")


def persona_wire(row: sqlite3.Row) -> dict[str, Any]:
    out = {k: row[k] for k in COLS}
    out["is_default"] = bool(out["is_default"])
    return out


def _own(conn: sqlite3.Connection, user_id: str, pid: str) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM personas WHERE id = ? AND user_id = ?", (pid, user_id)).fetchone()
    if row is None:
        raise not_found("persona", pid)
    return row


def _make_default(conn: sqlite3.Connection, user_id: str, pid: str) -> None:
    """Inside a transaction: ``pid`` becomes the only default of ``user_id``."""
    ts = now()
    conn.execute("UPDATE personas SET is_default = 0, updated_at = ? WHERE user_id = ? AND is_default = 1 AND id != ?",
                 (ts, user_id, pid))
    conn.execute("UPDATE personas SET is_default = 1, updated_at = ? WHERE id = ? AND is_default = 0", (ts, pid))


@endpoint("GET", "/api/v1/personas", scope="personas", query=m.PageQuery, response=m.Persona, paged=True,
          summary="List your personas")
async def list_personas(ctx: Ctx) -> Any:
    q: m.PageQuery = ctx.query
    rows, nxt, more = page(ctx.db, "personas", ["user_id = ?"], [ctx.user.id], limit=q.limit, cursor=q.cursor)
    return {"data": [persona_wire(r) for r in rows], "next_cursor": nxt, "has_more": more}


@endpoint("POST", "/api/v1/personas", scope="personas", body=m.PersonaCreate, response=m.Persona, status=201, idempotent=True,
          summary="Create a persona (the first one, or is_default=true, becomes the default)")
async def create_persona(ctx: Ctx) -> Any:
    b: m.PersonaCreate = ctx.body
    pid, ts = new_id("per"), now()
    with transaction(ctx.db):
        has_default = ctx.db.execute(
            "SELECT 1 FROM personas WHERE user_id = ? AND is_default = 1", (ctx.user.id,)
        ).fetchone()
        ctx.db.execute(
            "INSERT INTO personas(id, user_id, name, gender, description, style_preference, is_default,"
            " created_at, updated_at) VALUES (?,?,?,?,?,?,0,?,?)",
            (pid, ctx.user.id, b.name, b.gender, b.description, b.style_preference, ts, ts),
        )
        if b.is_default or not has_default:
            _make_default(ctx.db, ctx.user.id, pid)
    return persona_wire(_own(ctx.db, ctx.user.id, pid))


@endpoint("GET", "/api/v1/personas/{id}", scope="personas", response=m.Persona, errors=(404,),
          summary="Get a persona")
async def get_persona(ctx: Ctx) -> Any:
    return persona_wire(_own(ctx.db, ctx.user.id, ctx.params["id"]))


@endpoint("PATCH", "/api/v1/personas/{id}", scope="personas", body=m.PersonaUpdate, response=m.Persona,
          errors=(404,), summary="Update a persona's fields")
async def update_persona(ctx: Ctx) -> Any:
    row = _own(ctx.db, ctx.user.id, ctx.params["id"])
    fields = ctx.body.model_dump(exclude_unset=True)
    fields = {k: v for k, v in fields.items() if k in ("name", "gender", "description", "style_preference")}
    if "name" in fields and fields["name"] is None:
        del fields["name"]  # name is required: null leaves it unchanged
    if fields:
        sets = ", ".join(f"{k} = ?" for k in fields)  # keys from the fixed list above
        ctx.db.execute(f"UPDATE personas SET {sets}, updated_at = ? WHERE id = ?",
                       (*fields.values(), now(), row["id"]))
    return persona_wire(_own(ctx.db, ctx.user.id, row["id"]))


@endpoint("POST", "/api/v1/personas/{id}/default", scope="personas", response=m.Persona, errors=(404,),
          summary="Make this persona your default (the previous default is unset)")
async def set_default(ctx: Ctx) -> Any:
    row = _own(ctx.db, ctx.user.id, ctx.params["id"])
    with transaction(ctx.db):
        _make_default(ctx.db, ctx.user.id, row["id"])
    return persona_wire(_own(ctx.db, ctx.user.id, row["id"]))


routes = [list_personas, create_persona, get_persona, update_persona, set_default]
