"""The ``Idempotency-Key`` of a send the CLI may retry in a later run (stdlib only).

A chat send that fails or is interrupted (Ctrl-C, a cut stream, a server error) is retried by
running the same command again. To make that retry the *same* request for the server (which
then replays the stored reply instead of making a second exchange), the key of an unfinished
send is kept in ``state_dir()/pending-sends.json`` under a digest of the target and the exact
request body, and used again by the next identical send. A send that succeeds forgets its key,
so sending the same text again afterwards is a new message. Entries expire after 24 hours
(the server keeps keys at least that long).

    with pending_send(client.base_url, path, body) as key:
        client.instances.chat_stream(..., idempotency_key=key)
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TTL_SECONDS = 24 * 3600
FILE_NAME = "pending-sends.json"


def _file() -> Path:
    from phantom_cli.config.paths import state_dir

    return Path(state_dir()) / FILE_NAME


def _load(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    now = time.time()
    return {
        k: v for k, v in data.items()
        if isinstance(v, dict) and isinstance(v.get("key"), str) and now - float(v.get("at", 0)) < TTL_SECONDS
    }


def _save(path: Path, data: dict[str, dict[str, Any]]) -> None:
    from phantom_cli.config.settings import atomic_write

    try:
        atomic_write(path, json.dumps(data, sort_keys=True).encode("utf-8"))
    except OSError:
        pass  # best effort: a retry then gets a new key (as without this file)


def fingerprint(target: str, path: str, body: Any) -> str:
    blob = json.dumps([target, path, body], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def begin(target: str, path: str, body: Any) -> tuple[str, str]:
    """``(key, token)`` for this send: the key of an unfinished identical send, else a new one
    (recorded). Call ``finish(token)`` once the send succeeded."""
    import secrets

    file = _file()
    fp = fingerprint(target, path, body)
    data = _load(file)
    entry = data.get(fp)
    key = entry["key"] if entry else secrets.token_hex(16)
    data[fp] = {"key": key, "at": entry["at"] if entry else time.time()}
    _save(file, data)
    return key, fp


def finish(token: str) -> None:
    """The send of ``token`` succeeded: its key is not reused by the next identical send."""
    file = _file()
    data = _load(file)
    if data.pop(token, None) is not None:
        _save(file, data)


@contextmanager
def pending_send(target: str, path: str, body: Any) -> Iterator[str]:
    """``begin`` … ``finish`` around a block: the key is kept on any failure (exceptions and
    Ctrl-C pass through), forgotten on success."""
    key, token = begin(target, path, body)
    yield key
    finish(token)
