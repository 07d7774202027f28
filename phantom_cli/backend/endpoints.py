"""A small declarative layer over Starlette routes.

::

    from phantom_cli.backend.endpoints import Ctx, endpoint
    from phantom_cli.client import models as m

    @endpoint("GET", "/api/v1/skins/{id}", scope="skins", response=m.Skin, summary="Get a skin")
    async def get_skin(ctx: Ctx) -> m.Skin:
        row = ctx.db.execute("SELECT ... WHERE id = ?", (ctx.params["id"],)).fetchone()
        ...

    routes = [get_skin]          # the decorator returns a starlette Route

The decorator authenticates (every route needs a key unless ``public=True``), checks the scope
(``scope=None``: any valid key), parses the query into ``query=`` model and the JSON body into
``body=`` model (400 ``INVALID_REQUEST`` with ``loc ["query"|"body", …]``), and turns the return
value into a response: a pydantic model or dict/list → JSON with ``status``; a ``RawJSON`` →
pre-serialised JSON bytes; a starlette ``Response`` → as is. The metadata feeds /openapi.json.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from . import idempotency as idem
from .auth import User, require
from .errors import ApiError

# Bytes of a JSON body. The largest documented request (seed 000: 100 messages of 16,000
# characters plus every persona field at its maximum) is about 9.7 MB when non-ASCII text is
# escaped as \uXXXX (json.dumps's default); the cap sits well above it. Over it: 413.
MAX_BODY = 16 * 1024 * 1024


@dataclass
class EndpointMeta:
    method: str
    path: str
    scope: str | None
    public: bool
    query: type[BaseModel] | None
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    paged: bool
    status: int
    summary: str
    media_type: str
    errors: Sequence[int]
    idempotent: bool = False


@dataclass
class Ctx:
    """What a handler gets: the request, the caller, the parsed query and body."""

    request: Request
    user: User  # for public routes a placeholder with no scopes
    query: Any
    body: Any

    @property
    def app(self) -> Any:
        return self.request.app

    @property
    def settings(self) -> Any:
        return self.request.app.state.settings

    @property
    def db(self) -> Any:
        """The event loop's sqlite3 connection (never use it from another thread)."""
        return self.request.app.state.db

    @property
    def params(self) -> dict[str, str]:
        return self.request.path_params


class RawJSON:
    """An already-serialised JSON body (fast path for listings of stored JSON)."""

    __slots__ = ("data", "status")

    def __init__(self, data: bytes | str, status: int = 200) -> None:
        self.data = data.encode("utf-8") if isinstance(data, str) else data
        self.status = status


def page_json(items: Sequence[str | bytes], next_cursor: str | None, has_more: bool) -> RawJSON:
    """``{"data": [...], "next_cursor", "has_more"}`` from items that are JSON text already."""
    parts = [i.encode("utf-8") if isinstance(i, str) else i for i in items]
    tail = json.dumps({"next_cursor": next_cursor, "has_more": has_more})[1:]
    return RawJSON(b'{"data":[' + b",".join(parts) + b"]," + tail.encode("ascii"))


def validation_details(exc: ValidationError, where: str) -> list[dict[str, Any]]:
    out = []
    for e in exc.errors(include_url=False):
        loc = [where, *[p for p in e.get("loc", ()) if p != "__root__"]]
        out.append({"loc": loc, "msg": str(e.get("msg", "invalid value"))})
    return out


def invalid_from(exc: ValidationError, where: str) -> ApiError:
    details = validation_details(exc, where)
    first = details[0] if details else {"loc": [where], "msg": "invalid"}
    loc = ".".join(str(p) for p in first["loc"])
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return ApiError(400, message=f"{loc}: {first['msg']}{more}", details=details)


_QUERY_NAMES: dict[type[BaseModel], frozenset[str]] = {}


def _query_names(model: type[BaseModel]) -> frozenset[str]:
    names = _QUERY_NAMES.get(model)
    if names is None:
        names = frozenset(
            n for name, f in model.model_fields.items() for n in (name, f.alias) if n
        )
        _QUERY_NAMES[model] = names
    return names


def parse_query(model: type[BaseModel], request: Request) -> BaseModel:
    raw: dict[str, Any] = {}
    known = _query_names(model)
    for k, v in request.query_params.multi_items():
        if k not in known:
            msg = f"unknown query parameter (known: {', '.join(sorted(known)) or 'none'})"
            raise ApiError(400, message=f"{k}: {msg}", details=[{"loc": ["query", k], "msg": msg}])
        raw[k] = v  # last one wins for repeated keys
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise invalid_from(exc, "query") from None


