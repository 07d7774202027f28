"""Media storage: generated files on disk, signed URLs, lazily rendered media rows.

Files live under ``settings.media_dir`` with generated names only (``gen_…``/``seed_…``, never
from input), written atomically (temp file, fsync, rename: never a half-written file under a
served name). ``recover_files`` deletes, at start-up, files a crash left behind (a temp file, or
a renamed file whose ``media`` row was never committed); it touches only names this module makes.

Serving: ``GET /api/v1/local/media/{media_id}?sig=…`` (routes/generate.py) serves only media rows
this server rendered, by the file name stored in the row. The URL carries an HMAC-SHA256
signature of the media id made with a per-install secret kept in the database (``content_kv``),
so a cdnUrl works in a browser or image viewer without a bearer key, and ids cannot be
enumerated. ``cdnUrl`` is root-relative (the server's port can change between runs): resolve it
against the base URL.
"""

from __future__ import annotations

import hashlib
from typing import Any

MEDIA_ROUTE = "/api/v1/local/media/{media_id}"
_FILE_RE = r"^(gen|seed)_[0-9a-f]{32}\.(png|webp|gif)$"
CONTENT_TYPES = {"png": "image/png", "webp": "image/webp", "gif": "image/gif"}


def media_secret(conn: Any) -> bytes:
    """The per-install key that signs media URLs (created on first use, kept in the DB)."""
    import secrets

    row = conn.execute("SELECT value FROM content_kv WHERE key = 'media_secret'").fetchone()
    if row is not None:
        return bytes.fromhex(row[0])
    conn.execute(
        "INSERT OR IGNORE INTO content_kv(key, value) VALUES ('media_secret', ?)",
        (secrets.token_hex(32),),
    )
    row = conn.execute("SELECT value FROM content_kv WHERE key = 'media_secret'").fetchone()
    return bytes.fromhex(row[0])


def media_sig(conn: Any, media_id: str) -> str:
    import hmac

    return hmac.new(media_secret(conn), media_id.encode(), hashlib.sha256).hexdigest()[:32]


def check_sig(conn: Any, media_id: str, sig: str) -> bool:
    import hmac

    return hmac.compare_digest(media_sig(conn, media_id).encode(), (sig or "").encode("utf-8"))


def media_url(conn: Any, media_id: str) -> str:
    """Root-relative signed URL of a medium this server renders."""
    from urllib.parse import quote

    return (
        MEDIA_ROUTE.format(media_id=quote(media_id, safe="")) + f"?sig={media_sig(conn, media_id)}"
    )


def ensure_render_media(
    conn: Any,
    media_id: str,
    kind: str,
    skin_id: str,
    category: str,
    seed: int,
    *,
    title: str | None = None,
    user_id: str | None = None,
) -> str:
    """A ``media`` row rendered lazily on first fetch (seeded media, skin covers)."""
    import json

    from ..db import now

    meta = {"render": {"kind": kind, "skin_id": skin_id, "category": category, "seed": seed}}
    if title:
        meta["title"] = title
    conn.execute(
        "INSERT INTO media(id, type, url, file, user_id, metadata, created_at)"
        " VALUES (?,?,?,NULL,?,?,?) ON CONFLICT(id) DO UPDATE SET type = excluded.type,"
        " metadata = excluded.metadata, file = NULL",
        (media_id, kind, media_url(conn, media_id), user_id, json.dumps(meta), now()),
    )
    return media_id


def write_media_file(media_dir: Any, data: bytes, ext: str, prefix: str = "gen") -> str:
    """Write ``data`` under a generated name atomically (temp, fsync, rename); returns the name."""
    import os
    import secrets
    from pathlib import Path

    from phantom_cli.config.paths import private_dir
    from phantom_cli.config.settings import atomic_write

    d = private_dir(Path(media_dir))  # 0700
    name = f"{prefix}_{secrets.token_hex(16)}.{ext}"
    atomic_write(d / name, data, mode=0o600)
    try:
        dfd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    return name


def media_path(media_dir: Any, name: str | None) -> Any:
    """The file of a media row, or None if the stored name is not one this server generates."""
    import re
    from pathlib import Path

    if not name or not re.match(_FILE_RE, name):
        return None
    return Path(media_dir) / name


def recover_files(conn: Any, media_dir: Any) -> int:
    """Start-up: delete temp files and generated files no ``media`` row references (a crash
    between the rename and the commit); returns how many. Only names this module generates."""
    import re
    from pathlib import Path

    from phantom_cli.config.settings import atomic_temp_target

    known = {r[0] for r in conn.execute("SELECT file FROM media WHERE file IS NOT NULL")}
    removed = 0
    d = Path(media_dir)
    ours = re.compile(_FILE_RE)
    if d.is_dir():
        for f in d.iterdir():
            # only names this module generates: never touch anyone else's files
            name = f.name
            if name.startswith(".") and name.endswith(".tmp"):
                # a temp file a kill left: atomic_write's `.<name>.<random>.tmp`, or the
                # `.<name>.tmp` of older versions
                target = atomic_temp_target(name)
                orphan = bool(target and ours.match(target)) or bool(ours.match(name[1:-4]))
            else:
                orphan = bool(ours.match(name)) and name not in known
            if orphan and f.is_file():
                try:
                    f.unlink()
                    removed += 1
                except OSError:
                    pass
    return removed
