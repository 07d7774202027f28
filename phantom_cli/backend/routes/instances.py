"""Activity instances, their messages and the streamed instance chat (seed 002).

An instance snapshots its activity at creation (later edits of the activity do not change it),
belongs to one user (another user's instance is 404), and ``GET`` bumps ``last_accessed_at``.
An archived instance refuses new messages and chat turns (409).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

from phantom_cli.client import models as m

from ..db import new_id, now, transaction
from ..endpoints import ClosingStreamingResponse, Ctx, endpoint, page_json
from ..errors import ApiError, in_context, not_found
from ..pagination import page, where_eq
from .activities import get_published

log = logging.getLogger("phantom.backend.instances")

SNAPSHOT_FIELDS = (
    "title", "description", "short_description", "scenario", "example_dialogue",
    "listing_image_url", "secondary_image_urls", "category", "subcategory", "personality",
    "first_message", "system_prompt", "post_history_instructions", "alternate_greetings",
)  # fmt: skip
CHAT_WINDOW = 40  # most recent messages handed to prompt assembly


def snapshot(activity: dict[str, Any]) -> dict[str, Any]:
    snap = {f"snapshot_{k}": activity.get(k) for k in SNAPSHOT_FIELDS}
    lore = activity.get("lorebook_ids")
    if lore is None and isinstance(activity.get("lorebook"), dict):
        lore = [str(e.get("id")) for e in activity["lorebook"].get("entries", []) if e.get("id") is not None]
    snap["snapshot_lorebook_ids"] = list(lore) if isinstance(lore, list) else None
    return snap


def instance_wire(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "activity_id": row["activity_id"],
        **json.loads(row["data"]),
        "assigned_voice_id": row["assigned_voice_id"],
        "status": row["status"],
        "last_accessed_at": row["last_accessed_at"],
        "created_at": row["created_at"],
    }


def own_instance(conn: sqlite3.Connection, user_id: str, instance_id: str) -> sqlite3.Row:
    row = conn.execute(
        "SELECT * FROM activity_instances WHERE id = ? AND user_id = ?", (instance_id, user_id)
    ).fetchone()
    if row is None:
        raise not_found("activity instance", instance_id)
    return row


def message_wire(row: sqlite3.Row) -> dict[str, Any]:
    return {k: row[k] for k in ("id", "role", "medium", "content", "created_at")}


def insert_message(conn: sqlite3.Connection, instance_id: str, role: str, medium: str, content: str) -> dict[str, Any]:
    ts = now()
    mid = new_id("msg")
    conn.execute(
        "INSERT INTO messages(id, instance_id, role, medium, content, created_at, updated_at)"
        " VALUES (?,?,?,?,?,?,?)",
        (mid, instance_id, role, medium, content, ts, ts),
    )
    # seed 002: creating a message updates the instance's last_accessed_at
    conn.execute("UPDATE activity_instances SET last_accessed_at = ? WHERE id = ?", (ts, instance_id))
    return {"id": mid, "role": role, "medium": medium, "content": content, "created_at": ts}


def _refuse_archived(row: sqlite3.Row) -> None:
    if row["status"] == "archived":
        raise ApiError(409, message=f"activity instance {row['id']!r} is archived: it accepts no new messages")


# --------------------------------------------------------------------------- instances


@endpoint("GET", "/api/v1/activity-instances", scope="instances", query=m.InstanceQuery,
          response=m.ActivityInstance, paged=True, summary="List your activity instances")
async def list_instances(ctx: Ctx) -> Any:
    q: m.InstanceQuery = ctx.query
    where, params = where_eq({"status": q.status, "activity_id": q.activity_id},
                             ["user_id = ?"], [ctx.user.id])
    rows, nxt, more = page(ctx.db, "activity_instances", where, params, limit=q.limit, cursor=q.cursor)
    return page_json([json.dumps(instance_wire(r), ensure_ascii=False) for r in rows], nxt, more)


@endpoint("POST", "/api/v1/activity-instances", scope="instances", body=m.InstanceCreate,
          response=m.ActivityInstance, status=201, errors=(404,),
          summary="Start an instance of a published activity (snapshots the activity)")
async def create_instance(ctx: Ctx) -> Any:
    b: m.InstanceCreate = ctx.body
    activity = get_published(ctx.db, b.activity_id)
    iid, ts = new_id("inst"), now()
    ctx.db.execute(
        "INSERT INTO activity_instances(id, user_id, activity_id, data, status, assigned_voice_id,"
        " last_accessed_at, created_at) VALUES (?,?,?,?,?,?,?,?)",
        (iid, ctx.user.id, b.activity_id, json.dumps(snapshot(activity), ensure_ascii=False), "active",
         b.assigned_voice_id, ts, ts),
    )
    return instance_wire(own_instance(ctx.db, ctx.user.id, iid))


@endpoint("GET", "/api/v1/activity-instances/{id}", scope="instances", response=m.ActivityInstance,
          errors=(404,), summary="Get one of your instances (bumps last_accessed_at)")
async def get_instance(ctx: Ctx) -> Any:
    row = own_instance(ctx.db, ctx.user.id, ctx.params["id"])
    ctx.db.execute("UPDATE activity_instances SET last_accessed_at = ? WHERE id = ?", (now(), row["id"]))
    return instance_wire(own_instance(ctx.db, ctx.user.id, row["id"]))


@endpoint("PATCH", "/api/v1/activity-instances/{id}", scope="instances", body=m.InstanceUpdate,
          response=m.ActivityInstance, errors=(404,), summary="Change the voice or archive an instance")
async def update_instance(ctx: Ctx) -> Any:
    b: m.InstanceUpdate = ctx.body
    row = own_instance(ctx.db, ctx.user.id, ctx.params["id"])
    with transaction(ctx.db):
        if b.assigned_voice_id is not None:
            ctx.db.execute("UPDATE activity_instances SET assigned_voice_id = ? WHERE id = ?",
                           (b.assigned_voice_id, row["id"]))
        if b.status is not None:
            ctx.db.execute("UPDATE activity_instances SET status = ? WHERE id = ?", (b.status, row["id"]))
    return instance_wire(own_instance(ctx.db, ctx.user.id, row["id"]))


# --------------------------------------------------------------------------- messages

MSGS = "/api/v1/activity-instances/{instance_id}/messages"


@endpoint("GET", MSGS, scope="instances", query=m.MessageQuery, response=m.Message, paged=True,
          errors=(404,), summary="List an instance's messages (newest first)")
async def list_messages(ctx: Ctx) -> Any:
    q: m.MessageQuery = ctx.query
    inst = own_instance(ctx.db, ctx.user.id, ctx.params["instance_id"])
    where, params = where_eq({"role": q.role, "medium": q.medium}, ["instance_id = ?"], [inst["id"]])
    rows, nxt, more = page(ctx.db, "messages", where, params, limit=q.limit, cursor=q.cursor)
    return page_json([json.dumps(message_wire(r), ensure_ascii=False) for r in rows], nxt, more)


@endpoint("POST", MSGS, scope="instances", body=m.MessageCreate, response=m.Message, status=201,
          errors=(404, 409), summary="Add a message (archived instance → 409)")
async def create_message(ctx: Ctx) -> Any:
    b: m.MessageCreate = ctx.body
    inst = own_instance(ctx.db, ctx.user.id, ctx.params["instance_id"])
    _refuse_archived(inst)
    return insert_message(ctx.db, inst["id"], b.role, b.medium, b.content)


def _own_message(ctx: Ctx) -> sqlite3.Row:
    inst = own_instance(ctx.db, ctx.user.id, ctx.params["instance_id"])
    row = ctx.db.execute(
        "SELECT * FROM messages WHERE id = ? AND instance_id = ?", (ctx.params["message_id"], inst["id"])
    ).fetchone()
    if row is None:
        raise not_found("message", ctx.params["message_id"])
    return row


@endpoint("GET", MSGS + "/{message_id}", scope="instances", response=m.Message, errors=(404,),
          summary="Get a message")
async def get_message(ctx: Ctx) -> Any:
    return message_wire(_own_message(ctx))


@endpoint("PATCH", MSGS + "/{message_id}", scope="instances", body=m.MessageUpdate, response=m.Message,
          errors=(404,), summary="Edit a message's content")
async def update_message(ctx: Ctx) -> Any:
    row = _own_message(ctx)
    ctx.db.execute("UPDATE messages SET content = ?, updated_at = ? WHERE id = ?",
                   (ctx.body.content, now(), row["id"]))
    return message_wire(_own_message(ctx))


# --------------------------------------------------------------------------- streamed chat


def _user_turn(conn: sqlite3.Connection, inst_id: str, content: str, medium: str) -> dict[str, Any]:
    """Save the user's message — unless it is a retry of the last, still unanswered one.

    A stream cut mid-way saves no assistant message; the client's retry sends the same text
    again, which then reuses that message instead of duplicating it.
    """
    with transaction(conn):
        last = conn.execute(
            "SELECT * FROM messages WHERE instance_id = ? ORDER BY created_at DESC, id DESC LIMIT 1", (inst_id,)
        ).fetchone()
        if last is not None and last["role"] == "user" and last["content"] == content and last["medium"] == medium:
            return message_wire(last)
        return insert_message(conn, inst_id, "user", medium, content)


def _add_lore(conn: sqlite3.Connection, prompt: Any, lorebook_ids: list[str] | None, texts: list[str]) -> None:
    """Add the lorebook entries this turn activates (snapshot_lorebook_ids) to the system prompt."""
    if not lorebook_ids:
        return
    from phantom_cli.backend.content import lorebook_entries_for
    from phantom_cli.backend.engines import PromptMessage

    entries = lorebook_entries_for(conn, lorebook_ids, texts)
    if not entries:
        return
    lore = "\n".join(str(e.get("content", "")).strip() for e in entries if e.get("content"))
    if prompt.messages and prompt.messages[0].role == "system":
        prompt.messages[0] = PromptMessage("system", f"{prompt.messages[0].content}\n\nWorld info:\n{lore}")
    else:
        prompt.messages.insert(0, PromptMessage("system", f"World info:\n{lore}"))
    prompt.context["lore"] = [str(e.get("content", "")) for e in entries]


@endpoint("POST", "/api/v1/activity-instances/{instance_id}/chat", scope="instances",
          body=m.InstanceChatRequest, media_type="text/plain", errors=(404, 409),
          summary="Chat in an instance: the reply streams as text/plain chunks")
async def chat(ctx: Ctx) -> Any:
    from phantom_cli.backend import prompts
    from phantom_cli.backend.engines import EngineUnavailable, get_engine

    b: m.InstanceChatRequest = ctx.body
    inst = own_instance(ctx.db, ctx.user.id, ctx.params["instance_id"])
    _refuse_archived(inst)
    if b.skin_id is not None and ctx.db.execute(
        "SELECT 1 FROM skins WHERE id = ?", (b.skin_id,)
    ).fetchone() is None:
        # skin_id scopes play-mode XP (seed 002): an unknown skin is refused, not ignored
        raise not_found("skin", b.skin_id)
    medium = b.medium or "text"
    _user_turn(ctx.db, inst["id"], b.content, medium)
    recent = ctx.db.execute(
        "SELECT role, content FROM (SELECT role, content, created_at, id FROM messages WHERE instance_id = ?"
        " ORDER BY created_at DESC, id DESC LIMIT ?) ORDER BY created_at, id",
        (inst["id"], CHAT_WINDOW),
    ).fetchall()
    wire = instance_wire(inst)
    prompt = prompts.instance_prompt(wire, [dict(r) for r in recent])
    _add_lore(ctx.db, prompt, wire.get("snapshot_lorebook_ids"), [r["content"] for r in recent])
    settings = ctx.settings
    try:
        engine = get_engine(settings)
        stream = engine.stream(prompt, temperature=0.8, max_tokens=None, seed=settings.seed)
        first = await anext(stream, None)
    except EngineUnavailable as exc:
        raise ApiError(503, message=in_context("engine unavailable", exc.message)) from None
    db = ctx.db
    inst_id = inst["id"]

    async def body() -> AsyncIterator[str]:
        parts: list[str] = []
        completed = False
        try:
            if first is not None:
                parts.append(first)
                yield first
            async for chunk in stream:
                parts.append(chunk)
                yield chunk
            completed = True
        except EngineUnavailable as exc:
            log.warning("engine failed mid-stream on instance %s: %s", inst_id, exc.message)
            raise  # the connection is cut: the client sees an interrupted stream, nothing is saved
        finally:
            await stream.aclose()
            if completed:
                # saved only once the whole reply went out: a cut stream leaves nothing half-written
                insert_message(db, inst_id, "assistant", "text", "".join(parts))

    return ClosingStreamingResponse(
        body(), media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


routes = [
    list_instances, create_instance, get_instance, update_instance,
    list_messages, create_message, get_message, update_message, chat,
]  # fmt: skip
