"""Run one turn of the async core from synchronous code (the CLI).

There is one implementation of a turn (``core``); a command runs it to completion on a fresh
event loop::

    done = run_turn(lambda client: CompanionChat(client, persona).send(text), connect=...,
                    on_delta=print_chunk)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from .core import Delta, Done, Event

if TYPE_CHECKING:
    from phantom_cli.client import AsyncPhantom


def run_turn(
    connect: Callable[[], AsyncPhantom],
    turn: Callable[[AsyncPhantom], AsyncIterator[Event]],
    on_delta: Callable[[str], object] | None = None,
) -> Done:
    """Open a client with ``connect()``, play ``turn(client)`` (e.g. ``lambda c:
    NpcSession(c, pid).send(text)``), pass each Delta's text to ``on_delta``; the Done.
    Exceptions of the client propagate unchanged; the client is closed either way."""

    async def main() -> Done:
        client = connect()
        try:
            done: Done | None = None
            async for ev in turn(client):
                if isinstance(ev, Delta):
                    if on_delta is not None:
                        on_delta(ev.text)
                else:
                    done = ev
            if done is None:  # pragma: no cover - every turn ends with a Done
                raise RuntimeError("the turn ended without a Done event")
            return done
        finally:
            await client.aclose()

    return asyncio.run(main())
