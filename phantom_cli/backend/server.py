"""Run the app under uvicorn in this process: foreground ``phantom serve`` and the background
server (``python -m phantom_cli.backend``). Writes/removes the runtime file; exits when idle."""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from . import runtime
from .settings import ServerSettings

log = logging.getLogger("phantom.backend")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say so (else +40 ms per reply)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


H11_MAX_INCOMPLETE = 16 * 1024  # bytes of a request head (h11 answers 400 beyond)


def uvicorn_config(app: Any, settings: ServerSettings, **kwargs: Any) -> Any:
    """The uvicorn settings of every server (foreground, background, tests): h11 with a
    header-read timeout, uvicorn's keep-alive timeout, h11's head size limit. The body-read
    timeout is ``app.BodyTimeoutMiddleware``."""
    import uvicorn

    kwargs.setdefault("access_log", False)
    kwargs.setdefault("lifespan", "on")
    return uvicorn.Config(
        app, http=header_timeout_protocol(settings.header_timeout),
        timeout_keep_alive=max(1, round(settings.keep_alive_timeout)),
        h11_max_incomplete_event_size=H11_MAX_INCOMPLETE, **kwargs,
    )


def header_timeout_protocol(timeout: float) -> type:
    """uvicorn's h11 protocol, closing a connection whose request head is not complete within
    ``timeout`` seconds of the connection (or of the end of the previous response).
    uvicorn itself has no such timer: half-sent headers held a connection open for ever."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutH11Protocol(H11Protocol):
        _head_timer: Any = None

        def _arm(self) -> None:
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(timeout, self._head_timed_out)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                log.info("closing a connection from %s: no complete request head after %.0f s",
                         self.client[0] if self.client else "?", timeout)
                self.transport.close()

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is h11.IDLE:
                self._arm()  # (still) waiting for a complete head
            else:
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderTimeoutH11Protocol


def serve(
    settings: ServerSettings,
    *,
    register: bool = True,
    on_ready: Callable[[dict[str, Any]], None] | None = None,
    log_level: str = "info",
) -> None:
    """Serve until stopped (SIGINT/SIGTERM) or idle for ``settings.idle_timeout`` seconds.

    ``register``: write ``runtime_dir()/server.json`` (background server always; a foreground
    server only when no other live server is registered), removed at exit.
    """
    import uvicorn

    from .app import create_app

    sock = bind(settings.host, settings.port)
    port = sock.getsockname()[1]
    settings.port = port
    app = create_app(settings)
    config = uvicorn_config(app, settings, log_level=log_level, timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    info = runtime.runtime_info(settings.host, port)
    registered = False

    def watch() -> None:
        nonlocal registered
        while not server.started and not server.should_exit:
            time.sleep(0.02)
        if server.should_exit:
            return
        if register and runtime.status() is None:
            runtime.write_runtime(info)
            registered = True
        if on_ready is not None:
            on_ready(info)
        idle = settings.idle_timeout
        if not idle:
            return
        act = app.state.activity
        while not server.should_exit:
            time.sleep(min(1.0, max(0.05, idle / 10)))
            if act.inflight == 0 and time.monotonic() - act.last_request >= idle:
                log.info("idle for %.0f s: shutting down", idle)
                server.should_exit = True

    watcher = threading.Thread(target=watch, name="phantom-idle-watch", daemon=True)
    watcher.start()
    try:
        server.run(sockets=[sock])
    finally:
        if registered:
            runtime.remove_runtime(info["pid"])
        sock.close()