def _too_large(limit: int) -> ApiError:
    return ApiError(413, message=f"body: larger than {limit} bytes ({limit // (1024 * 1024)} MiB)",
                    details=[{"loc": ["body"], "msg": f"at most {limit} bytes"}])


SPOOL_IN_MEMORY = 1024 * 1024  # bytes of a chunked body kept in memory; the rest goes to a temp file


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The raw body, read as a stream and counted: 413 as soon as it passes ``limit`` bytes.

    A ``Content-Length`` over the limit is refused before a byte is read. A body without one
    (``Transfer-Encoding: chunked``) is spooled: the first ``SPOOL_IN_MEMORY`` bytes in memory,
    the rest in an unnamed temp file, so an oversize upload never grows the server's memory by
    more than about that much. (After the 413, uvicorn discards the rest of the upload unread.)
    """
    length = request.headers.get("content-length")
    if length is not None and length.strip().isdigit():
        declared = int(length)
        if declared > limit:
            raise _too_large(limit)
        buf = bytearray()
        async for chunk in request.stream():
            buf += chunk
            if len(buf) > limit:  # the framing makes this impossible; stay safe anyway
                raise _too_large(limit)
        return bytes(buf)
    import tempfile

    size = 0
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            spool.write(chunk)
        spool.seek(0)
        return spool.read()


async def read_json(request: Request, limit: int = MAX_BODY) -> Any:
    """The request's JSON body (``{}`` when empty): 413 over ``limit`` bytes (:func:`read_body`);
    400 ``INVALID_REQUEST`` naming the problem if it is not UTF-8 JSON, nests deeper than
    ``safejson.MAX_DEPTH`` or holds an integer outside 64 bits (:func:`safejson.loads`)."""
    from .safejson import JSONInputError, loads

    raw = await read_body(request, limit)
    if not raw.strip():
        return {}
    try:
        return loads(raw)
    except JSONInputError as exc:
        raise ApiError(400, message=f"body: {exc}", details=[{"loc": ["body"], "msg": str(exc)}]) from None


def validate_body(model: type[BaseModel], data: Any, *, strict: bool = True) -> BaseModel:
    """``data`` (a decoded JSON body) as ``model``; 400 with ``loc ["body", …]`` otherwise.

    ``strict``: JSON types must match the schema (no 0 for false, no "1" for 1).
    """
    if not isinstance(data, dict):
        raise ApiError(400, message="body: must be a JSON object",
                       details=[{"loc": ["body"], "msg": "must be a JSON object"}])
    try:
        return model.model_validate(data, strict=strict)
    except ValidationError as exc:
        raise invalid_from(exc, "body") from None


async def parse_body(model: type[BaseModel], request: Request) -> BaseModel:
    return validate_body(model, await read_json(request))


class ClosingStreamingResponse(StreamingResponse):
    """A StreamingResponse that always closes its body generator when it stops.

    Starlette leaves an interrupted generator (client gone, fault cut) to the garbage collector;
    closing it at once runs its ``finally`` (cancel the engine, skip saving a partial reply) now.
    """

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                await aclose()


class _Failed:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = object()


def stream_response(request: Request, body: Any, *, media_type: str,
                    headers: dict[str, str] | None = None) -> ClosingStreamingResponse:
    """A streamed reply whose generation does not depend on the client staying.

    The rule for every streaming route: ``body`` (the generator that streams the reply and saves
    it at its end) runs to completion in a server task, whether or not the client reads it; the
    response only relays its chunks. So a reply that is generated is saved, even when the client
    closed the connection after the first chunk (Ctrl-C); a retry with the same ``Idempotency-Key``
    then replays it instead of producing a second exchange. A failure of the generator (engine
    down mid-way) saves nothing and is relayed to the client as a cut stream (or an ``error``
    event, for SSE), and releases the key.
    """
    queue: asyncio.Queue[Any] = asyncio.Queue()
    claim = getattr(request.state, "idempotency", None)
    started = False

    def start() -> None:
        """Start generating: when the response starts streaming, or when it ends without
        having streamed (the client left before the headers): either way, exactly once."""
        nonlocal started
        if not started:
            started = True
            from .app import spawn

            spawn(request.app, pump())

    async def relay() -> AsyncIterator[Any]:
        start()
        while True:
            item = await queue.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item

    response = _DetachedStreamingResponse(relay(), media_type=media_type, headers=headers)
    response.start = start  # type: ignore[attr-defined]
    ctype = response.headers.get("content-type", media_type)

    async def pump() -> None:
        chunks: list[bytes] = []
        ok = False
        try:
            async for chunk in body:
                chunks.append(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
                queue.put_nowait(chunk)
            ok = True
        except asyncio.CancelledError:  # server shutdown: nothing saved
            queue.put_nowait(_Failed(ConnectionAbortedError("the server is shutting down")))
            raise
        except BaseException as exc:  # noqa: BLE001 - relayed to the client's side (a fault
            queue.put_nowait(_Failed(exc))  # mode ReplyCut too: it drops the connection there)
        finally:
            queue.put_nowait(_END)
            aclose = getattr(body, "aclose", None)
            if aclose is not None:
                await aclose()
            if claim is not None:
                if ok and not (chunks and chunks[-1].startswith(b"event: error")):
                    claim.complete(200, ctype, b"".join(chunks))
                else:
                    claim.release()

    return response


class _DetachedStreamingResponse(ClosingStreamingResponse):
    """``stream_response``'s response: its generation runs on when the response stops."""

    detached = True
    start: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self.start is not None:
                self.start()


