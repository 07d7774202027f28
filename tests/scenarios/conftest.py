"""Fixtures for phantom test: an isolated home, and a CLI runner bound to the shared live backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner


@pytest.fixture(autouse=True)
def phantom_home(phantom_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("PHANTOM_FORCE_TTY", "NO_COLOR"):
        monkeypatch.delenv(var, raising=False)
    return phantom_home


@pytest.fixture
def run_test(live_server: Any, monkeypatch: pytest.MonkeyPatch):
    """``run_test(*args)`` → click Result of ``phantom test ARGS`` against the live server."""
    monkeypatch.setenv("PHANTOM_BASE_URL", live_server.base_url)
    monkeypatch.setenv("PHANTOM_API_KEY", live_server.api_key)

    def run(*args: str) -> Any:
        from phantom_cli.cli.main import app

        return CliRunner().invoke(app, ["test", *args])

    return run


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p
