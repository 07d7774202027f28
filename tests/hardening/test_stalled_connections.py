"""Issue 13.6: stalled connections are closed; a client leaving mid-upload is one INFO line.

Attacks with raw sockets on loopback (timeouts set short so the tests are fast): half-sent
headers (slowloris), a half-sent body, an idle keep-alive connection, and a disconnect in the
middle of an upload. Before, the first two stayed open for ever (and kept the server from its
idle exit), and the last was logged as an ERROR with a traceback.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def quick_server(tmp_path: Path) -> Iterator[Any]:
    from phantom_cli.backend.testing import LiveServer

    server = LiveServer(tmp_path / "home", engine="scripted", seed=0, header_timeout=0.5,
                        body_timeout=0.5, keep_alive_timeout=1.0).start()
    try:
        yield server
    finally:
        server.stop()


def _connect(server: Any) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", int(server.base_url.rsplit(":", 1)[1])), timeout=5)
    return s


def _read_until_closed(s: socket.socket, limit: float = 4.0) -> tuple[bytes, float]:
    t0 = time.monotonic()
    data = b""
    s.settimeout(limit)
    while True:
        try:
            chunk = s.recv(65536)
        except TimeoutError:
            pytest.fail(f"the server kept the connection open for {limit} s; got {data[:200]!r}")
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data, time.monotonic() - t0


def test_half_sent_headers_are_closed(quick_server) -> None:
    socks = [_connect(quick_server) for _ in range(5)]
    for s in socks:
        s.sendall(b"POST /api/v1/personas HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    for s in socks:
        data, took = _read_until_closed(s)
        assert data == b"" and took < 3.0
        s.close()


def test_half_sent_body_gets_408_and_is_closed(quick_server) -> None:
    s = _connect(quick_server)
    s.sendall(b"POST /api/v1/personas HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"Authorization: Bearer " + quick_server.api_key.encode() + b"\r\n"
              b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\": ")
    data, took = _read_until_closed(s)
    s.close()
    assert data.startswith(b"HTTP/1.1 408"), data[:200]
    assert b"REQUEST_TIMEOUT" in data
    assert took < 3.0
    deadline = time.monotonic() + 2
    while quick_server.app.state.activity.inflight and time.monotonic() < deadline:
        time.sleep(0.05)
    assert quick_server.app.state.activity.inflight == 0  # nothing holds off the idle exit


def test_idle_keep_alive_connection_is_closed(quick_server) -> None:
    s = _connect(quick_server)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    data, took = _read_until_closed(s)
    s.close()
    assert data.startswith(b"HTTP/1.1 200")
    assert took < 3.5


def test_the_timeouts_are_settings(monkeypatch) -> None:
    from phantom_cli.backend.settings import ServerSettings

    monkeypatch.setenv("PHANTOM_SERVER_HEADER_TIMEOUT", "2.5")
    monkeypatch.setenv("PHANTOM_SERVER_BODY_TIMEOUT", "7")
    s = ServerSettings.from_env()
    assert (s.header_timeout, s.body_timeout) == (2.5, 7.0)
    with pytest.raises(ValueError, match="body_timeout"):
        ServerSettings(body_timeout=0)


def test_disconnect_mid_upload_is_one_info_line(quick_server, caplog) -> None:
    caplog.set_level(logging.INFO)
    s = _connect(quick_server)
    s.sendall(b"POST /api/v1/personas HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"Authorization: Bearer " + quick_server.api_key.encode() + b"\r\n"
              b"Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n" + b" " * 1000)
    time.sleep(0.1)
    s.close()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not any("went away" in r.getMessage() for r in caplog.records):
        time.sleep(0.05)
    ours = [r for r in caplog.records if r.name.startswith("phantom")]
    assert [r for r in ours if r.levelno >= logging.WARNING] == []
    gone = [r for r in ours if "went away" in r.getMessage()]
    assert len(gone) == 1 and gone[0].levelno == logging.INFO and gone[0].exc_info is None
