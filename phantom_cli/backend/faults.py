"""Fault injection (``phantom serve --faults``): a pure ASGI middleware, never on ``/health``.

Spec: comma-separated ``key:value`` items, for example
``503:0.2,429:0.1,latency:300ms,cut-stream:0.1,402:0.05``

- ``<status>:<p>`` — answer this 4xx/5xx status (with the error envelope) instead of handling the
  request, with probability ``p`` per request. The request never reaches a handler, so a retry
  is always safe. ``429`` and ``503`` carry ``Retry-After``.
- ``latency:<d>`` — delay every request by ``d`` (``300ms``, ``0.3s``, ``300`` = ms), or by a
  uniform draw in a range (``100-300ms``).
- ``cut-stream:<p>`` — cut a streamed response (``text/plain``, ``text/event-stream``) mid-way:
  half of its first chunk is sent, then the connection is dropped. The handler sees a failed
  send, so it saves no half-written reply.
- ``retry-after:<s>`` — the ``Retry-After`` seconds sent with 429/503 (default 1).
- ``seed:<n>`` — seed the fault RNG (reproducible runs; also ``ServerSettings.fault_seed``).

The spec in force is ``app.state.fault_state.faults`` (a :class:`FaultSpec` or None; the
middleware reads it on every request); tests may swap it there.
Stdlib only, so ``ServerSettings`` can validate a spec without importing the server.
"""

from __future__ import annotations

import asyncio
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
        streaming = False
        sse = False

        async def cutting_send(message: Any) -> None:
            nonlocal streaming, sse
            if message["type"] == "http.response.start":
                ctype = dict(message.get("headers") or []).get(b"content-type", b"")
                streaming = ctype.startswith(STREAM_TYPES)
                sse = ctype.startswith(b"text/event-stream")
                await send(message)
                return
            if streaming and message["type"] == "http.response.body":
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

        try:
            await self.app(scope, receive, cutting_send)
        except _CutStream:
            # returning without finishing the response makes the server drop the connection
            return