def sse(event: str, data: Any) -> bytes:
    """One server-sent event: ``event: <event>`` and ``data: <JSON>``."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def sse_response(events: Any, request: Request | None = None) -> ClosingStreamingResponse:
    """A ``text/event-stream`` response of ``events`` (an async iterator of ``sse`` bytes).

    With ``request``, the events are generated to the end whatever the client does (see
    ``stream_response``)."""
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    if request is not None:
        return stream_response(request, events, media_type="text/event-stream", headers=headers)
    return ClosingStreamingResponse(events, media_type="text/event-stream", headers=headers)


_ANON = User(id="", name="", scopes=frozenset(), key_id="")


def to_response(result: Any, status: int) -> Response:
    if isinstance(result, Response):
        return result
    if isinstance(result, RawJSON):
        return Response(result.data, status_code=result.status, media_type="application/json")
    if isinstance(result, BaseModel):
        return JSONResponse(result.model_dump(mode="json", by_alias=True), status_code=status)
    if result is None:
        return Response(status_code=204 if status == 200 else status)
    return JSONResponse(result, status_code=status)


Handler = Callable[[Ctx], Awaitable[Any]]


def endpoint(
    method: str,
    path: str,
    *,
    scope: str | None,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    paged: bool = False,
    status: int = 200,
    summary: str = "",
    public: bool = False,
    media_type: str = "application/json",
    errors: Sequence[int] = (),
    idempotent: bool = False,
) -> Callable[[Handler], Route]:
    """Declare a route; see the module docstring. ``scope`` is required (None = any key).

    ``idempotent=True`` (POSTs that create something): an ``Idempotency-Key`` header makes a
    repeat of the same request replay the stored outcome (see ``idempotency``).
    """

    meta = EndpointMeta(
        method=method.upper(), path=path, scope=scope, public=public, query=query, body=body,
        response=response, paged=paged, status=status, summary=summary, media_type=media_type,
        errors=tuple(errors), idempotent=idempotent,
    )

    def decorate(fn: Handler) -> Route:
        async def asgi_endpoint(request: Request) -> Response:
            user = _ANON if public else require(request, scope)
            q = parse_query(query, request) if query is not None else None
            b = await parse_body(body, request) if body is not None else None
            claim = None
            if idempotent and (key := idem.key_of(request)) is not None:
                fp = idem.fingerprint(meta.method, request.url.path, request.url.query,
                                      b.model_dump(mode="json") if b is not None else None)
                got = await idem.claim_or_replay(request.app.state.db, user.id, key,
                                                 f"{meta.method} {request.url.path}", fp)
                if isinstance(got, idem.Stored):
                    return idem.replay_response(got)
                claim = request.state.idempotency = got
            try:
                response = to_response(await fn(Ctx(request=request, user=user, query=q, body=b)), status)
            except BaseException:
                if claim is not None:
                    claim.release()
                raise
            if claim is not None and not getattr(response, "detached", False):
                if isinstance(response, StreamingResponse):
                    claim.release()  # a stream not made by stream_response: nothing to replay
                else:
                    claim.complete(response.status_code, response.headers.get("content-type", ""),
                                   bytes(response.body))
            return response

        asgi_endpoint.__name__ = fn.__name__
        asgi_endpoint.__doc__ = fn.__doc__
        route = Route(path, asgi_endpoint, methods=[meta.method], name=f"{meta.method} {path}")
        route.phantom_meta = meta  # type: ignore[attr-defined]
        return route

    return decorate
