"""The Starlette application factory.

``create_app(settings)`` builds the app from the explicit lists in ``registry`` (route modules,
migration areas in order, job kinds, start-up and shut-down hooks): it applies the migrations,
creates the local user and key on first start, and installs the error envelope for every failure.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from . import db as dbmod
from .auth import ensure_local_key
from .errors import ApiError
from .faults import FaultMiddleware, parse_faults
from .settings import ServerSettings

log = logging.getLogger("phantom.backend")

Hook = Callable[[Starlette], Awaitable[None]]


# --------------------------------------------------------------------------- error envelope


def error_response(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers or None)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        err = ApiError(404, message=f"no such route: {request.method} {request.url.path}")
    elif exc.status_code == 405:
        allowed = _allowed_methods(request)
        err = ApiError(405, message=f"method {request.method} not allowed on {request.url.path}"
                       f" (allowed: {', '.join(allowed)})", headers={"Allow": ", ".join(allowed)})
    else:
        err = ApiError(exc.status_code, message=str(exc.detail), headers=dict(exc.headers or {}))
    return error_response(err)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (routes are split per method)."""
    from starlette.routing import Match

    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches(request.scope)  # PARTIAL: the path matches, the method not
        if match != Match.NONE and getattr(route, "methods", None):
            methods |= set(route.methods)
    return sorted(methods)


async def _server_error(request: Request, exc: Exception) -> Response:
    from phantom_cli.config.settings import storage_problem

    disk = storage_problem(exc, request.app.state.settings.db_path)
    if disk is not None:  # full disk, read-only folder: say it to the caller too, not only the log
        log.error("%s %s: %s (%s)", request.method, request.url.path, disk, exc)
        return error_response(ApiError(500, message=f"the local server {disk}",
                                       details={"storage": disk}))
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(ApiError(500, message="internal server error (see the server log)"))


# --------------------------------------------------------------------------- middleware


class ActivityMiddleware:
    """Counts requests in flight and the time of the last one (idle exit, /local/info)."""

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        st = self.state
        st.inflight += 1
        st.last_request = time.monotonic()
        try:
            await self.app(scope, receive, send)
        finally:
            st.inflight -= 1
            st.last_request = time.monotonic()


class BodyTimeoutMiddleware:
    """Answers 408 and closes the connection when a request body stalls: each piece of the
    body must arrive within ``settings.body_timeout`` seconds (a half-sent body held a
    connection, a handler and the idle exit for ever). A client that goes away mid-upload is
    one INFO line, not an ERROR with a traceback."""

    def __init__(self, app: ASGIApp, settings: Any) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        timeout = float(getattr(self.settings, "body_timeout", 30.0))
        body_done = False
        started = False

        async def timed_receive() -> Any:
            nonlocal body_done
            if body_done:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), timeout)
            except TimeoutError:
                raise _BodyStalled(timeout) from None
            if message["type"] == "http.disconnect":
                body_done = True
                raise _ClientGone()
            if not message.get("more_body", False):
                body_done = True
            return message

        async def tracked_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, tracked_send)
        except _BodyStalled as exc:
            log.info("%s %s: request body stalled for %.0f s: answered 408 and closed",
                     scope.get("method"), scope.get("path"), exc.timeout)
            if not started:
                err = ApiError(408, code="REQUEST_TIMEOUT",
                               message=f"body: nothing received for {exc.timeout:g} s; send the whole body",
                               headers={"Connection": "close"})
                await error_response(err)(scope, receive, send)
        except _ClientGone:
            log.info("%s %s: the client went away before sending the whole body",
                     scope.get("method"), scope.get("path"))


class _BodyStalled(Exception):
    def __init__(self, timeout: float) -> None:
        super().__init__(f"body stalled for {timeout} s")
        self.timeout = timeout


class _ClientGone(Exception):
    pass


# --------------------------------------------------------------------------- health / openapi


async def health(request: Request) -> Response:
    from phantom_cli import __version__

    return JSONResponse({"status": "ok", "version": __version__})


async def openapi(request: Request) -> Response:
    from .auth import require
    from .openapi import build_openapi

    require(request, None)  # every route but /health needs a key

    cached = getattr(request.app.state, "openapi", None)
    if cached is None:
        cached = request.app.state.openapi = build_openapi(request.app.routes)
    return JSONResponse(cached)


# --------------------------------------------------------------------------- factory


def create_app(settings: ServerSettings | None = None) -> Starlette:
    settings = settings or ServerSettings.from_env()
    from . import registry

    routes: list[BaseRoute] = [
        Route("/health", health, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    for mod in registry.route_modules():
        routes.extend(mod.routes)
    startups: list[Hook] = registry.startup_hooks()
    shutdowns: list[Hook] = registry.shutdown_hooks()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await _start(app)
        for hook in startups:
            await hook(app)
        try:
            yield
        finally:
            for hook in shutdowns:
                try:
                    await hook(app)
                except Exception:  # noqa: BLE001 - keep shutting down the others
                    log.exception("shutdown hook failed")
            for task in list(app.state.tasks):
                task.cancel()
            if app.state.tasks:
                await asyncio.gather(*app.state.tasks, return_exceptions=True)
            app.state.db.close()

    class _State:  # shared with the activity middleware before app.state exists
        inflight = 0
        last_request = time.monotonic()

    activity = _State()

    class _FaultState:  # app.state is not built yet; the middleware reads .faults per request
        faults: Any = None

    middleware = [
        Middleware(ActivityMiddleware, state=activity),
        Middleware(FaultMiddleware, state=_FaultState),
        Middleware(BodyTimeoutMiddleware, settings=settings),
    ]

    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False  # an API answers 404 in the envelope, not a redirect
    app.state.settings = settings
    spec = parse_faults(settings.faults) if settings.faults else None
    if spec is not None and spec.seed is None and settings.fault_seed is not None:
        spec.seed = settings.fault_seed
    _FaultState.faults = spec
    app.state.fault_state = _FaultState  # tests may set .faults to another FaultSpec or None
    app.state.activity = activity
    app.state.tasks = set()
    app.state.started_at = dbmod.now()
    # the database is ready as soon as the app exists (tests and tools may use it directly)
    _open_db(app)
    return app


def _open_db(app: Starlette) -> None:
    settings: ServerSettings = app.state.settings
    conn = dbmod.connect(settings.db_path)
    dbmod.migrate(conn)
    app.state.db = conn
    app.state.api_key = ensure_local_key(conn, settings.key_file)
    from phantom_cli.config.paths import private_dir

    private_dir(settings.media_dir)  # 0700, an existing 0755 one fixed too


async def _start(app: Starlette) -> None:
    try:
        app.state.db.execute("SELECT 1")
    except Exception:  # closed by a previous lifespan (tests reuse the app)
        _open_db(app)


def spawn(app: Starlette, coro: Awaitable[Any]) -> asyncio.Task[Any]:
    """Run a background coroutine for the server's lifetime (cancelled at shutdown)."""
    task = asyncio.ensure_future(coro)
    app.state.tasks.add(task)
    task.add_done_callback(app.state.tasks.discard)
    return task


async def run_in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run blocking work (engine calls, rendering, vector search) in a worker thread.

    The function must open its own connection: ``db.connect(settings.db_path)``.
    """
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args)
