"""Helpers for the backend tests."""

from __future__ import annotations

import itertools
import json
from typing import Any

_n = itertools.count()


def unique(prefix: str) -> str:
    import os

    return f"{prefix}-{os.getpid()}-{next(_n)}"


def user_client(server: Any, scopes: list[str] | None = None, user: str | None = None) -> tuple[Any, str]:
    """A ``Phantom`` client for a brand-new user (isolated data) and its key."""
    key = server.make_key(user=user or unique("user"), scopes=scopes)
    return server.client(api_key=key, max_retries=0), key


def add_media(server: Any, media_type: str = "image", owner: str | None = None) -> str:
    from phantom_cli.backend.db import new_id, now

    mid = new_id("med")
    conn = server.db()
    try:
        uid = None
        if owner is not None:
            uid = conn.execute("SELECT id FROM users WHERE name = ?", (owner,)).fetchone()[0]
        conn.execute(
            "INSERT INTO media(id, type, url, file, user_id, metadata, created_at) VALUES (?,?,?,?,?,?,?)",
            (mid, media_type, f"http://127.0.0.1/media/{mid}.png", None, uid, json.dumps({}), now()),
        )
    finally:
        conn.close()
    return mid


def add_skin(server: Any, **fields: Any) -> str:
    from phantom_cli.backend.content import upsert_skin, validate_skin

    conn = server.db()
    try:
        return upsert_skin(conn, validate_skin({"name": "Skin", **fields}, "skin"))
    finally:
        conn.close()


def error_of(resp: Any) -> dict[str, Any]:
    body = resp.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)
    return body["error"]
