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
from ..endpoints import Ctx, endpoint, page_json, stream_response
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
TURN_ID_HEADER = "X-Phantom-Turn-Id"  # local extension: GET /api/v1/local/prompts/{turn_id}


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
          response=m.ActivityInstance, status=201, errors=(404,), idempotent=True,
          summary="Start an instance of a published activity (snapshots the activity)")
async def create_instance(ctx: Ctx) -> Any:
    b: m.InstanceCreate = ctx.body
    activity = get_published(ctx.db, b.activity_id)
    greetings = [activity.get("first_message") or "", *(activity.get("alternate_greetings") or [])]
    choice = getattr(b, "greeting", None) or 0
    if choice >= len(greetings) or (choice > 0 and not greetings[choice]):
        raise ApiError(400, message=f"greeting: {choice} is out of range: this activity has "
                       f"{len(greetings) - 1} alternate greeting(s) (0 = first_message)",
                       details=[{"loc": ["body", "greeting"], "msg": f"0-{len(greetings) - 1}"}])
    iid, ts = new_id("inst"), now()
    snap = snapshot(activity)
    if choice:
        snap["snapshot_greeting_index"] = choice
    player_name = getattr(b, "player_name", None)
    if player_name and player_name.strip():
        snap["snapshot_player_name"] = player_name.strip()
    with transaction(ctx.db):
        ctx.db.execute(
            "INSERT INTO activity_instances(id, user_id, activity_id, data, status, assigned_voice_id,"
            " last_accessed_at, created_at) VALUES (?,?,?,?,?,?,?,?)",
            (iid, ctx.user.id, b.activity_id, json.dumps(snap, ensure_ascii=False), "active",
             b.assigned_voice_id, ts, ts),
        )
        greeting = greetings[choice]
        if greeting.strip():
            # SillyTavern: the greeting is the chat's first assistant message (macros expanded
            # once, here, as SillyTavern does when it starts a chat), so the model sees it
            from phantom_cli.backend import prompts
            from phantom_cli.backend.macros import substitute

            env = prompts.instance_macro_env({"id": iid, **snap}, **_user_identity(ctx.db, ctx.user, snap))
            text = substitute(greeting, env).strip()
            if text:
                insert_message(ctx.db, iid, "assistant", "text", text)
    return instance_wire(own_instance(ctx.db, ctx.user.id, iid))


def _user_identity(conn: sqlite3.Connection, user: Any, snap: dict[str, Any]) -> dict[str, str]:
    """``{{user}}`` and ``{{persona}}``: the player name the instance was created with, else the
    user's default persona's name; ``{{persona}}`` that persona's description; with neither,
    ``User`` (SillyTavern's default name)."""
    row = conn.execute(
        "SELECT name, description FROM personas WHERE user_id = ? ORDER BY is_default DESC,"
        " created_at LIMIT 1", (user.id,),
    ).fetchone()
    persona = (row["description"] or "") if row is not None else ""
    name = snap.get("snapshot_player_name") or (row["name"] if row is not None else None) or "User"
    return {"user_name": name, "persona": persona}


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
          errors=(404, 409), idempotent=True, summary="Add a message (archived instance → 409)")
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
    """Save the user's message of a turn; ``_drop_turn`` removes it if no reply follows.

    Every send is its own turn: two sends of the same text are two messages. A retry of the
    same send is recognised by its ``Idempotency-Key`` only (see ``idempotency``).
    """
    with transaction(conn):
        return insert_message(conn, inst_id, "user", medium, content)


def _drop_turn(conn: sqlite3.Connection, message_id: str) -> None:
    """A turn that got no reply (engine failure) leaves nothing: its user message goes too."""
    try:
        conn.execute("DELETE FROM messages WHERE id = ?", (message_id,))
    except Exception:  # noqa: BLE001 - the db may be closed at shutdown
        log.debug("could not drop unanswered message %s", message_id, exc_info=True)


