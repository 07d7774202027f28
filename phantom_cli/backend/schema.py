"""Core tables (area ``core``). Other areas list their own in their own modules (see ``registry``)."""

from __future__ import annotations

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

MIGRATIONS = (
    Migration("core", 1, "users, keys, activities, instances, messages, personas, skins, media", CORE_V1),
)
