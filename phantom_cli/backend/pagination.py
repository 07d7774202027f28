"""Keyset pagination (spec/api.md): newest first by ``(created_at, id)``.

The cursor is base64url of ``"<created_at>|<id>"`` of the last row served. The next page is
``WHERE (created_at, id) < (cursor)``: rows inserted meanwhile are newer, so they land in front
of the cursor — a walk sees no duplicate and no gap among the rows that existed when it began.
"""

from __future__ import annotations

import base64
import binascii
import sqlite3
from collections.abc import Sequence
from typing import Any

from phantom_cli.client.models import PAGE_LIMIT_DEFAULT as DEFAULT_LIMIT
from phantom_cli.client.models import PAGE_LIMIT_MAX as MAX_LIMIT

from .errors import ApiError


def encode_cursor(created_at: str, ident: str) -> str:
    raw = f"{created_at}|{ident}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    """``(created_at, id)`` or 400 with ``loc ["query", "cursor"]``."""
    try:
        pad = "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(cursor + pad).decode("utf-8")
        created_at, sep, ident = raw.partition("|")
        if not sep or not created_at or not ident or len(created_at) > 40:
            raise ValueError("no separator")
        return created_at, ident
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(
            400,
            message="cursor: malformed pagination cursor (use next_cursor from the previous page)",
            details=[{"loc": ["query", "cursor"], "msg": "malformed pagination cursor"}],
        ) from None


def where_eq(
    filters: dict[str, Any], where: Sequence[str] = (), params: Sequence[Any] = ()
) -> tuple[list[str], list[Any]]:
    """``where``/``params`` plus ``<column> = ?`` for every filter that is set (not None).

    The keys are trusted column names written by the caller; a bool is stored as 0/1.
    """
    conds, args = list(where), list(params)
    for col, value in filters.items():
        if value is not None:
            conds.append(f"{col} = ?")
            args.append(int(value) if isinstance(value, bool) else value)
    return conds, args


def page(
    conn: sqlite3.Connection,
    table: str,
    where: Sequence[str] = (),
    params: Sequence[Any] = (),
    *,
    limit: int | None = None,
    cursor: str | None = None,
    columns: str = "*",
    created_col: str = "created_at",
    id_col: str = "id",
) -> tuple[list[sqlite3.Row], str | None, bool]:
    """Rows of one page, the next cursor and ``has_more``.

    ``table``/``where``/``columns`` are trusted SQL written by the caller (never request text);
    values go in ``params``. The selected columns must include ``created_col`` and ``id_col``.
    """
    n = DEFAULT_LIMIT if limit is None else limit
    if not 1 <= n <= MAX_LIMIT:
        raise ApiError(400, message=f"limit: must be between 1 and {MAX_LIMIT}",
                       details=[{"loc": ["query", "limit"], "msg": f"must be between 1 and {MAX_LIMIT}"}])
    conds = list(where)
    args = list(params)
    if cursor:
        c_at, c_id = decode_cursor(cursor)
        conds.append(f"({created_col} < ? OR ({created_col} = ? AND {id_col} < ?))")
        args += [c_at, c_at, c_id]
    sql = f"SELECT {columns} FROM {table}"
    if conds:
        sql += " WHERE " + " AND ".join(conds)
    sql += f" ORDER BY {created_col} DESC, {id_col} DESC LIMIT ?"
    args.append(n + 1)
    rows = conn.execute(sql, args).fetchall()
    has_more = len(rows) > n
    rows = rows[:n]
    ck, ik = created_col.rsplit(".", 1)[-1], id_col.rsplit(".", 1)[-1]  # select them unaliased
    nxt = encode_cursor(rows[-1][ck], rows[-1][ik]) if has_more and rows else None
    return rows, nxt, has_more
