"""Fault injection (``phantom serve --faults``): a pure ASGI middleware, never on ``/health``.

Spec: comma-separated ``key:value`` items, for example
``503:0.2,429:0.1,latency:300ms,cut-stream:0.1,402:0.05``

- ``<status>:<p>`` — answer this 4xx/5xx status (with the error envelope) instead of handling the
  request, with probability ``p`` per request. The request never reaches a handler, so a retry
  is always safe. ``429`` and ``503`` carry ``Retry-After``.
- ``latency:<d>`` — delay every request by ``d`` (``300ms``, ``0.3s``, ``300`` = ms), or by a
  uniform draw in a range (``100-300ms``).
- ``cut-stream:<p>`` — cut a streamed reply (``text/plain``, ``text/event-stream``) half-way:
  the engine's stream for this request (:func:`cut_engine`, hooked into ``get_engine``) is read
  whole, its first half is passed on, then :class:`ReplyCut` ends the handler and the
  connection is dropped. The handler never finishes, so it saves no half-written reply. A
  stream without an engine (a moderated turn) is cut in its first chunk instead: half of a
  plain-text chunk, or an SSE delta event carrying half of its text.
- ``retry-after:<s>`` — the ``Retry-After`` seconds sent with 429/503 (default 1).
- ``seed:<n>`` — seed the fault RNG (reproducible runs; also ``ServerSettings.fault_seed``).

The spec in force is ``app.state.fault_state.faults`` (a :class:`FaultSpec` or None; the
middleware reads it on every request); tests may swap it there.
Stdlib only, so ``ServerSettings`` can validate a spec without importing the server.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import CODES

SKIP_PATHS = frozenset({"/health"})
STREAM_TYPES = (b"text/plain", b"text/event-stream")

_DUR = re.compile(r"^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?\s*(ms|s)?$")


@dataclass
class FaultSpec:
    statuses: list[tuple[int, float]] = field(default_factory=list)
    latency: tuple[float, float] = (0.0, 0.0)  # seconds, uniform range
    cut_stream: float = 0.0
    retry_after: int = 1
    seed: int | None = None

    def __bool__(self) -> bool:
        return bool(self.statuses or self.latency[1] > 0 or self.cut_stream > 0)


def _prob(key: str, raw: str) -> float:
    try:
        p = float(raw)
    except ValueError:
        raise ValueError(f"faults: {key}: {raw!r} is not a probability (0–1)") from None
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"faults: {key}: probability must be between 0 and 1, got {raw}")
    return p


def parse_faults(spec: str) -> FaultSpec:
    """Parse a fault spec; ValueError names the faulty item and the limit."""
    out = FaultSpec()
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        key, sep, value = item.partition(":")
        key, value = key.strip().lower(), value.strip()
        if not sep or not value:
            raise ValueError(f"faults: {item!r}: expected key:value (e.g. 503:0.2, latency:300ms)")
        if key.isdigit():
            status = int(key)
            if not 400 <= status <= 599:
                raise ValueError(f"faults: {item!r}: status must be between 400 and 599")
            out.statuses.append((status, _prob(key, value)))
        elif key == "latency":
            m = _DUR.match(value.lower())
            if not m:
                raise ValueError(f"faults: {item!r}: latency like 300ms, 0.3s or 100-300ms")
            scale = 1.0 if m.group(3) == "s" else 0.001
            lo = float(m.group(1)) * scale
            hi = float(m.group(2)) * scale if m.group(2) else lo
            if hi < lo or hi > 60:
                raise ValueError(f"faults: {item!r}: latency range must be ordered and at most 60 s")
            out.latency = (lo, hi)
        elif key in ("cut-stream", "cut_stream"):
            out.cut_stream = _prob(key, value)
        elif key in ("retry-after", "retry_after"):
            if not value.isdigit() or int(value) > 3600:
                raise ValueError(f"faults: {item!r}: retry-after must be whole seconds, 0–3600")
            out.retry_after = int(value)
        elif key == "seed":
            try:
                out.seed = int(value)
            except ValueError:
                raise ValueError(f"faults: {item!r}: seed must be an integer") from None
        else:
            raise ValueError(
                f"faults: unknown item {key!r} (use <status>:<p>, latency:<d>, cut-stream:<p>, "
                "retry-after:<s>, seed:<n>)"
            )
    total = sum(p for _, p in out.statuses)
    if total > 1.0 + 1e-9:
        raise ValueError(f"faults: status probabilities add up to {total:g}, more than 1")
    return out


def half_of_first_chunk(body: bytes, sse: bool) -> bytes | None:
    """What a cut stream sends of the first chunk of its reply before the connection drops.

    A plain-text chunk: its first half, cut between characters (never inside a UTF-8
    sequence). An SSE ``delta`` event: a whole, well-formed delta event with the first half of
    its text — half of the event's *bytes* would be an unparsable event, and the client would
    see a reply cut "after 0 characters". Another SSE event (no reply text): None, sent as is.
    The cut comes at the handler's first send of reply text, so the handler sees a failed send
    and saves nothing half-written (the server cannot know a reply's length before it has
    finished it, and by then it has saved it)."""
    if sse:
        import json

        text = body.decode("utf-8", "replace")
        event = next((ln[6:].strip() for ln in text.splitlines() if ln.startswith("event:")), "")
        data = "".join(ln[5:].strip() for ln in text.splitlines() if ln.startswith("data:"))
        if event not in ("delta", "message", ""):
            return None
        try:
            payload = json.loads(data)
            piece = payload["text"]
        except (ValueError, KeyError, TypeError):
            return b""
        if not isinstance(piece, str) or not piece:
            return None
        payload["text"] = piece[: max(1, len(piece) // 2)]
        head = f"event: {event}\n" if event else ""
        return f"{head}data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()
    text = body.decode("utf-8", "replace")
    if len(text) <= 1:
        return b""
    return text[: len(text) // 2].encode()


class CutState:
    """One request's cut-stream draw: whether the response is a stream, and whether an engine
    stream has taken the cut (the first one the request reads)."""

    def __init__(self) -> None:
        self.streaming = False
        self.used = False


_CUT: contextvars.ContextVar[CutState | None] = contextvars.ContextVar("phantom_cut", default=None)


class ReplyCut(BaseException):
    """Ends a handler half-way through a streamed reply. A BaseException, so no handler's
    ``except Exception`` turns it into an error event; the fault middleware catches it and
    drops the connection."""


def cut_engine(engine: Any) -> Any:
    """``engine``, or — when this request drew ``cut-stream`` — a wrapper whose next stream
    stops half-way through the reply (by characters). Called by ``engines.get_engine``."""
    state = _CUT.get()
    if state is None or state.used:
        return engine
    return _CutEngine(engine, state)


class _CutEngine:
    def __init__(self, inner: Any, state: CutState) -> None:
        self._inner, self._state = inner, state

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        return self._stream(args, kwargs)

    async def _stream(self, args: Any, kwargs: Any) -> Any:
        state = self._state
        if state.used:  # another stream of this request took the cut
            async for chunk in self._inner.stream(*args, **kwargs):
                yield chunk
            return
        state.used = True
        chunks = [chunk async for chunk in self._inner.stream(*args, **kwargs)]
        half = sum(len(c) for c in chunks) // 2
        sent = 0
        for chunk in chunks:
            if state.streaming and half > 0 and sent + len(chunk) >= half:
                if half > sent:
                    yield chunk[: half - sent]
                raise ReplyCut()
            sent += len(chunk)
            yield chunk


def _is_cut(exc: BaseException) -> bool:
    if isinstance(exc, (ReplyCut, _CutStream)):
        return True
    inner = getattr(exc, "exceptions", None)  # an exception group from a task group
    return bool(inner) and all(_is_cut(e) for e in inner)


class _CutStream(Exception):
    """Raised into the handler's ``send`` to abort a streamed response mid-way."""


