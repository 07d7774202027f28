"""The drive adapter: activity targets, unknown targets, runner-level backoff on 429/503."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from phantom_cli.client import errors as E
from phantom_cli.scenarios import drive
from phantom_cli.scenarios.load import load_text
from phantom_cli.scenarios.runner import Runner, RunOptions


def _run(live_server: Any, text: str, **opts: Any):
    scs = load_text(text, "yaml", "s.yaml").scenarios

    async def go():
        async with live_server.async_client() as client:
            return await Runner(client, RunOptions(jobs=2, **opts)).run(scs)

    return asyncio.run(go())


def test_activity_target_and_unknown_targets(live_server: Any) -> None:
    act = live_server.add_activity(title="Scenario test activity", description="A quiet library.")
    text = f"""\
scenarios:
  - name: activity chat
    activity: {act}
    steps:
      - say: Hello there
        expect: {{reply.max_chars: 16000, status: 200}}
      - reset: true
      - say: Again
  - name: unknown activity
    activity: act_does_not_exist
    steps: [{{say: hi}}]
  - name: unknown machine
    npc: abc123
    machine: machine_nope
    steps: [{{say: hi}}]
  - name: unknown persona
    persona: nope/missing.toml
    steps: [{{say: hi}}]
  - name: scratchpad on an npc
    npc: abc123
    steps: [{{scratchpad: {{contains: x}}}}]
"""
    summary = _run(live_server, text, keep_steps=True)
    res = {r.name: r for r in summary.results}
    ok = res["activity chat"]
    assert ok.status == "passed", ok.failure
    assert ok.steps[0].actual["reply"] and ok.steps[0].latency_ms > 0
    assert ok.ids["instance_id"]
    assert res["unknown activity"].status == "error"
    assert "unknown activity 'act_does_not_exist'" in res["unknown activity"].failure.message
    assert res["unknown machine"].status == "error" and "machine_nope" in res["unknown machine"].failure.message
    assert res["unknown persona"].status == "error"
    assert "unknown persona 'nope/missing.toml'" in res["unknown persona"].failure.message
    assert res["scratchpad on an npc"].status == "failed"
    assert "companion personas" in res["scratchpad on an npc"].failure.message


def test_passed_scenarios_keep_no_steps_by_default(live_server: Any) -> None:
    text = "scenarios:\n  - name: a\n    npc: abc123\n    steps: [{say: Show me your wares.}]\n"
    (r,) = _run(live_server, text).results
    assert r.status == "passed" and r.steps is None and r.steps_run == 1


def test_backoff_waits_out_rate_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    async def fake_sleep(s: float) -> None:
        sleeps.append(s)

    monkeypatch.setattr(drive.asyncio, "sleep", fake_sleep)

    async def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise E.RateLimitError("slow down", status=429, code="RATE_LIMITED", retry_after=1.5)
        if len(calls) == 2:
            raise E.ServiceUnavailableError("busy", status=503, code="SERVICE_UNAVAILABLE")
        return "ok"

    assert asyncio.run(drive._backoff(flaky)) == "ok"
    assert sleeps == [1.5, 2.0]

    async def always() -> str:
        raise E.RateLimitError("slow down", status=429, code="RATE_LIMITED", retry_after=100)

    with pytest.raises(E.RateLimitError):
        asyncio.run(drive._backoff(always))
    assert max(sleeps) == drive.RATE_LIMIT_MAX_WAIT
