"""Helpers of the client tests (fake sleep, chunked bodies, driving sync and async alike)."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

BASE = "http://api.test"
KEY = "sk-test-SECRET-0123456789"
NOW = "2026-01-01T00:00:00Z"
# A body every response model of the client accepts (for tests about the request side).
ANY_JSON = {
    "reply": "r", "chat_id": "c1", "message": "m", "session_id": "u", "player_name": "A",
    "player_gender": "male", "machine_id": "gate", "current_state": "s", "score": 0,
    "scoring_mode": "x", "messages": [], "reset": True, "id": "x", "status": "active",
    "created_at": NOW, "updated_at": NOW, "role": "user", "medium": "text", "content": "c",
    "name": "n", "mediaId": "m", "mediaType": "image", "relationType": "favorited",
    "createdAt": NOW, "job_id": "j", "generation_id": "g", "version": 1, "type": "companion",
    "data": [], "has_more": False, "user_session_id": "u",
    "from_user_session_id": "u0", "at": 0, "source_turns": 0,
}  # fmt: skip


class Sleeps(list[float]):
    """A fake sleep: records the delays instead of sleeping."""

    def __call__(self, delay: float) -> None:
        self.append(delay)


class Chunks(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body delivered in the given chunks, optionally cut with an error after."""

    def __init__(self, chunks: list[bytes], error: Exception | None = None) -> None:
        self.chunks = chunks
        self.error = error

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks
        if self.error is not None:
            raise self.error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for c in self.chunks:
            yield c
        if self.error is not None:
            raise self.error


def chunked(
    chunks: list[bytes],
    content_type: str = "text/event-stream",
    error: Exception | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return httpx.Response(
        status,
        headers={"content-type": content_type, **(headers or {})},
        stream=Chunks(chunks, error),
    )


async def resolve(value: Any) -> Any:
    """Await a value if it is awaitable (lets one test body drive both clients)."""
    if inspect.isawaitable(value):
        return await value
    return value


async def collect(stream: Any) -> list[Any]:
    """All items of a sync or async stream."""
    if hasattr(stream, "__aiter__"):
        return [x async for x in stream]
    return list(stream)
