"""The async transport: requests with retries, error mapping, pagination and streams.

Hand-written. ``_core_sync.py`` is generated from this file by ``_unasync.py``
(``python phantom_cli/client/_unasync.py``); tests check that the two agree.
"""

from __future__ import annotations

import json as jsonlib
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import httpx

from ._common import (
    DEFAULT_MAX_RETRIES,
    MAX_RECORDED_BODY,
    RETRY_STATUSES,
    BaseClient,
    DebugHook,
    TimeoutArg,
    compact_query,
    idempotency_key_for,
)
from ._streams import AsyncStream, SleepFn, sleep_async
from .errors import PhantomError, StreamInterruptedError

if TYPE_CHECKING:  # no pydantic at import time (start-up): see _common
    from pydantic import BaseModel

    from .models import Page, StreamDelta

M = TypeVar("M", bound="BaseModel")


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0


class AsyncAPIClient(BaseClient):
    """Transport of :class:`phantom_cli.client.AsyncPhantom`."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: TimeoutArg = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        debug_hook: DebugHook | None = None,
        *,
        backend: Literal["local", "hosted"] | None = None,
        headers: Mapping[str, str] | None = None,
        sleep: SleepFn | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url,
            api_key,
            timeout,
            max_retries,
            debug_hook,
            backend=backend,
            headers=headers,
        )
        self._sleep = sleep_async(sleep)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
            timeout=self.timeout,
            transport=transport,
            follow_redirects=False,
            trust_env=self._trust_env,
            verify=self._verify(),
        )

    # ------------------------------------------------------------------ lifecycle

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncAPIClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ plain requests

    def _build(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json: Any,
        accept: str,
        idempotency_key: str | None = None,
    ) -> httpx.Request:
        headers = self._headers(accept)
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return self._http.build_request(
            method,
            self.base_url + path,
            params=compact_query(params),
            json=json,
            headers=headers,
        )

    async def _wait_or_raise(
        self, attempt: int, request: httpx.Request, exc: httpx.TransportError
    ) -> None:
        """Back off before retrying a transport error, or raise it mapped when no retry is
        left (or the error is not one to retry)."""
        delay = self._transport_retry_delay(attempt, exc)
        if delay is None:
            raise self._transport_error(request, exc) from exc
        await self._sleep(delay)

    async def _waited_for_retry(self, attempt: int, response: httpx.Response) -> bool:
        """True, after backing off, when a 429/503 answer is to be retried."""
        if response.status_code not in RETRY_STATUSES:
            return False
        delay = self._retry_delay(attempt, response)
        if delay is None:
            return False
        await self._sleep(delay)
        return True

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        accept: str = "application/json",
        raise_for_status: bool = True,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        key = idempotency_key_for(method, idempotency_key)  # one per call, kept on its retries
        attempt = 0
        while True:
            request = self._build(method, path, params, json, accept, key)
            t0 = time.perf_counter()
            try:
                response = await self._http.send(request)
            except httpx.TransportError as exc:
                self._record(request, None, _ms(t0))
                await self._wait_or_raise(attempt, request, exc)
                attempt += 1
                continue
            self._record(request, response.status_code, _ms(t0), response, response.text)
            if await self._waited_for_retry(attempt, response):
                attempt += 1
                continue
            if raise_for_status and response.status_code >= 400:
                raise self._status_error(response)
            return response

    async def _call(
        self,
        method: str,
        path: str,
        model: type[M],
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
    ) -> M:
        response = await self._send(
            method, path, params=params, json=json, idempotency_key=idempotency_key
        )
        return self._parse(model, response)

    async def _call_json(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None
    ) -> Any:
        response = await self._send(method, path, params=params)
        return self._json(response)

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        *,
        raise_for_status: bool = True,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """Raw passthrough (``phantom api``): same auth, retries and error mapping; a POST
        carries an ``Idempotency-Key`` (``idempotency_key`` or a new one) on all its retries."""
        return await self._send(
            method.upper(),
            self._check_path(path),
            params=params,
            json=json,
            raise_for_status=raise_for_status,
            idempotency_key=idempotency_key,
        )

    # ------------------------------------------------------------------ pagination

    async def _get_page(
        self, model: type[M] | None, path: str, params: Mapping[str, Any] | None
    ) -> Page[M] | dict[str, Any]:
        response = await self._send("GET", path, params=params)
        return self._page(model, response)

    def _iter_pages(
        self, model: type[M] | None, path: str, params: Mapping[str, Any] | None
    ) -> AsyncStream[M]:
        return AsyncStream(self._walk_pages(model, path, dict(params or {})))

    async def _walk_pages(
        self, model: type[M] | None, path: str, params: dict[str, Any]
    ) -> AsyncIterator[Any]:
        seen: set[str] = set()
        while True:
            page = await self._get_page(model, path, params)
            if isinstance(page, dict):  # raw (model=None)
                items, cursor, more = page["data"], page.get("next_cursor"), page.get("has_more")
            else:
                items, cursor, more = page.data, page.next_cursor, page.has_more
            for item in items:
                yield item
            if not more or not cursor or not isinstance(cursor, str):
                return
            if cursor in seen:
                raise PhantomError(f"GET {path}: the server repeated cursor {cursor[:40]!r}")
            seen.add(cursor)
            params["cursor"] = cursor

    # ------------------------------------------------------------------ raw JSON pages

    async def list_json(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One page of a list endpoint exactly as the server sent it (``data``,
        ``next_cursor``, ``has_more``): no model and no pydantic, for printing JSON.
        ``params`` go on the query string as given (``None`` dropped, booleans as
        ``true``/``false``); the server validates them."""
        response = await self._send("GET", self._check_path(path), params=params)
        return self._page(None, response)

    def iter_json(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> AsyncStream[dict[str, Any]]:
        """Every item of a list endpoint as sent, fetched page by page as the iteration goes."""
        return self._iter_pages(None, self._check_path(path), params)

    # ------------------------------------------------------------------ streams

    @asynccontextmanager
    async def _open_stream(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        json: Any,
        accept: str,
        idempotency_key: str | None = None,
    ) -> AsyncIterator[tuple[httpx.Response, AsyncIterator[bytes]]]:
        """Send with retries until the first body bytes arrive; after that, never again
        (a caller that retries later passes the same ``idempotency_key``)."""
        key = idempotency_key_for(method, idempotency_key)
        attempt = 0
        while True:
            request = self._build(method, path, params, json, accept, key)
            t0 = time.perf_counter()
            try:
                response = await self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                self._record(request, None, _ms(t0))
                await self._wait_or_raise(attempt, request, exc)
                attempt += 1
                continue
            if response.status_code < 400:
                # Wait for the first bytes here: until they arrive the request may be retried.
                body = response.aiter_bytes()
                try:
                    # sync-next: first = next(body, b"")
                    first = await anext(body, b"")
                except httpx.TransportError as exc:
                    await response.aclose()
                    self._record(request, response.status_code, _ms(t0), response, "")
                    await self._wait_or_raise(attempt, request, exc)
                    attempt += 1
                    continue
                break
            try:
                await response.aread()
                text = response.text
            except httpx.TransportError:
                text = ""
            finally:
                await response.aclose()
            self._record(request, response.status_code, _ms(t0), response, text)
            if await self._waited_for_retry(attempt, response):
                attempt += 1
                continue
            raise self._status_error(response, text)

        received: list[bytes] = []
        size = 0

        async def chunks() -> AsyncIterator[bytes]:
            nonlocal size
            if first:
                received.append(first)
                size += len(first)
                yield first
            async for chunk in body:
                if size < MAX_RECORDED_BODY:
                    received.append(chunk)
                    size += len(chunk)
                yield chunk

        try:
            yield response, chunks()
        finally:
            await response.aclose()
            text = b"".join(received).decode(response.charset_encoding or "utf-8", "replace")
            self._record(request, response.status_code, _ms(t0), response, text)

    def _text_stream(
        self, method: str, path: str, *, json: Any, idempotency_key: str | None = None
    ) -> AsyncStream[str]:
        return AsyncStream(self._text_chunks(method, path, json, idempotency_key))

    async def _text_chunks(
        self, method: str, path: str, json: Any, idempotency_key: str | None = None
    ) -> AsyncIterator[str]:
        async with self._open_stream(
            method,
            path,
            params=None,
            json=json,
            accept="text/plain",
            idempotency_key=idempotency_key,
        ) as (
            response,
            chunks,
        ):
            from ._sse import TextDecoder  # streams only (start-up)

            decoder = TextDecoder(response.charset_encoding or "utf-8")
            partial: list[str] = []
            try:
                async for chunk in chunks:
                    text = decoder.decode(chunk)
                    if text:
                        partial.append(text)
                        yield text
                tail = decoder.flush()
                if tail:
                    partial.append(tail)
                    yield tail
            except httpx.TransportError as exc:
                raise self._interrupted(method, path, exc, "".join(partial)) from exc

    def _event_stream(
        self,
        method: str,
        path: str,
        model: type[M],
        *,
        params: Mapping[str, Any] | None,
        json: Any,
        idempotency_key: str | None = None,
    ) -> AsyncStream[StreamDelta | M]:
        return AsyncStream(self._events(method, path, model, params, json, idempotency_key))

    async def _events(
        self,
        method: str,
        path: str,
        model: type[M],
        params: Mapping[str, Any] | None,
        json: Any,
        idempotency_key: str | None = None,
    ) -> AsyncIterator[StreamDelta | M]:
        async with self._open_stream(
            method,
            path,
            params=params,
            json=json,
            accept="text/event-stream, application/json",
            idempotency_key=idempotency_key,
        ) as (response, chunks):
            request_id = response.headers.get("x-request-id")
            partial: list[str] = []
            ctype = response.headers.get("content-type", "").lower()
            if "text/event-stream" not in ctype:
                # The server answered with the whole reply at once: that is the final item.
                body: list[bytes] = []
                try:
                    async for chunk in chunks:
                        body.append(chunk)
                except httpx.TransportError as exc:
                    raise self._interrupted(method, path, exc, "") from exc
                try:
                    data = jsonlib.loads(b"".join(body))
                except ValueError:
                    raise PhantomError(
                        f"{method} {path}: expected an event stream or JSON, got "
                        f"{ctype or 'no content type'}"
                    ) from None
                yield self._validate_body(model, data, response)
                return
            from ._sse import SSEParser
            from .models import StreamDelta

            parser = SSEParser()
            try:
                async for chunk in chunks:
                    for event in parser.feed(chunk):
                        item = self._sse_item(event, model, partial, request_id, response)
                        if item is not None:
                            yield item
                            if not isinstance(item, StreamDelta):
                                return
                for event in parser.close():
                    item = self._sse_item(event, model, partial, request_id, response)
                    if item is not None:
                        yield item
                        if not isinstance(item, StreamDelta):
                            return
            except httpx.TransportError as exc:
                raise self._interrupted(method, path, exc, "".join(partial)) from exc
            raise StreamInterruptedError(
                f"{method} {path}: the stream ended before its final event",
                partial="".join(partial),
            )
