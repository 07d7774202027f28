"""Seed content and content authoring (activities, lorebooks, skins, seeded media, NPC imports).

Seed data lives beside this module (``activities.json``, ``skins.json``, ``media.json``) and is
loaded by :func:`load_seed` at server start (the admin route module's ``startup``).

Versioning: every seed item carries ``seed_version``; ``content_seed`` records, per item, the
version applied and a hash of what was written. On each start:

- an item never applied is inserted (unless a row with that id already exists: the user's wins);
- an item whose ``seed_version`` grew is rewritten only if the stored row still hashes to what
  the seed wrote last time (the user has not edited it) and still exists (a user deletion is
  respected: the item is not recreated);
- a file fingerprint in ``content_kv`` skips all of this when nothing changed since last start.

The NPC persona ``abc123`` (the Hollow Market merchant) ships with the NPC engine
(``phantom_cli.backend.npc``); personas imported with ``phantom admin import-npc`` are stored in
the ``npc_personas`` table here (:func:`import_npc_persona`; read by ``npc.store``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

from ..db import Migration, new_id, now, transaction

log = logging.getLogger("phantom.backend.content")

DATA_DIR = Path(__file__).parent
SEED_FILES = ("activities.json", "skins.json", "media.json")

CONTENT_V1 = """
CREATE TABLE content_seed (
    kind TEXT NOT NULL,
    item_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    hash TEXT,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (kind, item_id)
);
CREATE TABLE content_kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE lorebooks (
    id TEXT PRIMARY KEY,
    activity_id TEXT,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX lorebooks_activity ON lorebooks(activity_id);
CREATE TABLE activity_card_extra (
    activity_id TEXT PRIMARY KEY,
    extra TEXT NOT NULL DEFAULT '{}',
    image BLOB
);
CREATE TABLE npc_personas (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""

MIGRATIONS = (
    Migration("content", 1, "seed records, lorebooks, card extras, imported NPC personas", CONTENT_V1),
)


class ContentError(ValueError):
    """Bad authoring input; the message names the field."""


def _h(*parts: Any) -> str:
    return hashlib.sha256(
        json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    ).hexdigest()


def kv_get(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM content_kv WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def kv_set(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO content_kv(key, value) VALUES (?, ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def seed_documents() -> dict[str, Any]:
    """The shipped seed files, parsed."""
    return {
        name.removesuffix(".json"): json.loads((DATA_DIR / name).read_text(encoding="utf-8"))
        for name in SEED_FILES
    }


def _seed_record(conn: sqlite3.Connection, kind: str, item_id: str) -> sqlite3.Row | None:
    """What ``content_seed`` remembers of a seed item: its ``version`` and ``hash`` (or None)."""
    return conn.execute(
        "SELECT version, hash FROM content_seed WHERE kind = ? AND item_id = ?", (kind, item_id)
    ).fetchone()


def _mark_seeded(
    conn: sqlite3.Connection, kind: str, item_id: str, version: int, hash_: str | None
) -> None:
    conn.execute(
        "INSERT INTO content_seed(kind, item_id, version, hash, applied_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT(kind, item_id) DO UPDATE SET"
        " version = excluded.version, hash = excluded.hash, applied_at = excluded.applied_at",
        (kind, item_id, version, hash_, now()),
    )


def _seed_may_write(rec: sqlite3.Row | None, current_hash: str | None) -> bool:
    """Whether a newer seed item may be written over what is stored (``current_hash``: None
    when there is no row): never applied and no row with its id (the user's wins), or applied
    and the row is still what the seed wrote (not edited, not deleted)."""
    if rec is None:
        return current_hash is None
    return current_hash is not None and current_hash == rec["hash"]


def seed_fingerprint() -> str:
    h = hashlib.sha256()
    for name in SEED_FILES:
        h.update((DATA_DIR / name).read_bytes())
    return h.hexdigest()


# --------------------------------------------------------------------------- activities


ACTIVITY_META_KEYS = ("seed_version", "published", "character_book")


def activity_row(conn: sqlite3.Connection, activity_id: str) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT id, data, published, created_at, updated_at FROM activities WHERE id = ?",
        (activity_id,),
    ).fetchone()


def activity_any(conn: sqlite3.Connection, activity_id: str) -> dict[str, Any] | None:
    """An activity whether published or not, with ``published`` added (admin view)."""
    row = activity_row(conn, activity_id)
    if row is None:
        return None
    data = json.loads(row["data"])
    data["published"] = bool(row["published"])
    return data


def _activity_hash(row: sqlite3.Row | None) -> str | None:
    return None if row is None else _h(row["data"], int(row["published"]))


def save_lorebook(
    conn: sqlite3.Connection, book: dict[str, Any], activity_id: str, lorebook_id: str | None = None
) -> str:
    lid = lorebook_id or new_id("lb")
    ts = now()
    conn.execute(
        "INSERT INTO lorebooks(id, activity_id, data, created_at, updated_at) VALUES (?,?,?,?,?)"
        " ON CONFLICT(id) DO UPDATE SET data = excluded.data, activity_id = excluded.activity_id,"
        " updated_at = excluded.updated_at",
        (lid, activity_id, json.dumps(book, ensure_ascii=False), ts, ts),
    )
    return lid


def get_lorebook(conn: sqlite3.Connection, lorebook_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT id, data FROM lorebooks WHERE id = ?", (lorebook_id,)).fetchone()
    if row is None:
        return None
    book = json.loads(row["data"])
    book["id"] = row["id"]
    return book


def activity_lorebook(conn: sqlite3.Connection, activity: dict[str, Any]) -> dict[str, Any] | None:
    """The first lorebook the activity references (cards carry one ``character_book``)."""
    for lid in activity.get("lorebook_ids") or []:
        book = get_lorebook(conn, lid)
        if book is not None:
            return book
    return None


def lorebooks_of(conn: sqlite3.Connection, lorebook_ids: list[str] | None) -> list[tuple[str, dict[str, Any]]]:
    """``(id, book)`` of each stored lorebook among ``lorebook_ids`` (missing ones skipped)."""
    out = []
    for lid in lorebook_ids or []:
        book = get_lorebook(conn, lid)
        if book is not None:
            out.append((lid, book))
    return out


def lorebook_entries_for(
    conn: sqlite3.Connection,
    lorebook_ids: list[str] | None,
    recent_texts: list[str],
    *,
    seed: str = "",
    macro: Any = None,
) -> list[dict[str, Any]]:
    """The lorebook entries a turn activates, SillyTavern-style, in insertion order (see
    :mod:`.lore`): each entry with ``lorebook_id`` and ``activation`` (what fired it)."""
    from .lore import activate

    books = lorebooks_of(conn, lorebook_ids)
    kwargs: dict[str, Any] = {"seed": seed}
    if macro is not None:
        kwargs["macro"] = macro
    return [
        {"lorebook_id": a.lorebook_id, **a.entry, "activation": a.record()}
        for a in activate(books, recent_texts, **kwargs)
    ]


def write_activity(
    conn: sqlite3.Connection,
    fields: dict[str, Any],
    *,
    published: bool,
    lorebook: dict[str, Any] | None = None,
    lorebook_id: str | None = None,
) -> str:
    """Create or replace an activity (and its lorebook) in the caller's transaction."""
    from ..routes.activities import upsert_activity

    data = {k: v for k, v in fields.items() if k not in ACTIVITY_META_KEYS}
    data.setdefault("id", new_id("act"))
    if lorebook is not None:
        lid = save_lorebook(conn, lorebook, data["id"], lorebook_id or f"lb_{data['id']}")
        data["lorebook_ids"] = [lid]
    return upsert_activity(conn, data, published=published)


def _load_activities(conn: sqlite3.Connection, items: list[dict[str, Any]]) -> int:
    changed = 0
    # the first item of the file is the newest: insert in reverse order
    for item in reversed(items):
        aid = item["id"]
        version = int(item.get("seed_version", 1))
        rec = _seed_record(conn, "activity", aid)
        if rec is not None and rec["version"] >= version:
            continue
        write = _seed_may_write(rec, _activity_hash(activity_row(conn, aid)))
        if write:
            lb = item.get("character_book")
            if lb is not None:
                from ..cards import parse_lorebook

                lb = parse_lorebook(lb, f"activities.json {aid}.character_book")
            write_activity(conn, item, published=bool(item.get("published", True)), lorebook=lb)
            changed += 1
        h = _activity_hash(activity_row(conn, aid)) if write else (rec["hash"] if rec else None)
        _mark_seeded(conn, "activity", aid, version, h)
    return changed


# --------------------------------------------------------------------------- skins

SKIN_GENDERS = ("female", "male", "non-binary")
SKIN_STYLES = ("anime", "realistic")


def _skin_hash(row: sqlite3.Row | None) -> str | None:
    if row is None:
        return None
    return _h(row["name"], row["gender"], row["style"], row["cover_photo_url"], row["data"])


def validate_skin(item: Any, where: str) -> dict[str, Any]:
    """A skin document -> clean fields. Errors name the field and the limit."""
    import re

    from phantom_cli.client.models import ID_PATTERN

    if not isinstance(item, dict):
        raise ContentError(f"{where}: must be an object")
    out: dict[str, Any] = {}
    sid = item.get("id")
    if sid is not None:
        if not isinstance(sid, str) or not re.match(ID_PATTERN, sid):
            raise ContentError(f"{where}.id: must match {ID_PATTERN} (1-128 characters)")
        out["id"] = sid
    name = item.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 120:
        raise ContentError(f"{where}.name: required, 1-120 characters")
    out["name"] = name.strip()
    for key, allowed in (("gender", SKIN_GENDERS), ("style", SKIN_STYLES)):
        v = item.get(key)
        if v is not None and v not in allowed:
            raise ContentError(f"{where}.{key}: {v!r} is not one of {', '.join(allowed)}")
        out[key] = v
    cover = item.get("cover_photo_url")
    if cover is not None and (not isinstance(cover, str) or len(cover) > 2000):
        raise ContentError(f"{where}.cover_photo_url: a string of at most 2000 characters")
    out["cover_photo_url"] = cover
    palette = item.get("palette")
    extra: dict[str, Any] = {}
    if palette is not None:
        if (
            not isinstance(palette, list)
            or len(palette) > 6
            or not all(isinstance(c, str) and re.fullmatch(r"#?[0-9A-Fa-f]{6}", c) for c in palette)
        ):
            raise ContentError(f"{where}.palette: a list of at most 6 '#rrggbb' colours")
        extra["palette"] = palette
    tone = item.get("skin_tone")
    if tone is not None:
        if not isinstance(tone, str) or not re.fullmatch(r"#?[0-9A-Fa-f]{6}", tone):
            raise ContentError(f"{where}.skin_tone: a '#rrggbb' colour")
        extra["skin_tone"] = tone
    out["data"] = extra
    return out


def upsert_skin(conn: sqlite3.Connection, skin: dict[str, Any]) -> str:
    """Insert or replace a validated skin (keeps ``created_at`` on replace)."""
    sid = skin.get("id") or new_id("skin")
    cover = skin.get("cover_photo_url")
    if cover is None:
        from ..generation import ensure_render_media, media_url

        mid = ensure_render_media(
            conn, f"med_cover_{sid}", "image", sid, "portrait", 1, title=f"{skin['name']} cover"
        )
        cover = media_url(conn, mid)
    conn.execute(
        "INSERT INTO skins(id, name, gender, style, cover_photo_url, data, created_at)"
        " VALUES (?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET name = excluded.name,"
        " gender = excluded.gender, style = excluded.style,"
        " cover_photo_url = excluded.cover_photo_url, data = excluded.data",
        (
            sid,
            skin["name"],
            skin.get("gender"),
            skin.get("style"),
            cover,
            json.dumps(skin.get("data") or {}, ensure_ascii=False),
            now(),
        ),
    )
    return sid


def skin_row(conn: sqlite3.Connection, skin_id: str) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT id, name, gender, style, cover_photo_url, data, created_at FROM skins WHERE id = ?",
        (skin_id,),
    ).fetchone()


def skin_for_render(row: sqlite3.Row) -> dict[str, Any]:
    data = json.loads(row["data"] or "{}")
    return {
        "id": row["id"],
        "name": row["name"],
        "gender": row["gender"],
        "style": row["style"],
        **data,
    }


def _load_skins(conn: sqlite3.Connection, items: list[dict[str, Any]]) -> int:
    changed = 0
    for item in reversed(items):
        sid = item["id"]
        version = int(item.get("seed_version", 1))
        rec = _seed_record(conn, "skin", sid)
        if rec is not None and rec["version"] >= version:
            continue
        write = _seed_may_write(rec, _skin_hash(skin_row(conn, sid)))
        if write:
            upsert_skin(conn, validate_skin(item, f"skins.json {sid}"))
            changed += 1
        h = _skin_hash(skin_row(conn, sid)) if write else (rec["hash"] if rec else None)
        _mark_seeded(conn, "skin", sid, version, h)
    return changed


# --------------------------------------------------------------------------- media


def _load_media(conn: sqlite3.Connection, items: list[dict[str, Any]]) -> int:
    from ..generation import ensure_render_media

    changed = 0
    for item in reversed(items):
        mid = item["id"]
        version = int(item.get("seed_version", 1))
        rec = _seed_record(conn, "media", mid)
        if rec is not None and rec["version"] >= version:
            continue
        ensure_render_media(
            conn,
            mid,
            item["type"],
            item["skin_id"],
            item["category"],
            int(item.get("seed", 0)),
            title=item.get("title"),
        )
        changed += 1
        _mark_seeded(conn, "media", mid, version, None)
    return changed


# --------------------------------------------------------------------------- loader


def load_seed(conn: sqlite3.Connection, *, force: bool = False) -> dict[str, int]:
    """Load the shipped seed content (idempotent; see the module docstring)."""
    fp = seed_fingerprint()
    if not force and kv_get(conn, "seed_fingerprint") == fp:
        return {"activities": 0, "skins": 0, "media": 0}
    docs = seed_documents()
    with transaction(conn):
        counts = {
            "skins": _load_skins(conn, docs["skins"]["skins"]),
            "activities": _load_activities(conn, docs["activities"]["activities"]),
            "media": _load_media(conn, docs["media"]["media"]),
        }
        kv_set(conn, "seed_fingerprint", fp)
    if any(counts.values()):
        log.info("seed content loaded: %s", counts)
    return counts


# --------------------------------------------------------------------------- NPC personas


def import_npc_persona(conn: sqlite3.Connection, doc: Any, *, source: str = "<upload>") -> str:
    """Validate an NPC persona document (``phantom-npc/1``) and store it; returns its id."""
    from ..npc.machine import MachineError, parse_persona

    try:
        persona = parse_persona(doc, source=source)
    except MachineError as exc:
        raise ContentError(str(exc)) from None
    ts = now()
    conn.execute(
        "INSERT INTO npc_personas(id, data, created_at, updated_at) VALUES (?,?,?,?)"
        " ON CONFLICT(id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
        (persona.id, json.dumps(persona.to_public(), ensure_ascii=False), ts, ts),
    )
    return persona.id
