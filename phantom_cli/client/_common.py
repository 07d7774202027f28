"""What the sync and async clients share: settings, redaction, error mapping, retry delays,
response parsing and the record of the last exchange.

Start-up rule: the transport (this module, ``_core_*``, ``errors``, ``_sse``, ``_streams``)
imports no pydantic; ``models`` is loaded by the typed resources, or here at the first
validation. A raw JSON page (``_get_page(None, …)``) needs no model at all.
"""

from __future__ import annotations

import email.utils
import functools
import html
import ipaddress
import json as jsonlib
import os
import random
import re
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlsplit

import httpx

from phantom_cli._text import ZERO_WIDTH, unsafe_re

from . import paths
from .errors import (
    CODE_STATUS,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InvalidInputError,
    NotFoundError,
    PhantomError,
    StreamInterruptedError,
    status_error_class,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ._sse import ServerSentEvent
    from .models import StreamDelta

M = TypeVar("M", bound="BaseModel")

DEFAULT_BASE_URL = "https://api.phantomrouter.ai"
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 2
RETRY_STATUSES = frozenset({429, 503})
BACKOFF_BASE = 0.5  # seconds; attempt n waits uniform(0, min(BACKOFF_CAP, BASE * 2**n))
BACKOFF_CAP = 8.0
RETRY_AFTER_CAP = 60.0  # a longer Retry-After is not waited for: the error is raised
EXCERPT_CHARS = 200
MAX_RECORDED_BODY = 1_000_000  # characters of a body kept in last_exchange

DebugHook = Callable[[str, str, "int | None", float, dict[str, str]], None]
TimeoutArg = float | int | tuple[float, float] | httpx.Timeout | None


def user_agent() -> str:
    from phantom_cli import __version__

    return f"phantom-cli/{__version__}"


def make_timeout(timeout: TimeoutArg) -> httpx.Timeout:
    """None → connect 5 s / read 60 s; a number → that for everything; (connect, read)."""
    if timeout is None:
        return httpx.Timeout(DEFAULT_READ_TIMEOUT, connect=DEFAULT_CONNECT_TIMEOUT)
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if isinstance(timeout, tuple):
        connect, read = timeout
        return httpx.Timeout(read, connect=connect)
    return httpx.Timeout(float(timeout))


@functools.lru_cache(maxsize=1)
def shared_ssl_context() -> ssl.SSLContext:
    """One verifying TLS context per process (loading the CA bundle costs ~0.2 s)."""
    return httpx.create_ssl_context()


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").strip("[]").lower()
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


LOCAL_EXTENSION_PREFIXES = (
    paths.LOCAL + "/",
    paths.GENERATE_JOB.split("{", 1)[0],
)


def is_local_extension(path: str) -> bool:
    return path == paths.HEALTH or any(path.startswith(p) for p in LOCAL_EXTENSION_PREFIXES)


@dataclass(frozen=True)
class Exchange:
    """The last request and response, as sent and received (the key redacted)."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str | None
    status: int | None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str | None = None
    elapsed_ms: float = 0.0

    def request_json(self) -> Any:
        return _maybe_json(self.request_body)

    def response_json(self) -> Any:
        return _maybe_json(self.response_body)


def _maybe_json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return jsonlib.loads(text)
    except ValueError:
        return text


_TAG = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.S | re.I)
# the unsafe characters (phantom_cli._text) and zero-width ones; tab and newline become spaces
_CTRL = unsafe_re(keep="\t\n", extra=ZERO_WIDTH)
_WS = re.compile(r"\s+")


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """A short, single-line, tag- and control-character-free excerpt of a body."""
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    text = _CTRL.sub("", text)
    text = _WS.sub(" ", text).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date); None if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        secs = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        secs = when.timestamp() - (time.time() if now is None else now)
    if secs != secs:  # NaN
        return None
    return max(0.0, secs)


class BaseClient:
    """Settings and the pure helpers of both clients."""

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
    ) -> None:
        base = base_url or os.environ.get("PHANTOM_BASE_URL") or DEFAULT_BASE_URL
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidInputError([("base_url", "must be an http:// or https:// URL")])
        self.base_url = base.rstrip("/")
        key = api_key if api_key is not None else os.environ.get("PHANTOM_API_KEY")
        key = (key or "").strip()
        if any(ch.isspace() or not ch.isprintable() for ch in key):
            # checked here: httpx's own error would quote the header value, key included
            raise InvalidInputError([("api_key", "must not contain spaces or control characters")])
        self._api_key: str | None = key or None
        if max_retries < 0:
            raise InvalidInputError([("max_retries", "must be at least 0")])
        self.max_retries = int(max_retries)
        self.timeout = make_timeout(timeout)
        self.debug_hook = debug_hook
        self.backend: str = backend or ("local" if is_loopback(self.base_url) else "hosted")
        self._extra_headers = dict(headers or {})
        self.last_exchange: Exchange | None = None
        self._rng = random.Random()

    @property
    def _trust_env(self) -> bool:
        """Environment proxies apply to the hosted API, never to the loopback backend."""
        return self.backend != "local"

    def _verify(self) -> ssl.SSLContext | bool:
        """A plain-http local backend never speaks TLS (no proxy, no redirects, fixed host),
        so it skips loading the CA bundle; everything else verifies certificates."""
        if urlsplit(self.base_url).scheme == "http" and not self._trust_env:
            return False
        return shared_ssl_context()

    # ------------------------------------------------------------------ identity / secrecy

    @property
    def has_api_key(self) -> bool:
        return self._api_key is not None

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return (
            f"{type(self).__name__}(base_url={self._scrub(self.base_url)!r}, backend={self.backend!r}, "
            f"api_key={key}, max_retries={self.max_retries})"
        )

    __str__ = __repr__

    def _scrub(self, text: str) -> str:
        """Remove the key and URL passwords from text that will be shown (a server might echo
        it; a base URL may carry ``user:password@``)."""
        from phantom_cli.config.settings import redact_credentials

        if self._api_key and self._api_key in text:
            text = text.replace(self._api_key, "***")
        return redact_credentials(text)

    def _headers(self, accept: str = "application/json") -> dict[str, str]:
        h = {"User-Agent": user_agent(), "Accept": accept, **self._extra_headers}
        if self._api_key:
            h["Authorization"] = f"Bearer {self._api_key}"
        return h

    @staticmethod
    def redact(headers: Mapping[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for k, v in headers.items():
            low = k.lower()
            if low in ("authorization", "proxy-authorization"):
                scheme = v.split(" ", 1)[0] if " " in v else "Bearer"
                out[k] = f"{scheme} ***"
            elif low in ("cookie", "set-cookie", "x-api-key"):
                out[k] = "***"
            else:
                out[k] = v
        return out

    def _check_path(self, path: str) -> str:
        if not isinstance(path, str) or not path:
            raise InvalidInputError([("path", "must not be empty")])
        parts = urlsplit(path)
        if parts.scheme or parts.netloc:
            if not path.startswith(self.base_url + "/"):
                raise InvalidInputError(
                    [("path", "must be a path on the base URL (the key is not sent elsewhere)")]
                )
            path = path[len(self.base_url) :]
        if not path.startswith("/"):
            path = "/" + path
        return path

    # ------------------------------------------------------------------ recording

    def _record(
        self,
        request: httpx.Request,
        status: int | None,
        elapsed_ms: float,
        response: httpx.Response | None = None,
        response_body: str | None = None,
    ) -> None:
        req_headers = self.redact(request.headers)
        try:
            body = request.content.decode("utf-8", errors="replace") if request.content else None
        except httpx.RequestNotRead:  # pragma: no cover - we never stream request bodies
            body = None
        if body is not None:
            body = self._scrub(body)
        if response_body is not None:
            response_body = self._scrub(response_body[:MAX_RECORDED_BODY])
        self.last_exchange = Exchange(
            method=request.method,
            url=self._scrub(str(request.url)),
            request_headers=req_headers,
            request_body=body,
            status=status,
            response_headers=self.redact(response.headers) if response is not None else {},
            response_body=response_body,
            elapsed_ms=round(elapsed_ms, 3),
        )
        if self.debug_hook is not None:
            self.debug_hook(
                request.method,
                self._scrub(str(request.url)),
                status,
                round(elapsed_ms, 3),
                req_headers,
            )

    # ------------------------------------------------------------------ retries

    def _retry_delay(self, attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before retry number ``attempt`` (0-based), or None: do not retry."""
        if attempt >= self.max_retries:
            return None
        if response is not None:
            ra = parse_retry_after(response.headers.get("retry-after"))
            if ra is not None:
                return ra if ra <= RETRY_AFTER_CAP else None
        return self._rng.uniform(0.0, min(BACKOFF_CAP, BACKOFF_BASE * (2**attempt)))

    def _transport_retry_delay(self, attempt: int, exc: httpx.TransportError) -> float | None:
        """Connection errors are retried; a read/write timeout is not (the server may be
        working on a non-idempotent request)."""
        if isinstance(exc, httpx.ReadTimeout | httpx.WriteTimeout):
            return None
        return self._retry_delay(attempt, None)

    def _transport_error(self, request: httpx.Request, exc: httpx.TransportError) -> PhantomError:
        where = f"{request.method} {request.url.path}"
        detail = self._scrub(excerpt(str(exc) or type(exc).__name__))
        if isinstance(exc, httpx.TimeoutException):
            kind = {
                httpx.ConnectTimeout: "connecting",
                httpx.ReadTimeout: "waiting for the answer",
                httpx.WriteTimeout: "sending the request",
                httpx.PoolTimeout: "waiting for a free connection",
            }.get(type(exc), "")
            return APITimeoutError(
                f"{where}: timed out{' ' + kind if kind else ''} ({self._scrub(self.base_url)})",
                url=self._scrub(str(request.url)),
            )
        return APIConnectionError(
            f"{where}: could not reach {self._scrub(self.base_url)}: {detail}",
            url=self._scrub(str(request.url)),
        )

    def _interrupted(
        self, method: str, path: str, exc: Exception, partial: str
    ) -> StreamInterruptedError:
        detail = self._scrub(excerpt(str(exc) or type(exc).__name__))
        return StreamInterruptedError(
            f"{method} {path}: the stream was cut after {len(partial)} characters: {detail}",
            partial=partial,
        )

    def _sse_item(
        self,
        event: ServerSentEvent,
        model: type[M],
        partial: list[str],
        request_id: str | None,
        response: httpx.Response,
    ) -> StreamDelta | M | None:
        """One SSE event → a delta, the final response, an exception, or None (ignored)."""
        if event.event == "error":
            raise self._event_error(event.data, request_id)
        if event.event not in ("delta", "done"):
            return None  # pings, comments-as-events, unknown future events
        try:
            data = jsonlib.loads(event.data)
        except ValueError:
            raise PhantomError(
                f"{response.request.method} {response.request.url.path}: a {event.event!r} "
                f"event whose data is not JSON: {excerpt(event.data)!r}"
            ) from None
        if event.event == "delta":
            from .models import StreamDelta

            delta = self._validate_body(StreamDelta, data, response)
            partial.append(delta.text)
            return delta
        return self._validate_body(model, data, response)

    # ------------------------------------------------------------------ errors

    def _status_error(self, response: httpx.Response, text: str | None = None) -> APIStatusError:
        status = response.status_code
        if text is None:
            try:
                text = response.text
            except (httpx.ResponseNotRead, UnicodeDecodeError):
                text = ""
        request_id = response.headers.get("x-request-id")
        code: str | None = None
        message: str | None = None
        details: Any = None
        data: Any = None
        ctype = response.headers.get("content-type", "")
        if text and ("json" in ctype or text.lstrip().startswith("{")):
            try:
                data = jsonlib.loads(text)
            except ValueError:
                data = None
        if isinstance(data, dict):
            err = data.get("error")
            if isinstance(err, dict):
                code = _str_or_none(err.get("code"))
                message = _str_or_none(err.get("message"))
                details = err.get("details")
                request_id = request_id or _str_or_none(err.get("request_id"))
            elif isinstance(err, str):
                message = err
            if message is None and isinstance(data.get("detail"), str):
                message = data["detail"]
            if message is None and isinstance(data.get("message"), str):
                message = data["message"]
            request_id = request_id or _str_or_none(data.get("request_id"))
        reason = response.reason_phrase or httpx.codes.get_reason_phrase(status) or "error"
        if message is None:
            snippet = excerpt(text or "")
            message = f"HTTP {status} {reason}" + (f": {snippet}" if snippet else " (empty body)")
        path = response.request.url.path if response.request is not None else ""
        cls = status_error_class(status)
        if status == 404 and self.backend != "local" and is_local_extension(path):
            cls = NotFoundError
            message = f"{path}: not available on this backend (local-backend extension)"
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return cls(
            self._scrub(message),
            status=status,
            code=code,
            details=details,
            request_id=request_id,
            retry_after=retry_after,
            response_text=self._scrub((text or "")[: EXCERPT_CHARS * 20]),
        )

    def _event_error(self, data: str, request_id: str | None) -> APIStatusError:
        """An ``event: error`` of an SSE stream (its data is the error envelope)."""
        try:
            obj = jsonlib.loads(data)
        except ValueError:
            obj = None
        err = obj.get("error") if isinstance(obj, dict) else None
        if not isinstance(err, dict):
            return status_error_class(500)(
                self._scrub("stream error: " + excerpt(data)), status=500, request_id=request_id
            )
        code = _str_or_none(err.get("code"))
        status = err.get("status") or obj.get("status")  # err is a dict: so is obj
        if not isinstance(status, int):
            status = CODE_STATUS.get(code or "", 500)
        return status_error_class(status)(
            self._scrub(_str_or_none(err.get("message")) or "stream error"),
            status=status,
            code=code,
            details=err.get("details"),
            request_id=request_id or _str_or_none(err.get("request_id")),
        )

    # ------------------------------------------------------------------ parsing

    def _parse(self, model: type[M], response: httpx.Response) -> M:
        return self._validate_body(model, self._json(response), response)

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise PhantomError(
                f"{response.request.method} {response.request.url.path}: the server answered "
                f"{response.status_code} with a body that is not JSON: {excerpt(response.text)!r}"
            ) from None

    def _validate_body(self, model: type[M], data: Any, response: httpx.Response | None) -> M:
        from pydantic import ValidationError

        try:
            return model.model_validate(data)
        except ValidationError as exc:
            where = (
                f"{response.request.method} {response.request.url.path}"
                if response is not None
                else model.__name__
            )
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}"
                for e in exc.errors(include_url=False, include_input=False)[:5]
            )
            raise PhantomError(
                f"{where}: unexpected response shape for {model.__name__}: {problems}"
            ) from None

    def _page(self, model: type[M] | None, response: httpx.Response) -> Any:
        """A ``Page[model]``; with ``model=None`` the page as the server sent it (a dict whose
        ``data`` is a list of objects; nothing else is checked or changed)."""
        data = self._json(response)
        if isinstance(data, list):  # a bare list: one complete page
            data = {"data": data, "next_cursor": None, "has_more": False}
        if model is None:
            items = data.get("data") if isinstance(data, dict) else None
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise PhantomError(
                    f"{response.request.method} {response.request.url.path}: unexpected "
                    "response shape for a page: expected a 'data' list of objects"
                )
            return data
        from .models import Page

        return self._validate_body(Page[model], data, response)  # type: ignore[valid-type]


def _str_or_none(v: Any) -> str | None:
    return v if isinstance(v, str) and v else (str(v) if isinstance(v, int | float) else None)


def compact_query(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Drop None values; booleans become ``true``/``false`` (httpx does that too)."""
    if not params:
        return None
    out = {k: v for k, v in params.items() if v is not None}
    return out or None


def new_idempotency_key() -> str:
    """A fresh ``Idempotency-Key``: 128 random bits, hex."""
    import secrets

    return secrets.token_hex(16)


def idempotency_key_for(method: str, given: str | None) -> str | None:
    """The ``Idempotency-Key`` of one call: ``given`` if any, else a new one for a POST (every
    POST that creates something is deduplicated by the server on it), else None. Made once per
    call, before its retry loop, so the client's own retries carry the same key."""
    if given:
        return given
    return new_idempotency_key() if method.upper() == "POST" else None
