"""Retries on 429/503/connection errors: backoff with full jitter, Retry-After, no real sleep."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx
import pytest
import respx

from phantom_cli.client import (
    APIStatusError,
    AsyncPhantom,
    Phantom,
    RateLimitError,
    ServiceUnavailableError,
)
from phantom_cli.client._common import BACKOFF_BASE, BACKOFF_CAP, parse_retry_after

from .client_helpers import BASE, KEY, Sleeps, resolve

SKIN = {"id": "s1", "name": "Ink"}


def limited(retry_after: str | None = None, status: int = 429) -> httpx.Response:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    code = "RATE_LIMITED" if status == 429 else "SERVICE_UNAVAILABLE"
    return httpx.Response(
        status, headers=headers, json={"error": {"code": code, "message": "slow down"}}
    )


async def test_retry_after_seconds_is_honoured(
    anyc: Any, mock: respx.MockRouter, sleeps: Sleeps
) -> None:
    route = mock.get("/api/v1/skins/s1").mock(
        side_effect=[limited("3"), limited("0.5", 503), httpx.Response(200, json=SKIN)]
    )
    skin = await resolve(anyc.skins.get("s1"))
    assert skin.id == "s1"
    assert route.call_count == 3
    assert sleeps == [3.0, 0.5]


async def test_retry_after_http_date(anyc: Any, mock: respx.MockRouter, sleeps: Sleeps) -> None:
    when = email.utils.formatdate(time.time() + 10, usegmt=True)
    mock.get("/api/v1/skins/s1").mock(side_effect=[limited(when), httpx.Response(200, json=SKIN)])
    await resolve(anyc.skins.get("s1"))
    assert len(sleeps) == 1 and 8.0 <= sleeps[0] <= 10.0


async def test_backoff_has_full_jitter_and_grows(
    anyc: Any, mock: respx.MockRouter, sleeps: Sleeps
) -> None:
    anyc.max_retries = 5
    mock.get("/api/v1/skins/s1").mock(
        side_effect=[limited(None, 503)] * 5 + [httpx.Response(200, json=SKIN)]
    )
    await resolve(anyc.skins.get("s1"))
    assert len(sleeps) == 5
    for attempt, delay in enumerate(sleeps):
        assert 0.0 <= delay <= min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)


def test_backoff_bounds_are_exponential_with_seeded_jitter() -> None:
    c = Phantom(base_url=BASE, max_retries=10)
    c._rng.seed(1)
    delays = [c._retry_delay(n, None) for n in range(10)]
    assert all(d is not None for d in delays)
    caps = [min(BACKOFF_CAP, BACKOFF_BASE * 2**n) for n in range(10)]
    assert all(0 <= d <= cap for d, cap in zip(delays, caps, strict=True))  # type: ignore[operator]
    assert len(set(delays)) == 10  # jittered, not constant
    assert c._retry_delay(10, None) is None  # attempts exhausted
    c.close()


async def test_gives_up_after_max_retries(
    anyc: Any, mock: respx.MockRouter, sleeps: Sleeps
) -> None:
    route = mock.get("/api/v1/skins/s1").mock(return_value=limited("1"))
    with pytest.raises(RateLimitError) as info:
        await resolve(anyc.skins.get("s1"))
    assert route.call_count == 3  # 1 + max_retries (2)
    assert sleeps == [1.0, 1.0]
    assert info.value.retry_after == 1.0


async def test_max_retries_zero(mock: respx.MockRouter, sleeps: Sleeps) -> None:
    route = mock.get("/api/v1/skins/s1").mock(return_value=limited(None, 503))
    async with AsyncPhantom(base_url=BASE, api_key=KEY, max_retries=0, sleep=sleeps) as c:
        with pytest.raises(ServiceUnavailableError):
            await c.skins.get("s1")
    assert route.call_count == 1 and sleeps == []


async def test_too_long_retry_after_is_not_waited(
    anyc: Any, mock: respx.MockRouter, sleeps: Sleeps
) -> None:
    route = mock.get("/api/v1/skins/s1").mock(return_value=limited("3600"))
    with pytest.raises(RateLimitError) as info:
        await resolve(anyc.skins.get("s1"))
    assert route.call_count == 1 and sleeps == []
    assert info.value.retry_after == 3600


@pytest.mark.parametrize("status", [400, 401, 404, 409, 500])
async def test_other_statuses_are_not_retried(
    anyc: Any, mock: respx.MockRouter, sleeps: Sleeps, status: int
) -> None:
    route = mock.get("/api/v1/skins/s1").mock(return_value=httpx.Response(status, json={}))
    with pytest.raises(APIStatusError):  # the exact class: test_client_errors
        await resolve(anyc.skins.get("s1"))
    assert route.call_count == 1 and sleeps == []


async def test_async_client_accepts_async_sleep(mock: respx.MockRouter) -> None:
    delays: list[float] = []

    async def fake_sleep(d: float) -> None:
        delays.append(d)

    mock.get("/api/v1/skins/s1").mock(side_effect=[limited("2"), httpx.Response(200, json=SKIN)])
    async with AsyncPhantom(base_url=BASE, sleep=fake_sleep) as c:
        await c.skins.get("s1")
    assert delays == [2.0]


def test_parse_retry_after() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
