"""Local extension: how many memory-extraction jobs of the caller are still queued or running
(``phantom test``'s ``wait_for_extraction`` polls it; the hosted API has no such call)."""

from __future__ import annotations

import json

from pydantic import Field

from phantom_cli.client import models as m
from phantom_cli.client import paths

from ..endpoints import Ctx, endpoint
from ..memory.service import JOB_KIND


class PendingQuery(m.RequestModel):
    chat_id: str | None = Field(default=None, min_length=1, max_length=128)


class PendingOut(m.ResponseModel):
    pending: int
    chat_id: str | None = None


@endpoint("GET", paths.LOCAL_EXTRACTION_PENDING, scope=None, query=PendingQuery, response=PendingOut,
          summary="Local backend: memory-extraction jobs still queued or running (local extension)")
async def pending(ctx: Ctx) -> PendingOut:
    rows = ctx.db.execute(
        "SELECT payload FROM jobs WHERE kind = ? AND status IN ('queued', 'running')", (JOB_KIND,)
    ).fetchall()
    n = 0
    for row in rows:
        payload = json.loads(row["payload"])
        if payload.get("user_id") != ctx.user.id:
            continue
        if ctx.query.chat_id is None or payload.get("chat_id") == ctx.query.chat_id:
            n += 1
    return PendingOut(pending=n, chat_id=ctx.query.chat_id)


routes = [pending]
