"""Fixtures for the CLI core tests: isolated PHANTOM_HOME and in-memory keyring (both from
tests/conftest.py, autouse here), a CLI runner bound to the shared live backend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from ..conftest import MemoryKeyring


@pytest.fixture(autouse=True)
def phantom_home(phantom_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shared isolated home (tests/conftest.py), autouse; no forced TTY or NO_COLOR from the
    shell, and a wide terminal."""
    for var in ("PHANTOM_FORCE_TTY", "NO_COLOR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return phantom_home


@pytest.fixture(autouse=True)
def memory_keyring(memory_keyring: MemoryKeyring) -> Iterator[MemoryKeyring]:
    """The shared in-memory keyring (tests/conftest.py), autouse here."""
    yield memory_keyring


@dataclass
class Cli:
    """Runs ``phantom`` in-process with Typer's CliRunner against a base URL and key."""

    base_url: str | None
    api_key: str | None
    server: Any = None

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        tty: bool = False,
        env: dict[str, str] | None = None,
        auth: bool = True,
    ) -> Result:
        from phantom_cli.cli.main import app

        full_env: dict[str, str | None] = {"PHANTOM_FORCE_TTY": "1" if tty else "0"}
        if auth and self.base_url:
            full_env["PHANTOM_BASE_URL"] = self.base_url
        if auth and self.api_key:
            full_env["PHANTOM_API_KEY"] = self.api_key
        full_env.update(env or {})
        return CliRunner().invoke(
            app, list(args), input=input, env=full_env, catch_exceptions=False
        )


@pytest.fixture
def cli(live_server: Any) -> Cli:
    return Cli(live_server.base_url, live_server.api_key, live_server)


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]