class FaultMiddleware:
    def __init__(self, app: Any, state: Any) -> None:
        self.app = app
        self.state = state  # app.state.fault_state: reads .faults on every request
        self.rng = random.Random()
        self._seeded: int | None = None

    def _rng_for(self, spec: FaultSpec) -> random.Random:
        if spec.seed is not None and spec.seed != self._seeded:
            self.rng.seed(spec.seed)
            self._seeded = spec.seed
        return self.rng

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        spec: FaultSpec | None = getattr(self.state, "faults", None)
        if scope["type"] != "http" or not spec or scope.get("path") in SKIP_PATHS:
            await self.app(scope, receive, send)
            return
        rng = self._rng_for(spec)
        lo, hi = spec.latency
        if hi > 0:
            await asyncio.sleep(lo if hi == lo else rng.uniform(lo, hi))
        draw = rng.random()
        acc = 0.0
        for status, p in spec.statuses:
            acc += p
            if draw < acc:
                await self._fail(send, status, spec.retry_after)
                return
        if spec.cut_stream and rng.random() < spec.cut_stream:
            await self._cut(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    async def _fail(send: Any, status: int, retry_after: int) -> None:
        code = CODES.get(status, "SERVICE_UNAVAILABLE" if status >= 500 else "INVALID_REQUEST")
        body = json.dumps({"error": {"code": code, "message": f"injected fault: {status} {code}"}}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"x-phantom-fault", str(status).encode())]
        if status in (429, 503):
            headers.append((b"retry-after", str(retry_after).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _cut(self, scope: Any, receive: Any, send: Any) -> None:
        state = CutState()
        sse = False

        async def cutting_send(message: Any) -> None:
            nonlocal sse
            if message["type"] == "http.response.start":
                ctype = dict(message.get("headers") or []).get(b"content-type", b"")
                state.streaming = ctype.startswith(STREAM_TYPES)
                sse = ctype.startswith(b"text/event-stream")
                await send(message)
                return
            if state.streaming and not state.used and message["type"] == "http.response.body":
                # no engine stream to cut half-way: cut in the first chunk of the reply
                body = message.get("body", b"")
                if body:
                    half = half_of_first_chunk(body, sse)
                    if half is None:  # an SSE event that carries no reply text: as it is
                        await send(message)
                        return
                    if half:
                        await send({"type": "http.response.body", "body": half, "more_body": True})
                    raise _CutStream()
                if not message.get("more_body", False):
                    raise _CutStream()  # an empty stream: cut before it ends cleanly
            await send(message)

        token = _CUT.set(state)
        try:
            await self.app(scope, receive, cutting_send)
        except BaseException as exc:
            if not _is_cut(exc):
                raise
            # returning without finishing the response makes the server drop the connection
            return
        finally:
            _CUT.reset(token)
