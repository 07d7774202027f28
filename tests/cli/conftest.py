"""Fixtures for the NPC machine tools: an isolated home, a CLI runner bound to the live backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner


@pytest.fixture(autouse=True)
def phantom_home(phantom_home: Path) -> Path:
    return phantom_home


@pytest.fixture
def cli():
    """``cli(*args)`` → click Result of ``phantom ARGS`` (no server)."""

    def run(*args: str, input: str | None = None) -> Any:
        from phantom_cli.cli.main import app

        return CliRunner().invoke(app, list(args), input=input)

    return run


@pytest.fixture
def live_cli(live_server: Any, monkeypatch: pytest.MonkeyPatch, cli):
    """Like ``cli`` but against the shared live backend."""
    monkeypatch.setenv("PHANTOM_BASE_URL", live_server.base_url)
    monkeypatch.setenv("PHANTOM_API_KEY", live_server.api_key)
    return cli
