"""Run the backend in a background thread on a free loopback port (tests, benchmarks)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Self

from .settings import ServerSettings


class ThreadedServer:
    """A real uvicorn server in a daemon thread; ``start()`` / ``stop()``."""

    def __init__(self, app: Any, host: str = "127.0.0.1", log_level: str = "warning") -> None:
        import uvicorn

        from .server import bind, uvicorn_config

        self.app = app
        self.host = host
        self.sock = bind(host, 0)
        self.port = self.sock.getsockname()[1]
        settings = getattr(app.state, "settings", None) or ServerSettings.__new__(ServerSettings)
        self.config = uvicorn_config(app, settings, log_level=log_level,
                                     timeout_graceful_shutdown=3)
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self._run, name=f"phantom-server-{self.port}", daemon=True)

    def _run(self) -> None:
        self.server.run(sockets=[self.sock])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the test server thread died during start-up")
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start in time")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(timeout)
        self.sock.close()


class FakeOpenAIServer:
    """Base of the tests' fake OpenAI-compatible servers: a Starlette app answering
    ``POST /v1/chat/completions`` with ``self.chat`` (plus ``routes``), served by a
    ThreadedServer on a free loopback port. ``base_url`` ends in ``/v1`` (what an OpenAI
    client is given); ``sse(obj)`` is one server-sent event."""

    def __init__(self, routes: tuple[tuple[str, Any], ...] = ()) -> None:
        from starlette.applications import Starlette
        from starlette.routing import Route

        self.requests: list[dict[str, Any]] = []
        paths = [("/v1/chat/completions", self.chat), *routes]
        self.app = Starlette(routes=[Route(p, fn, methods=["POST"]) for p, fn in paths])
        self._server: ThreadedServer | None = None

    async def chat(self, request: Any) -> Any:
        raise NotImplementedError

    def start(self) -> Self:
        self._server = ThreadedServer(self.app).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake server first"
        return self._server.base_url + "/v1"

    @staticmethod
    def sse(obj: Any) -> bytes:
        import json

        return f"data: {json.dumps(obj)}\n\n".encode()


class LiveServer:
    """What the ``live_server`` / ``fresh_server`` fixtures yield."""

    def __init__(self, home: Path, **overrides: Any) -> None:
        from .app import create_app

        self.home = Path(home)
        overrides.setdefault("idle_timeout", 0)
        overrides.setdefault("scripted_pace", 0)  # tests: replies stream without the 40 words/s pace
        self.settings = ServerSettings.for_home(self.home, **overrides)
        self.app = create_app(self.settings)
        self.api_key: str = self.app.state.api_key
        self._server = ThreadedServer(self.app)
        self.base_url = self._server.base_url

    def start(self) -> LiveServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def client(self, api_key: str | None = None, **kwargs: Any) -> Any:
        """A ``phantom_cli.client.Phantom`` bound to this server (admin key unless given)."""
        from phantom_cli.client import Phantom

        return Phantom(base_url=self.base_url, api_key=api_key or self.api_key, **kwargs)

    def async_client(self, api_key: str | None = None, **kwargs: Any) -> Any:
        from phantom_cli.client import AsyncPhantom

        return AsyncPhantom(base_url=self.base_url, api_key=api_key or self.api_key, **kwargs)

    def http(self, api_key: str | None = None) -> Any:
        """A plain ``httpx.Client`` with the bearer key (raw wire checks)."""
        import httpx

        return httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {api_key or self.api_key}"},
                            timeout=30)

    def make_key(self, user: str = "local", scopes: list[str] | None = None) -> str:
        """Mint a key for ``user`` (created if new) with ``scopes`` (None = every scope but admin)."""
        with self.http() as c:
            r = c.post("/api/v1/local/admin/keys", json={"user": user, "scopes": scopes})
            r.raise_for_status()
            return str(r.json()["key"])

    def db(self) -> Any:
        """A new sqlite3 connection to the server's database (close it when done)."""
        from .db import connect

        return connect(self.settings.db_path)

    def add_activity(self, published: bool = True, **fields: Any) -> str:
        """Insert an activity directly in the database; returns its id."""
        from .routes.activities import upsert_activity

        fields.setdefault("title", "Test activity")
        conn = self.db()
        try:
            return upsert_activity(conn, fields, published=published)
        finally:
            conn.close()
