"""Fixtures of the client tests: respx-mocked clients that never really sleep."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import respx

from phantom_cli.client import AsyncPhantom, Phantom

from .client_helpers import BASE, KEY, Sleeps


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHANTOM_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PHANTOM_BASE_URL", raising=False)
    monkeypatch.delenv("PHANTOM_API_KEY", raising=False)
    monkeypatch.delenv("PHANTOM_PROFILE", raising=False)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False, assert_all_mocked=True) as m:
        yield m


@pytest.fixture
def client(sleeps: Sleeps) -> Iterator[Phantom]:
    c = Phantom(base_url=BASE, api_key=KEY, sleep=sleeps)
    yield c
    c.close()


@pytest.fixture
async def aclient(sleeps: Sleeps) -> AsyncIterator[AsyncPhantom]:
    c = AsyncPhantom(base_url=BASE, api_key=KEY, sleep=sleeps)
    yield c
    await c.aclose()


@pytest.fixture(params=["sync", "async"])
async def anyc(request: pytest.FixtureRequest, sleeps: Sleeps) -> AsyncIterator[Any]:
    """The sync and the async client in turn (drive with ``await resolve(...)``)."""
    if request.param == "sync":
        c: Any = Phantom(base_url=BASE, api_key=KEY, sleep=sleeps)
        yield c
        c.close()
    else:
        c = AsyncPhantom(base_url=BASE, api_key=KEY, sleep=sleeps)
        yield c
        await c.aclose()
