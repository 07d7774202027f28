"""Stream handles returned by streaming and paginating calls, and the sleep adapters."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")

SleepFn = Callable[[float], Any]


class Stream(Generic[T]):
    """A lazy iterator over a streamed answer or over pages (sync).

    The request is sent when iteration starts. ``close()`` (or leaving a ``with`` block, or
    breaking out of a ``for`` loop and dropping the object) closes the connection.
    """

    def __init__(self, gen: Iterator[T]) -> None:
        self._gen = gen

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        return next(self._gen)

    def close(self) -> None:
        close = getattr(self._gen, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Stream[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncStream(Generic[T]):
    """The async twin of :class:`Stream`.

    Streaming calls are ``async def``: await the call, then iterate
    (``async for x in await ac.companion.chat(..., stream=True)``). Page iterators
    (``ac.activities.iter()``) are iterated directly; awaiting a stream returns itself.
    """

    def __init__(self, gen: AsyncIterator[T]) -> None:
        self._gen = gen

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        return await self._gen.__anext__()

    def __await__(self) -> Generator[Any, None, AsyncStream[T]]:
        async def _self() -> AsyncStream[T]:
            return self

        return _self().__await__()

    async def aclose(self) -> None:
        aclose = getattr(self._gen, "aclose", None)
        if aclose is not None:
            await aclose()

    close = aclose

    async def __aenter__(self) -> AsyncStream[T]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def sleep_sync(fn: SleepFn | None) -> Callable[[float], None]:
    return fn if fn is not None else time.sleep


def sleep_async(fn: SleepFn | None) -> Callable[[float], Awaitable[None]]:
    """An injected sleep may be sync or async; default ``asyncio.sleep``."""
    import asyncio  # here: the sync client should not pay for importing asyncio
    import inspect

    if fn is None:
        return asyncio.sleep

    async def _sleep(delay: float) -> None:
        result = fn(delay)
        if inspect.isawaitable(result):
            await result

    return _sleep
