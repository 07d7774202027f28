"""Fixtures for the CLI core tests: isolated PHANTOM_HOME, in-memory keyring, a CLI runner bound
to the shared live backend (tests/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import pytest
from click.testing import Result
from typer.testing import CliRunner


class MemoryKeyring(keyring.backend.KeyringBackend):
    """Passwords in a dict (tests only)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


@pytest.fixture(autouse=True)
def phantom_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("PHANTOM_HOME", str(home))
    for var in (
        "PHANTOM_PROFILE",
        "PHANTOM_BASE_URL",
        "PHANTOM_API_KEY",
        "PHANTOM_FORCE_TTY",
        "NO_COLOR",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return home


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    before = keyring.get_keyring()
    kr = MemoryKeyring()
    keyring.set_keyring(kr)
    yield kr
    keyring.set_keyring(before)


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
