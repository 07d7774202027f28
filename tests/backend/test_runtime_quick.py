"""The quick liveness probe on every command's hot path (runtime.status(quick=True))."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from phantom_cli.backend import runtime


def _info(pid: int, port: int) -> dict[str, object]:
    return {"pid": pid, "host": "127.0.0.1", "port": port,
            "base_url": f"http://127.0.0.1:{port}", "version": "x", "started_at": "now"}


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_quick_status_rejects_a_reused_pid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Path, "read_bytes", lambda self: b"python\0-m\0pytest")
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        port = srv.getsockname()[1]
        # this pytest process is alive and the port accepts, but the pid is not our server
        runtime.write_runtime(_info(os.getpid(), port))
        assert runtime.status(quick=True) is None


def test_quick_status_rejects_a_closed_port(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends
    monkeypatch.setattr(Path, "read_bytes", lambda self: b"python -m phantom_cli.backend")
    runtime.write_runtime(_info(os.getpid(), port))
    assert runtime.status(quick=True) is None


def test_quick_status_accepts_our_listening_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Path, "read_bytes", lambda self: b"python\0-m\0phantom_cli.backend")
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        port = srv.getsockname()[1]
        runtime.write_runtime(_info(os.getpid(), port))
        info = runtime.status(quick=True)
        assert info is not None and info["port"] == port