@endpoint("POST", "/api/v1/activity-instances/{instance_id}/chat", scope="instances",
          body=m.InstanceChatRequest, media_type="text/plain", errors=(404, 409), idempotent=True,
          summary="Chat in an instance: the reply streams as text/plain chunks")
async def chat(ctx: Ctx) -> Any:
    from phantom_cli.backend import prompts
    from phantom_cli.backend.content import lore, lorebooks_of
    from phantom_cli.backend.engines import EngineUnavailable, get_engine
    from phantom_cli.backend.macros import substitute

    b: m.InstanceChatRequest = ctx.body
    inst = own_instance(ctx.db, ctx.user.id, ctx.params["instance_id"])
    _refuse_archived(inst)
    if b.skin_id is not None and ctx.db.execute(
        "SELECT 1 FROM skins WHERE id = ?", (b.skin_id,)
    ).fetchone() is None:
        # skin_id scopes play-mode XP (seed 002): an unknown skin is refused, not ignored
        raise not_found("skin", b.skin_id)
    medium = b.medium or "text"
    user_msg = _user_turn(ctx.db, inst["id"], b.content, medium)
    recent = ctx.db.execute(
        "SELECT role, content FROM (SELECT role, content, created_at, id FROM messages WHERE instance_id = ?"
        " ORDER BY created_at DESC, id DESC LIMIT ?) ORDER BY created_at, id",
        (inst["id"], CHAT_WINDOW),
    ).fetchall()
    wire = instance_wire(inst)
    settings = ctx.settings
    env = prompts.instance_macro_env(wire, **_user_identity(ctx.db, ctx.user, wire))
    user_turns = sum(1 for r in recent if r["role"] == "user")
    activated = lore.activate(
        lorebooks_of(ctx.db, wire.get("snapshot_lorebook_ids")),
        [r["content"] for r in recent if r["role"] in ("user", "assistant")],
        seed=f"{getattr(settings, 'seed', 0)}|{inst['id']}|{user_turns}",
        macro=lambda text: substitute(text, env),
    )
    prompt = prompts.instance_prompt(wire, [dict(r) for r in recent], env=env, lore=activated)
    turn_id = new_id("turn")
    try:
        engine = get_engine(settings)
        stream = engine.stream(prompt, temperature=0.8, max_tokens=None, seed=settings.seed)
        first = await anext(stream, None)
    except EngineUnavailable as exc:
        _drop_turn(ctx.db, user_msg["id"])
        raise ApiError(503, message=in_context("engine unavailable", exc.message)) from None
    except BaseException:
        _drop_turn(ctx.db, user_msg["id"])
        raise
    db = ctx.db
    inst_id = inst["id"]
    prompt_json = prompt.to_json()
    prompt_json["params"] = {"temperature": 0.8, "max_tokens": None,
                             "seed": int(getattr(settings, "seed", 0) or 0)}
    with transaction(db):
        # stored before the reply streams (a cut stream still shows what was sent); the reply
        # is added when the stream completes
        db.execute(
            "INSERT INTO prompt_turn(id, user_id, kind, conversation_id, engine, model, prompt, reply,"
            " created_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (turn_id, ctx.user.id, "instance", inst_id, engine.name, getattr(engine, "model", None),
             json.dumps(prompt_json, ensure_ascii=False), None, now()),
        )

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
                # generated to the end (even if the client left: see endpoints.stream_response)
                insert_message(db, inst_id, "assistant", "text", "".join(parts))
                db.execute("UPDATE prompt_turn SET reply = ? WHERE id = ?", ("".join(parts), turn_id))
            else:
                _drop_turn(db, user_msg["id"])

    # the body is text/plain, so the turn id (local extension) travels in a header
    return stream_response(
        ctx.request, body(), media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no", TURN_ID_HEADER: turn_id},
    )


routes = [
    list_instances, create_instance, get_instance, update_instance,
    list_messages, create_message, get_message, update_message, chat,
]  # fmt: skip
