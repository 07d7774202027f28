"""Snapshots (pytest-textual-snapshot) at 80×24 and 120×40 with a deterministic fake client.

Regenerate after an intended change:
    .venv/bin/python -m pytest tests/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

import pytest
from helpers import settle, type_and_send
from phantom_cli.tui.app import PhantomApp
from phantom_cli.tui.context import AppContext
from phantom_cli.tui.conversations import CompanionConversation, NpcConversation
from scripted import ScriptedClient
from textual.widgets import TextArea

from phantom_cli.client.errors import PaymentRequiredError
from phantom_cli.client.models import CompanionPersona

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
LUNA = CompanionPersona(name="Luna", bio="A warm, witty companion who loves astronomy.",
                        chat_style="playful, curious")


def make_ctx(fake: ScriptedClient) -> AppContext:
    return AppContext(client=fake, backend="local", profile="default", player_name="Alex",
                      engine="scripted", user_session_id="player-session-001")


async def freeze(app, pilot) -> None:
    """No blinking cursor and no focus ring: the screenshot does not depend on timing."""
    for widget in app.screen.query("TextArea, Input"):
        widget.cursor_blink = False
    app.screen.set_focus(None)
    await settle(app, pilot, rounds=1)
    app.screen.refresh(layout=True)
    await pilot.pause(0.1)
    for transcript in app.screen.query("#transcript"):
        transcript.scroll_end(animate=False, immediate=True)
    await settle(app, pilot, rounds=2)


async def send(pilot, text: str) -> None:
    await type_and_send(pilot, text)
    await settle(pilot.app, pilot)


def compare(snap_compare, app, size, before) -> bool:
    """``before(pilot)`` brings the app to the state to show; the screenshot is then frozen."""
    async def frozen(pilot):
        await before(pilot)
        await freeze(pilot.app, pilot)

    return snap_compare(app, terminal_size=size, run_before=frozen)


@pytest.mark.parametrize("size", SIZES)
def test_home(snap_compare, size):
    fake = ScriptedClient()
    app = PhantomApp(make_ctx(fake), start="home")

    async def before(pilot):
        await settle(app, pilot)

    assert compare(snap_compare, app, size, before)


@pytest.mark.parametrize("size", SIZES)
def test_companion_mid_conversation(snap_compare, size):
    fake = ScriptedClient()
    ctx = make_ctx(fake)
    app = PhantomApp(ctx, start="chat", source=CompanionConversation(ctx, LUNA, "user-42"))

    async def before(pilot):
        await settle(app, pilot)
        await send(pilot, "Morning! Remember I had that big presentation?")
        fake.script.companion_reply = "Tell me **everything**. Did the demo work?"
        await send(pilot, "It went *great*")

    assert compare(snap_compare, app, size, before)


@pytest.mark.parametrize("size", SIZES)
def test_npc_after_outcome(snap_compare, size):
    fake = ScriptedClient()
    fake.script.npc_replies = [
        {"message": "Rare? Everything here is rare, friend.", "current_state": "negotiation",
         "score": 1, "score_delta": 1, "follow_up": True},
        {"message": "Deal. Pleasure doing business, Alex.", "current_state": "deal", "score": 4,
         "score_delta": 3, "outcome": "deal", "machine_completed": True,
         "unlocked_machines": ["machine_secret"]},  # state_path: the server's whole path
    ]
    ctx = make_ctx(fake)
    app = PhantomApp(ctx, start="chat", source=NpcConversation(ctx, "abc123"))

    async def before(pilot):
        await settle(app, pilot)
        await send(pilot, "I heard you have something rare for sale.")
        await send(pilot, "I'll pay in secrets.")

    assert compare(snap_compare, app, size, before)


@pytest.mark.parametrize("size", SIZES)
def test_error_state(snap_compare, size):
    fake = ScriptedClient()
    fake.script.fail["companion.chat"] = PaymentRequiredError(
        "insufficient credit balance", status=402, code="PAYMENT_REQUIRED")
    ctx = make_ctx(fake)
    app = PhantomApp(ctx, start="chat", source=CompanionConversation(ctx, LUNA, "user-42"))

    async def before(pilot):
        await settle(app, pilot)
        await send(pilot, "Hi Luna")

    assert compare(snap_compare, app, size, before)


def _playground(fake: ScriptedClient) -> PhantomApp:
    return PhantomApp(make_ctx(fake), start="playground", source=LUNA)


async def _send_turn(app, pilot) -> None:
    await settle(app, pilot)
    app.screen.query_one("#msg-content", TextArea).text = "Morning! Remember I had that big presentation?"
    await pilot.press("ctrl+s")
    await settle(app, pilot)


@pytest.mark.parametrize("size", SIZES)
def test_playground_response(snap_compare, size):
    fake = ScriptedClient()
    app = _playground(fake)

    async def before(pilot):
        await _send_turn(app, pilot)

    assert compare(snap_compare, app, size, before)


@pytest.mark.parametrize("size", SIZES)
def test_playground_json(snap_compare, size):
    fake = ScriptedClient()
    app = _playground(fake)

    async def before(pilot):
        await _send_turn(app, pilot)
        await pilot.press("f2")
        await settle(app, pilot)

    assert compare(snap_compare, app, size, before)


NARROW = [pytest.param((80, 24), id="80x24"), pytest.param((50, 15), id="50x15")]


@pytest.mark.parametrize("size", NARROW)
def test_playground_turn_form(snap_compare, size):
    """Issue 18.13: the option labels wrap (never `max_tokens (1–3200`), the fields stay in line."""
    fake = ScriptedClient()
    app = _playground(fake)

    async def before(pilot):
        await settle(app, pilot)
        await pilot.press("f9")
        await settle(app, pilot)

    assert compare(snap_compare, app, size, before)


@pytest.mark.parametrize("size", NARROW)
def test_companion_narrow(snap_compare, size):
    """Issue 18.15: below 70 columns the side panel is hidden and the transcript takes the width."""
    fake = ScriptedClient()
    ctx = make_ctx(fake)
    app = PhantomApp(ctx, start="chat", source=CompanionConversation(ctx, LUNA, "user-42"))

    async def before(pilot):
        await settle(app, pilot)
        await send(pilot, "Morning! Remember I had that big presentation?")

    assert compare(snap_compare, app, size, before)
