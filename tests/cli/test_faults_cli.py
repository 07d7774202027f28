"""The CLI under fault mode (issue 7): listings and conversations finish, nothing stored twice.

A server of its own (scripted engine) with a seeded fault spec swapped in at run time
(``server.app.state.fault_state.faults``). 429/503 carry ``Retry-After: 0`` so the client's
retries (default budget: 2) do not sleep. Afterwards the faults are turned off and what the
server stored is compared with what the CLI acknowledged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from phantom_cli.backend.faults import parse_faults
from phantom_cli.backend.testing import LiveServer

from .conftest import Cli

STATUS_FAULTS = "503:0.1,429:0.05,retry-after:0"
INJECTED = re.compile(r"-> (429|503) ")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    srv = LiveServer(tmp_path / "faulty", engine="scripted", seed=0).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def fcli(server: LiveServer) -> Cli:
    return Cli(server.base_url, server.api_key, server)


def set_faults(server: LiveServer, spec: str | None) -> None:
    server.app.state.fault_state.faults = parse_faults(spec) if spec else None  # type: ignore[attr-defined]


def injected(stderr: str) -> int:
    """How many 429/503 answers the --debug trace shows (each one was retried)."""
    return len(INJECTED.findall(stderr))


def test_listing_all_pages_completes_under_faults(server: LiveServer, fcli: Cli) -> None:
    made = {server.add_activity(title=f"Faulty {i}", category="faults") for i in range(37)}
    expected = {a.id for a in server.client().activities.iter(page_size=100)}
    assert made <= expected

    set_faults(server, STATUS_FAULTS + ",seed:11")
    r = fcli("--debug", "activities", "list", "--all", "--json", "--limit", "3")
    assert r.exit_code == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids)), "an activity was listed twice"
    assert set(ids) == expected, "the listing lost activities"
    assert injected(r.stderr) >= 2, "the fault mode injected (almost) nothing (seed changed?)"

    # a filtered walk too, and the table output
    r = fcli("activities", "list", "--all", "--category", "faults", "--json", "--limit", "4")
    assert r.exit_code == 0, r.stderr
    assert {json.loads(x)["id"] for x in r.stdout.splitlines() if x.strip()} == made
    set_faults(server, None)


def _say_until_answered(fcli: Cli, session: str, text: str, stats: dict[str, int]) -> Any:
    """`npc say --stream` (the reply is an SSE stream the faults may cut); retry a cut turn."""
    for _ in range(10):
        r = fcli("--debug", "npc", "say", "abc123", text, "--session", session, "--stream")
        stats["faults"] += injected(r.stderr)
        if r.exit_code == 3:
            assert "interrupted" in r.stderr, r.stderr
            assert "unexpected error" not in r.stderr  # --debug prints the traceback of a cut
            stats["cuts"] += 1
            continue
        assert r.exit_code == 0, r.stderr
        return r
    raise AssertionError(f"{text!r} was cut 10 times in a row")


def test_npc_conversation_finishes_under_faults(server: LiveServer, fcli: Cli) -> None:
    session = "faulty-npc"
    stats = {"faults": 0, "cuts": 0}
    set_faults(server, STATUS_FAULTS + ",cut-stream:0.3,seed:5")
    r = fcli("--debug", "npc", "init", "abc123", "--session", session, "--player-name", "Alex")
    assert r.exit_code == 0, r.stderr
    stats["faults"] += injected(r.stderr)
    acknowledged: list[str] = []
    for text in ["What do you have for sale?", "I can pay in gold.", "Too much. Make it cheaper.",
                 "Fine, you have a deal."]:
        r = _say_until_answered(fcli, session, text, stats)
        acknowledged.append(text)
    assert "outcome: deal_struck" in r.stderr or "state: deal_struck" in r.stderr, r.stderr
    assert "machine completed: yes" in r.stderr

    hist = fcli("npc", "history", "abc123", "--session", session, "--json")
    assert hist.exit_code == 0, hist.stderr

    set_faults(server, None)
    assert stats["cuts"] >= 1, "no stream was cut (seed changed?)"
    assert stats["faults"] >= 1, "no 429/503 was injected (seed changed?)"
    stored = server.client().npc.history("abc123", user_session_id=session)
    players = [m.content for m in stored.messages if m.role == "player"]
    assert players == acknowledged, "the server stored a player message twice or lost one"
    npc_lines = [m for m in stored.messages if m.role != "player"]
    assert len(npc_lines) == 1 + len(acknowledged)  # the opening line + one reply per turn
    assert stored.messages[-1].state in (None, "deal_struck")
    # what `npc history` printed under faults is what the server holds
    printed = json.loads(hist.stdout)
    printed_msgs = printed["messages"] if isinstance(printed, dict) else printed
    assert [m["content"] for m in printed_msgs if m["role"] == "player"] == acknowledged


def test_instance_chat_cut_then_retry_does_not_duplicate(server: LiveServer, fcli: Cli) -> None:
    act = server.add_activity(title="Rooftop", is_companion=True, first_message="Hi there.")
    set_faults(server, STATUS_FAULTS + ",seed:3")
    made = fcli("instances", "create", act, "--json")
    assert made.exit_code == 0, made.stderr
    inst = json.loads(made.stdout)["id"]

    stats = {"faults": 0, "cuts": 0}
    answered: list[str] = []
    replies: list[str] = []
    for text in ["one", "two", "three", "four"]:
        set_faults(server, "cut-stream:1")  # this attempt is cut for certain
        cut = fcli("instances", "chat", inst, text)
        assert cut.exit_code == 3, (cut.stdout, cut.stderr)
        assert "interrupted" in cut.stderr and "Traceback" not in cut.stderr
        stats["cuts"] += 1
        set_faults(server, STATUS_FAULTS + f",cut-stream:0.2,seed:{len(answered) + 20}")
        for _ in range(10):  # retry the same text until a reply arrives whole
            r = fcli("--debug", "instances", "chat", inst, text)
            stats["faults"] += injected(r.stderr)
            if r.exit_code == 3:
                stats["cuts"] += 1
                continue
            assert r.exit_code == 0, r.stderr
            answered.append(text)
            replies.append(r.stdout.strip())
            break
        else:
            raise AssertionError(f"{text!r} never got a whole reply")

    listed = fcli("instances", "messages", "list", inst, "--all", "--json", "--limit", "3")
    assert listed.exit_code == 0, listed.stderr

    set_faults(server, None)
    assert stats["faults"] >= 1, "no 429/503 was injected (seed changed?)"
    msgs = list(server.client().instances.messages.iter(inst))
    msgs.sort(key=lambda m: m.created_at)
    users = [m.content for m in msgs if m.role == "user"]
    assert users == answered, "a user message was stored twice or lost"
    assistants = [m.content for m in msgs if m.role == "assistant"]
    # the greeting (first_message) plus one whole reply per acknowledged turn, none half-written
    assert [a.strip() for a in assistants if a != "Hi there."] == replies
    assert len(assistants) in (len(answered), len(answered) + 1)
    # the listing made under faults saw the same messages
    assert sorted(json.loads(x)["id"] for x in listed.stdout.splitlines() if x.strip()) == sorted(
        m.id for m in msgs
    )
