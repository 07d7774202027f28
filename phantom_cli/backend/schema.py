"""Core tables (area ``core``). Other areas list their own in their own modules (see ``registry``)."""

from __future__ import annotations

from typing import Any

from .db import Migration

CORE_V1 = """
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    name TEXT,
    scopes TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    last_used_at TEXT
);
CREATE TABLE activities (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    title TEXT NOT NULL,
    category TEXT,
    featured INTEGER NOT NULL DEFAULT 0,
    is_companion INTEGER NOT NULL DEFAULT 0,
    published INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX activities_published_order ON activities(published, created_at DESC, id DESC);
CREATE INDEX activities_category ON activities(category, created_at DESC, id DESC);
CREATE TABLE activity_instances (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    activity_id TEXT,
    data TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    assigned_voice_id TEXT,
    last_accessed_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX instances_user_order ON activity_instances(user_id, created_at DESC, id DESC);
CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL REFERENCES activity_instances(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    medium TEXT NOT NULL DEFAULT 'text',
    content TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX messages_instance_order ON messages(instance_id, created_at DESC, id DESC);
CREATE TABLE personas (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    gender TEXT,
    description TEXT,
    style_preference TEXT,
    is_default INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX personas_user_order ON personas(user_id, created_at DESC, id DESC);
CREATE UNIQUE INDEX personas_one_default ON personas(user_id) WHERE is_default = 1;
CREATE TABLE skins (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    gender TEXT,
    style TEXT,
    cover_photo_url TEXT,
    data TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
CREATE INDEX skins_order ON skins(created_at DESC, id DESC);
CREATE TABLE media (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    url TEXT,
    file TEXT,
    user_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    metadata TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE media_collection (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    media_id TEXT NOT NULL REFERENCES media(id) ON DELETE CASCADE,
    relation_type TEXT NOT NULL,
    is_favorite INTEGER NOT NULL DEFAULT 0,
    metadata TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (user_id, media_id)
);
CREATE INDEX media_collection_user_order ON media_collection(user_id, created_at DESC, id DESC);
"""

# Core 2 (issue 13, least privilege): "*" used to mean every scope, admin included, and was stored
# for every key minted without scopes, so any such key could mint owner keys and revoke others.
# Keys of the owner (user "local", who holds the first-start key) keep every scope, admin
# included; "*" keys of every other user get every scope but admin. Scopes are listed here, not
# imported, so this migration gives the same result whatever scopes are added later. No key is
# removed or reset.
_V2_NON_ADMIN = sorted(("chat:companion", "chat:npc", "scratchpad", "activities", "instances", "personas",
                        "skins", "media", "generate"))
_V2_OWNER = sorted([*_V2_NON_ADMIN, "admin"])


def _core_v2_least_privilege(conn: Any) -> None:
    import json

    rows = conn.execute(
        "SELECT k.id, k.scopes, u.name FROM api_keys k JOIN users u ON u.id = k.user_id"
    ).fetchall()
    for kid, scopes, user in rows:
        stored = json.loads(scopes)
        if "*" not in stored:
            continue
        base = _V2_OWNER if user == "local" else _V2_NON_ADMIN
        keep = [s for s in stored if s != "*" and (user == "local" or s != "admin")]
        new = sorted(set(base) | set(keep))
        conn.execute("UPDATE api_keys SET scopes = ? WHERE id = ?", (json.dumps(new), kid))


MIGRATIONS = (
    Migration("core", 1, "users, keys, activities, instances, messages, personas, skins, media", CORE_V1),
    Migration("core", 2, "least privilege: '*' keys lose admin except the owner's", _core_v2_least_privilege),
)
