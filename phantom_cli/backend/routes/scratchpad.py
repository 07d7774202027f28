"""The memory scratchpad (seed 002): GET (created empty on first read; ``max_words`` + ``hint``
return a condensed copy) and PUT with optimistic versioning (stale version → 409 carrying the
current scratchpad in ``details``)."""

from __future__ import annotations

from typing import Any

from phantom_cli.client import models as m

from .. import scratchpad as sp
from ..endpoints import Ctx, endpoint
from ..errors import ApiError

SCOPE = "scratchpad"


class ScratchpadOut(m.Scratchpad):
    """The wire shape; a condensed read adds ``condensed``, ``word_count``, ``max_words``."""


@endpoint("GET", "/api/v1/companion/scratchpad", scope=SCOPE, query=m.ScratchpadGetQuery,
          response=ScratchpadOut, errors=(400,),
          summary="Get the memory scratchpad (created empty on first read; max_words+hint condense a copy)")
async def get_scratchpad(ctx: Ctx) -> Any:
    q: m.ScratchpadGetQuery = ctx.query
    pad = sp.get_or_create(ctx.db, ctx.user.id, q.type, companion_id=q.companion_id,
                           conversation_id=q.conversation_id)
    out = pad.wire()
    if q.max_words is not None:
        from ..app import run_in_thread

        text = await run_in_thread(sp.condense, pad.content, q.max_words, q.hint)
        out.update(content=text, condensed=True, word_count=len(text.split()), max_words=q.max_words,
                   original_word_count=len(pad.content.split()))
    return out


@endpoint("PUT", "/api/v1/companion/scratchpad", scope=SCOPE, query=m.ScratchpadQuery,
          body=m.ScratchpadUpdate, response=ScratchpadOut, errors=(400, 409),
          summary="Replace the scratchpad's content if `version` is current (else 409 with the current one)")
async def put_scratchpad(ctx: Ctx) -> Any:
    q: m.ScratchpadQuery = ctx.query
    b: m.ScratchpadUpdate = ctx.body
    try:
        pad = sp.write(ctx.db, ctx.user.id, q.type, content=b.content, version=b.version,
                       companion_id=q.companion_id, conversation_id=q.conversation_id)
    except sp.VersionConflict as exc:
        cur = exc.current
        raise ApiError(
            409,
            message=(f"version: the scratchpad is at version {cur.version}, not {b.version}; "
                     "it changed since you read it (re-read, merge your edit, and PUT again)"),
            details={**cur.wire(), "expected_version": b.version},
        ) from None
    return pad.wire()


routes = [get_scratchpad, put_scratchpad]
