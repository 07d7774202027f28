"""Chat flows with a fake client: streaming, stop, cut stream + retry, edit, greetings,
moderation marks, NPC outcome, error states, palette, multi-line input."""

from __future__ import annotations

import asyncio

import pytest
from helpers import banner_text, panel_text, settle, type_and_send, views
from phantom_cli.tui.app import PhantomApp
from phantom_cli.tui.chat import ChatScreen
from phantom_cli.tui.context import AppContext
from phantom_cli.tui.conversations import (
    CompanionConversation,
    InstanceConversation,
    NpcConversation,
)
from phantom_cli.tui.widgets import ChatInput, SidePanel
from scripted import Script, ScriptedClient

from phantom_cli.client.errors import (
    AuthenticationError,
    PaymentRequiredError,
    PermissionDeniedError,
    ServiceUnavailableError,
)
from phantom_cli.client.models import CompanionPersona

LUNA = CompanionPersona(name="Luna", bio="A warm, witty companion who loves astronomy.",
                        chat_style="playful, curious")


def companion_app(ctx) -> PhantomApp:
    return PhantomApp(ctx, start="chat", source=CompanionConversation(ctx, LUNA, "user-42"))


async def test_companion_turn_streams_and_fills_the_panel(ctx, fake):
    app = companion_app(ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await type_and_send(pilot, "Morning! Remember my presentation?")
        await settle(app, pilot)
        screen = app.screen
        vs = views(screen)
        assert [v.role for v in vs] == ["user", "assistant"]
        assert vs[1].text == fake.script.companion_reply
        text = panel_text(screen)
        assert "memories retrieved: 3" in text and "profile used: yes" in text
        assert "extraction queued: yes" in text and "refused (inbound): no" in text
        status = str(screen.query_one("#status").render())
        assert "latency: 42 ms" in status and "engine: scripted" in status
        sent = fake.calls[-1][1]
        assert sent["messages"] == [{"role": "user", "content": "Morning! Remember my presentation?"}]
        # the second turn carries the window
        await type_and_send(pilot, "It went well")
        await settle(app, pilot)
        assert [m["role"] for m in fake.calls[-1][1]["messages"]] == ["user", "assistant", "user"]


async def test_refused_turn_is_marked(ctx, fake):
    fake.script.moderation = {"inbound_prohibited": True, "reason": "prohibited content"}
    fake.script.companion_reply = "I can't help with that."
    app = companion_app(ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await type_and_send(pilot, "something bad")
        await settle(app, pilot)
        reply = views(app.screen)[-1]
        assert "refused" in reply.marks and reply.has_class("refused")
        assert "refused by moderation" in reply.header_text()
        assert "reason: prohibited content" in panel_text(app.screen)


async def test_cut_stream_keeps_partial_and_retry_does_not_duplicate(ctx, fake):
    fake.script.cut_after = 3
    app = companion_app(ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await type_and_send(pilot, "Tell me a story")
        await settle(app, pilot)
        screen = app.screen
        vs = views(screen)
        assert [v.role for v in vs] == ["user", "assistant"]
        assert "incomplete" in vs[1].marks
        assert vs[1].text == "Morning, you! Of "
        assert "Stream interrupted" in banner_text(screen) and "ctrl+r" in banner_text(screen)
        fake.script.cut_after = None
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        vs = views(screen)
        assert [v.role for v in vs] == ["user", "assistant"]
        assert vs[1].text == fake.script.companion_reply and not vs[1].marks
        assert banner_text(screen) == ""
        assert fake.calls[-1][1]["messages"] == [{"role": "user", "content": "Tell me a story"}]
        # the retry is the same logical send: same Idempotency-Key (the server replays it)
        keys = fake.idempotency_keys
        assert len(keys) == 2 and keys[0] and keys[0] == keys[1]
        # a new message is a new send; re-answering an answered turn is a new reply
        await type_and_send(pilot, "Another")
        await settle(app, pilot)
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert len(set(fake.idempotency_keys)) == 3


async def test_stop_mid_stream_keeps_partial(ctx, fake):
    fake.script.gate = asyncio.Event()  # never set: the reply hangs after its first chunk
    app = companion_app(ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await type_and_send(pilot, "Hello")
        for _ in range(5):
            await pilot.pause()
        screen = app.screen
        assert screen.streaming
        await pilot.press("escape")
        await settle(app, pilot)
        last = views(screen)[-1]
        assert "stopped" in last.marks and last.text == "Morning, "
        assert not screen.streaming


async def test_edit_last_message_and_resend(ctx, fake):
    app = companion_app(ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await type_and_send(pilot, "Helo")
        await settle(app, pilot)
        await pilot.press("ctrl+l")
        box = app.screen.query_one(ChatInput)
        assert box.text == "Helo"
        box.text = "Hello"
        await pilot.press("enter")
        await settle(app, pilot)
        vs = views(app.screen)
        assert [v.role for v in vs] == ["user", "assistant"]
        assert vs[0].text == "Hello" and "edited" in vs[0].marks
        assert fake.calls[-1][1]["messages"] == [{"role": "user", "content": "Hello"}]


async def test_newline_key_and_enter_sends(ctx, fake):
    app = companion_app(ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("a", "ctrl+j", "b")
        assert app.screen.query_one(ChatInput).text == "a\nb"
        await pilot.press("enter")
        await settle(app, pilot)
        assert fake.calls[-1][1]["messages"][-1]["content"] == "a\nb"


async def test_npc_outcome_and_unlock_notify(ctx, fake):
    fake.script.npc_replies = [{
        "message": "Deal. Pleasure doing business.", "current_state": "deal", "score": 5,
        "score_delta": 4, "outcome": "deal", "decision": "pass", "machine_completed": True,
        "unlocked_machines": ["machine_secret"], "state_path": ["greeting", "negotiation", "deal"],
    }]
    app = PhantomApp(ctx, start="chat", source=NpcConversation(ctx, "abc123"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await type_and_send(pilot, "I'll take it")
        await settle(app, pilot)
        text = panel_text(app.screen)
        assert "outcome: deal" in text and "machine completed: yes" in text
        assert "newly unlocked: machine_secret" in text and "score change: +4" in text
        assert "path: greeting → negotiation → deal" in text
        notes = [n.message for n in app._notifications]
        assert any("machine_secret" in m for m in notes) and any("deal" in m for m in notes)


async def test_activity_greetings_cycle_before_first_message(ctx, fake):
    async def create():
        return await InstanceConversation.create(ctx, "act_luna")

    app = PhantomApp(ctx, start="chat", source=create)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert views(screen)[0].text == "The sky is clear tonight."
        await pilot.press("ctrl+g")
        await settle(app, pilot)
        assert views(screen)[0].text == "You made it! Look up."
        await pilot.press("ctrl+g", "ctrl+g")
        await settle(app, pilot)
        assert views(screen)[0].text == "The sky is clear tonight."
        await pilot.press("ctrl+g")
        await settle(app, pilot)
        await type_and_send(pilot, "Wow")
        await settle(app, pilot)
        assert [v.role for v in views(screen)] == ["assistant", "user", "assistant"]
        assert screen.check_action("next_greeting", ()) is False
        stored = fake.message_data[screen.conv.instance_id]
        assert [(m["role"], m["content"]) for m in stored[:2]] == [
            ("assistant", "You made it! Look up."), ("user", "Wow")]


@pytest.mark.parametrize(
    ("error", "needle"),
    [
        (AuthenticationError("invalid API key", status=401, code="UNAUTHORIZED"), "phantom auth login"),
        (PaymentRequiredError("insufficient credit", status=402, code="PAYMENT_REQUIRED"), "credit"),
        (PermissionDeniedError("key lacks chat:companion", status=403, code="FORBIDDEN"), "scope"),
        (ServiceUnavailableError("provider down", status=503, code="SERVICE_UNAVAILABLE"), "Retry"),
    ],
)
async def test_error_states_are_shown_in_app(ctx, fake, error, needle):
    fake.script.fail["companion.chat"] = error
    app = companion_app(ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await type_and_send(pilot, "Hi")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        text = banner_text(screen)
        assert f"Error {error.status}" in text and needle in text
        assert [v.role for v in views(screen)] == ["user"]
        # recover: the retry works once the server does
        del fake.script.fail["companion.chat"]
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert [v.role for v in views(screen)] == ["user", "assistant"] and banner_text(screen) == ""


async def test_error_while_opening_is_shown(ctx, fake):
    fake.script.fail["npc.history"] = ServiceUnavailableError("down", status=503)
    app = PhantomApp(ctx, start="chat", source=NpcConversation(ctx, "abc123"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert "Error 503" in banner_text(app.screen)


async def test_palette_runs_screen_actions(ctx, fake):
    app = companion_app(ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        titles = [t for t, _h, _c in screen.palette_actions()]
        assert {"Stop reply", "Retry last turn", "Edit last message", "Toggle side panel"} <= set(titles)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"toggle side")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen is screen
        assert not screen.query_one(SidePanel).display


async def test_hosted_npc_uses_profile_persona(fake):
    from phantom_cli.tui.context import AppContext
    from phantom_cli.tui.home import HomeScreen

    ctx = AppContext(client=ScriptedClient(Script()), backend="hosted", profile="prod",
                     npc_persona="abc123")
    app = PhantomApp(ctx, start="home")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        home = app.screen
        assert isinstance(home, HomeScreen)
        npcs = [e for e in home.entries if e.kind == "npc"]
        assert [e.key for e in npcs] == ["abc123"]


async def test_companion_persona_resumes_from_the_local_transcript(ctx, fake, tmp_path):
    from phantom_cli.tui.home import persona_conversation

    from phantom_cli.conversation.transcripts import Transcript

    path = tmp_path / "luna.toml"
    path.write_text('name = "Luna"\n')
    fake.script.cut_after = 2
    app = PhantomApp(ctx, start="chat", source=persona_conversation(ctx, path))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await type_and_send(pilot, "Hello")
        await settle(app, pilot)
        assert "incomplete" in views(app.screen)[-1].marks
        fake.script.cut_after = None
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        await type_and_send(pilot, "And again")
        await settle(app, pilot)
    turns = Transcript("luna").turns()
    assert [t.user for t in turns] == ["Hello", "And again"]  # the retry reused the turn
    assert all(t.answered for t in turns)
    # reopening shows the conversation and sends it as context
    ctx2 = AppContext(client=fake, backend="local", profile="test", engine="scripted")
    app2 = PhantomApp(ctx2, start="chat", source=persona_conversation(ctx2, path))
    async with app2.run_test(size=(120, 40)) as pilot:
        await settle(app2, pilot)
        assert [v.role for v in views(app2.screen)] == ["user", "assistant"] * 2
        await type_and_send(pilot, "Third")
        await settle(app2, pilot)
        sent = fake.calls[-1][1]["messages"]
        assert [m["content"] for m in sent[::2]] == ["Hello", "And again", "Third"]


async def test_a_streamed_reply_shows_all_its_lines_when_it_ends(ctx, fake):
    """QA 11 (intermittent): a streamed reply sometimes kept the height of its first line.
    After each turn every wrapped line of the reply is on screen (80 columns)."""
    from phantom_cli.tui.conversations import CompanionConversation

    from phantom_cli.client.models import CompanionPersona

    fake.script.companion_reply = ("Morning, you! Of course — the big one you were dreading. "
                                   "How'd it land? Tell me every single detail, the-end-word.")
    conv = CompanionConversation(ctx, CompanionPersona(name="Luna"), "user-42")
    app = PhantomApp(ctx, start="chat", source=conv)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for i in range(4):
            await type_and_send(pilot, f"Turn {i}")
            await settle(app, pilot)
            reply = views(app.screen)[-1]
            lines = [block.render_line(y).text for block in reply.body.query("*")
                     for y in range(block.size.height) if not block.children]
            assert any("the-end-word." in line for line in lines), (i, lines)


async def test_npc_side_panel_path_does_not_repeat_and_matches_on_reopen(ctx, fake):
    """Issue 14: the server sends the session's whole state_path every turn; appending it made
    the panel show greeting → negotiation → greeting → negotiation → … after three turns."""
    fake.script.npc_replies = [
        {"message": "Rare? Everything here is rare.", "current_state": "negotiation", "score": 1},
        {"message": "Hmm. Speak plainly.", "current_state": "negotiation", "score": 1},
        {"message": "A deal, then.", "current_state": "deal", "score": 4},
    ]
    app = PhantomApp(ctx, start="chat", source=NpcConversation(ctx, "abc123"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        for text in ("What's for sale?", "Hmm.", "I'll pay in secrets."):
            await type_and_send(pilot, text)
            await settle(app, pilot)
        live = panel_text(app.screen)
        assert app.screen.conv.path == ["greeting", "negotiation", "deal"]
    path_lines = [line for line in live.splitlines() if line.startswith("path:")]
    assert path_lines == ["path: greeting → negotiation → deal"]
    app2 = PhantomApp(ctx, start="chat", source=NpcConversation(ctx, "abc123"))
    async with app2.run_test(size=(120, 40)) as pilot:
        await settle(app2, pilot)
        assert app2.screen.conv.path == ["greeting", "negotiation", "deal"]
        assert "path: greeting → negotiation → deal" in panel_text(app2.screen)
