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
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="on",
                            timeout_graceful_shutdown=5)
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
