""""Fork here" (issue 19, point 2): ctrl+f / the palette fork the conversation at the selected
message (or after the last one) and open the fork."""

from __future__ import annotations

from helpers import settle, type_and_send, views
from phantom_cli.tui.app import PhantomApp
from phantom_cli.tui.chat import ChatScreen
from phantom_cli.tui.conversations import CompanionConversation, NpcConversation
from phantom_cli.tui.forking import fork_turns

from phantom_cli.client.models import CompanionPersona
from phantom_cli.conversation.transcripts import Transcript

LUNA = CompanionPersona(name="Luna", bio="A warm companion.")


def test_fork_turns_counts_up_to_the_selected_message() -> None:
    roles = ["assistant", "user", "assistant", "user", "assistant"]  # a greeting, two turns
    assert fork_turns(roles, None) == 2
    assert fork_turns(roles, 2) == 1  # a reply: its turn is kept
    assert fork_turns(roles, 3) == 1  # a user message: the turns before it
    assert fork_turns(roles, 0) == 0 and fork_turns([], None) == 0


async def test_fork_here_at_the_selected_reply_opens_the_fork(ctx, fake) -> None:
    conv = CompanionConversation(ctx, LUNA, "luna-tui", transcript=Transcript("luna-tui"))
    app = PhantomApp(ctx, start="chat", source=conv)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        for text in ("first", "second", "third"):
            await type_and_send(pilot, text)
            await settle(app, pilot)
        first_screen = app.screen
        vs = views(first_screen)
        assert [v.role for v in vs] == ["user", "assistant"] * 3
        await pilot.click(vs[3])  # the reply to "second"
        await settle(app, pilot)
        assert vs[3].has_class("selected")
        footer_keys = {b.binding.action: b.binding.description
                       for b in first_screen.active_bindings.values()}
        assert footer_keys.get("fork_here") == "Fork here"
        await pilot.press("ctrl+f")
        await settle(app, pilot, rounds=5)
        fork_screen = app.screen
        assert isinstance(fork_screen, ChatScreen) and fork_screen is not first_screen
        assert fork_screen.conv.chat_id == "luna-tui-fork1"
        shown = [(v.role, v.text) for v in views(fork_screen)]
        assert [r for r, _ in shown] == ["user", "assistant"] * 2
        assert shown[0][1] == "first" and shown[2][1] == "second"
        fork = Transcript("luna-tui-fork1")
        assert [t.user for t in fork.turns()] == ["first", "second"]
        assert fork.fork_header()["from"] == "luna-tui"
        # the fork goes on by itself; the original keeps its three turns
        await type_and_send(pilot, "another way")
        await settle(app, pilot)
        assert [t.user for t in fork.turns()] == ["first", "second", "another way"]
        assert [t.user for t in Transcript("luna-tui").turns()] == ["first", "second", "third"]


async def test_fork_here_from_the_palette_without_a_selection_keeps_every_turn(ctx, fake):
    conv = CompanionConversation(ctx, LUNA, "luna-pal", transcript=Transcript("luna-pal"))
    app = PhantomApp(ctx, start="chat", source=conv)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await type_and_send(pilot, "only turn")
        await settle(app, pilot)
        screen = app.screen
        (action,) = [cb for title, _h, cb in screen.palette_actions() if title == "Fork here"]
        action()
        await settle(app, pilot, rounds=5)
        assert app.screen is not screen
        assert [t.user for t in Transcript("luna-pal-fork1").turns()] == ["only turn"]


async def test_fork_here_on_a_hosted_npc_session_says_it_is_not_available(fake) -> None:
    from phantom_cli.tui.context import AppContext

    hosted = AppContext(client=fake, backend="hosted", profile="test", player_name="Alex",
                        engine="scripted")
    fake.backend = "hosted"
    app = PhantomApp(hosted, start="chat", source=NpcConversation(hosted, "abc123"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        await pilot.press("ctrl+f")
        await settle(app, pilot)
        assert app.screen is screen
        notes = [str(n.message) for n in app._notifications]
        assert any("not available on the hosted API" in n for n in notes)


async def test_fork_here_on_a_live_npc_session_plays_on_from_turn_n(live_server) -> None:
    import uuid

    from phantom_cli.tui.context import AppContext

    session = f"tui-fork-{uuid.uuid4().hex[:8]}"
    ctx = AppContext(client=live_server.async_client(), backend="local", profile="test",
                     player_name="Alex", user_session_id=session)
    app = PhantomApp(ctx, start="chat", source=NpcConversation(ctx, "abc123"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        for text in ("I heard you have something rare for sale.", "How much?"):
            await type_and_send(pilot, text)
            await settle(app, pilot)
        first = app.screen
        vs = views(first)
        assert [v.role for v in vs] == ["assistant", "user", "assistant", "user", "assistant"]
        await pilot.click(vs[2])  # the reply of turn 1
        await pilot.press("ctrl+f")
        await settle(app, pilot, rounds=6)
        fork = app.screen
        assert fork is not first and fork.conv.session_id == f"{session}-fork1"
        assert [v.role for v in views(fork)] == ["assistant", "user", "assistant"]
        assert views(fork)[1].text == "I heard you have something rare for sale."
    c = live_server.client()
    assert len(c.npc.history("abc123", user_session_id=session).messages) == 5
    assert len(c.npc.history("abc123", user_session_id=f"{session}-fork1").messages) == 3
