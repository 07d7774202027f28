"""Flows against the real local backend (scripted engine) through the real async client."""

from __future__ import annotations

import uuid

import pytest
from helpers import panel_text, settle, type_and_send, views
from phantom_cli.tui.app import PhantomApp
from phantom_cli.tui.chat import ChatScreen
from phantom_cli.tui.context import AppContext
from phantom_cli.tui.conversations import InstanceConversation, NpcConversation
from phantom_cli.tui.home import HomeScreen
from phantom_cli.tui.modals import ConfirmModal
from textual.widgets import OptionList, Static


def make_ctx(live_server, session: str) -> AppContext:
    """A fresh context (the app closes its client when it exits)."""
    return AppContext(client=live_server.async_client(), backend="local", profile="test",
                      player_name="Alex", user_session_id=session)


@pytest.fixture
def live_ctx(live_server):
    return make_ctx(live_server, f"tui-{uuid.uuid4().hex[:10]}")


async def test_npc_conversation_reset_and_reopen(live_server, live_ctx):
    app = PhantomApp(live_ctx, start="chat", source=NpcConversation(live_ctx, "abc123"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        opening = views(screen)
        assert len(opening) == 1 and "greeting" in opening[0].marks
        assert "Alex" in opening[0].text  # the opening names the player
        await type_and_send(pilot, "I heard you have something rare for sale.")
        await settle(app, pilot)
        vs = views(screen)
        assert [v.role for v in vs] == ["assistant", "user", "assistant"]
        assert vs[-1].text.strip(), "the streamed reply is shown"
        text = panel_text(screen)
        assert "state:" in text and "score:" in text and "scoring mode:" in text
        assert "path:" in text
        assert app.ctx.engine and "scripted" in app.ctx.engine
    # reopening loads the history
    ctx2 = make_ctx(live_server, live_ctx.session_id)
    app2 = PhantomApp(ctx2, start="chat", source=NpcConversation(ctx2, "abc123"))
    async with app2.run_test(size=(120, 40)) as pilot:
        await settle(app2, pilot)
        screen = app2.screen
        assert [v.role for v in views(screen)] == ["assistant", "user", "assistant"]
        assert views(screen)[1].text.startswith("I heard you")
        # reset, with a confirmation
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app2.screen, ConfirmModal)
        await pilot.press("y")
        await settle(app2, pilot)
        assert app2.screen is screen
        assert [v.role for v in views(screen)] == ["assistant"]


async def test_home_lists_everything_and_opens_npc(live_server, live_ctx):
    live_server.add_activity(title="Stargazing [bold red]roof[/]", is_companion=True,
                             first_message="Look up!", alternate_greetings=["Hi", "Hey"])
    app = PhantomApp(live_ctx, start="home")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        home = app.screen
        assert isinstance(home, HomeScreen)
        kinds = {e.kind for e in home.entries}
        assert {"persona", "npc", "activity"} <= kinds, home.problems
        assert any(e.title == "Stargazing [bold red]roof[/]" for e in home.entries)
        # filter, then open the NPC
        await pilot.press(*"abc123")  # "hollow" also finds the Hollow Market activity
        await pilot.pause()
        options = home.query_one("#entries", OptionList)
        shown = [options.get_option_at_index(i) for i in range(options.option_count)]
        ids = [o.id for o in shown if o.id]
        assert ids and all(i.startswith("npc:") for i in ids)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ChatScreen)
        assert app.screen.conv.kind == "npc"


async def test_activity_instance_greetings_send_and_resume(live_server, live_ctx):
    act = live_server.add_activity(title="Luna's roof", is_companion=True,
                                   first_message="The sky is clear tonight.",
                                   alternate_greetings=["You made it!", "Shh, a meteor!"])

    async def create():
        return await InstanceConversation.create(live_ctx, act)

    app = PhantomApp(live_ctx, start="chat", source=create)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        conv = screen.conv
        assert conv.greetings[0] == "The sky is clear tonight."
        first = views(screen)[0]
        assert "greeting" in first.marks
        await pilot.press("ctrl+g")
        await settle(app, pilot)
        assert views(screen)[0].text == "You made it!"
        await type_and_send(pilot, "What a view")
        await settle(app, pilot)
        assert views(screen)[-1].role == "assistant" and views(screen)[-1].text.strip()
        instance_id = conv.instance_id
    ctx2 = make_ctx(live_server, live_ctx.session_id)
    app2 = PhantomApp(ctx2, start="chat", source=InstanceConversation(ctx2, instance_id))
    async with app2.run_test(size=(120, 40)) as pilot:
        await settle(app2, pilot)
        roles = [v.role for v in views(app2.screen)]
        assert roles == ["assistant", "user", "assistant"]
        assert views(app2.screen)[0].text == "You made it!"  # the chosen greeting was kept
        assert any(v.text == "What a view" for v in views(app2.screen))


async def test_companion_streams_from_the_local_backend(live_server, live_ctx):
    from phantom_cli.tui.conversations import CompanionConversation

    from phantom_cli.client.models import CompanionPersona

    persona = CompanionPersona(name="Luna", bio="A warm, witty companion who loves astronomy.")
    conv = CompanionConversation(live_ctx, persona, f"tui-{uuid.uuid4().hex[:8]}")
    app = PhantomApp(live_ctx, start="chat", source=conv)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await type_and_send(pilot, "Morning! Remember I had that big presentation?")
        await settle(app, pilot)
        screen = app.screen
        vs = views(screen)
        assert [v.role for v in vs] == ["user", "assistant"]
        assert vs[1].text.strip() and not vs[1].marks
        text = panel_text(screen)
        assert "memories retrieved:" in text and "extraction queued:" in text
        assert conv.last_turn_id, "the local backend tags the turn"
        assert "latency:" in str(screen.query_one("#status").render())


async def test_playground_against_the_local_backend(live_server, live_ctx):
    import json

    from textual.widgets import TextArea

    from phantom_cli.client.models import CompanionPersona

    app = PhantomApp(live_ctx, start="playground", source=CompanionPersona(name="Luna"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        screen.query_one("#msg-content", TextArea).text = "Hi Luna!"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert screen.response is not None and screen.window[-1]["role"] == "assistant"
        prompt = str(screen.query_one("#prompt-view", Static).render())
        assert "Luna" in prompt and "Only the local backend" not in prompt
        request = json.loads(screen.query_one("#json-request", TextArea).text)
        assert request["messages"] == [{"role": "user", "content": "Hi Luna!"}]
        await pilot.press("f5")
        curl = app.clipboard
        assert "$PHANTOM_KEY" in curl and live_server.api_key not in curl
        assert "/api/v1/companion/chat" in curl
        await pilot.press("f3")
        assert live_server.api_key not in app.clipboard


async def test_retrying_an_answered_companion_turn_replaces_its_reply(live_server, live_ctx, tmp_path):
    """ctrl+r on a reply that already arrived re-answers the same transcript turn: the user's
    message is not written twice, and the new reply is what later turns send as context."""
    from phantom_cli.tui.home import persona_conversation

    from phantom_cli.conversation.transcripts import Transcript

    path = tmp_path / "luna.toml"
    path.write_text('name = "Luna"\nbio = "A warm companion who loves astronomy."\n')
    app = PhantomApp(live_ctx, start="chat", source=persona_conversation(live_ctx, path))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await type_and_send(pilot, "Tell me about the moon.")
        await settle(app, pilot)
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        shown = views(app.screen)
        assert [v.role for v in shown] == ["user", "assistant"]
        retried = shown[-1].text
        await type_and_send(pilot, "And the stars?")
        await settle(app, pilot)
        window = app.screen.conv.window
    turns = Transcript("luna").turns()
    assert [t.user for t in turns] == ["Tell me about the moon.", "And the stars?"]
    assert all(t.answered for t in turns)
    assert turns[0].reply.strip() == retried.strip()
    assert [m["content"] for m in window if m["role"] == "user"] == [t.user for t in turns]


SECRET_RUN = [  # the Hollow Market's secret_revealed outcome (phantom_cli/backend/npc/data/)
    "I'm looking for something rare.",
    "Would you take a secret instead of gold?",
    "I confess I once stole a bell from the temple.",
]


async def test_npc_unlocked_machine_is_offered_and_opens(live_server, live_ctx):
    """secret_revealed unlocks machine_secret: a notification names the key, ctrl+t (and a
    palette action) opens the unlocked machine in the same session."""
    app = PhantomApp(live_ctx, start="chat", source=NpcConversation(live_ctx, "abc123"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert "Something rare for sale" in str(screen.query_one("#chat-title", Static).render())
        assert not screen.check_action("play_unlocked", ())  # nothing unlocked yet
        for line in SECRET_RUN:
            await type_and_send(pilot, line)
            await settle(app, pilot)
        assert screen.conv.panel["outcome"] == "secret_revealed", panel_text(screen)
        assert screen.unlocked == ["machine_secret"]
        notes = [n.message for n in app._notifications]
        assert any("machine_secret" in n and "ctrl+t" in n for n in notes), notes
        titles = [t for t, _help, _cb in screen.palette_actions()]
        assert "Play unlocked machine: machine_secret" in titles
        await pilot.press("ctrl+t")
        await settle(app, pilot)
        vault = app.screen
        assert isinstance(vault, ChatScreen) and vault is not screen
        assert vault.conv.machine_id == "machine_secret"
        assert vault.conv.session_id == live_ctx.session_id
        assert "The Lantern Vault" in str(vault.query_one("#chat-title", Static).render())
        shown = views(vault)
        assert len(shown) == 1 and "greeting" in shown[0].marks and shown[0].text.strip()
        assert "path: riddle" in panel_text(vault)
    client = live_server.async_client()
    try:
        history = await client.npc.history(
            "abc123", user_session_id=live_ctx.session_id, machine_id="machine_secret")
    finally:
        await client.aclose()
    assert history.messages and history.machine_id == "machine_secret"


async def test_answered_npc_and_instance_turns_are_not_replayed(live_server, live_ctx):
    """ctrl+r / ctrl+l on an answered NPC or instance turn would play a second turn on the
    server: refused with a message; the screen and the server agree (QA 16). After an outcome
    the input says how to reset instead of sending into a 409 (QA 11)."""
    app = PhantomApp(live_ctx, start="chat", source=NpcConversation(live_ctx, "abc123"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        await type_and_send(pilot, SECRET_RUN[0])
        await settle(app, pilot)
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        await pilot.press("ctrl+l")
        await settle(app, pilot)
        assert not screen.editing
        notes = [n.message for n in app._notifications]
        assert sum("That turn was answered" in n for n in notes) == 2, notes
        assert any("ctrl+n resets" in n for n in notes)
        assert [v.role for v in views(screen)] == ["assistant", "user", "assistant"]
        for line in SECRET_RUN[1:]:
            await type_and_send(pilot, line)
            await settle(app, pilot)
        await type_and_send(pilot, "One more thing...")
        await settle(app, pilot)
        assert not screen.error  # not sent: no 409
        notes = [n.message for n in app._notifications]
        assert any("completed (outcome: secret_revealed)" in n and "ctrl+n" in n for n in notes)
    client = live_server.async_client()
    try:
        history = await client.npc.history("abc123", user_session_id=live_ctx.session_id)
        assert [m.content for m in history.messages if m.role == "player"] == SECRET_RUN
        act = live_server.add_activity(title="Storm watch", is_companion=True,
                                       first_message="Listen to that wind.")
        ctx2 = make_ctx(live_server, live_ctx.session_id)
        conv = await InstanceConversation.create(ctx2, act)
        app2 = PhantomApp(ctx2, start="chat", source=InstanceConversation(ctx2, conv.instance_id))
        async with app2.run_test(size=(100, 30)) as pilot:
            await settle(app2, pilot)
            await type_and_send(pilot, "tell me about the storm")
            await settle(app2, pilot)
            await pilot.press("ctrl+r")
            await settle(app2, pilot)
            assert [v.role for v in views(app2.screen)] == ["assistant", "user", "assistant"]
        page = await client.instances.messages.list(conv.instance_id)
        assert [m.role for m in page.data].count("user") == 1
    finally:
        await client.aclose()


async def test_a_gone_local_server_is_started_again_and_the_turn_retried(live_server):
    """QA 18: after the local server went away the TUI re-points its client (in the app:
    connect.refresh, which starts the server again) and retries once — opening, sending and
    the home list all recover without the user doing anything."""
    from phantom_cli.tui.conversations import CompanionConversation

    from phantom_cli.client.models import CompanionPersona

    client = live_server.async_client(max_retries=0)
    calls: list[str] = []

    def reconnect(c):  # what connect.refresh does: new base URL (and key) on the same client
        calls.append(c.base_url)
        changed = c.base_url != live_server.base_url
        c.base_url = live_server.base_url
        return changed

    ctx = AppContext(client=client, backend="local", profile="test", player_name="Alex",
                     user_session_id=f"tui-{uuid.uuid4().hex[:10]}", reconnect=reconnect)
    dead = "http://127.0.0.1:9"
    client.base_url = dead  # the server "went away" before the app opened
    from phantom_cli.conversation.transcripts import Transcript

    chat_id = f"tui-{uuid.uuid4().hex[:8]}"
    conv = CompanionConversation(ctx, CompanionPersona(name="Luna"), chat_id,
                                 transcript=Transcript(chat_id))
    app = PhantomApp(ctx, start="chat", source=NpcConversation(ctx, "abc123"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert not screen.error and len(views(screen)) == 1  # opened after reconnecting
        client.base_url = dead  # and again, mid-conversation
        await type_and_send(pilot, SECRET_RUN[0])
        await settle(app, pilot)
        assert not screen.error, screen.error
        assert [v.role for v in views(screen)] == ["assistant", "user", "assistant"]
        assert views(screen)[-1].text.strip()
        client.base_url = dead
        app.push_screen(ChatScreen(ctx, conv))
        await settle(app, pilot)
        await type_and_send(pilot, "Hello again")
        await settle(app, pilot)
        assert not app.screen.error and views(app.screen)[-1].text.strip()
        client.base_url = dead
        home = HomeScreen(ctx)
        app.push_screen(home)
        await settle(app, pilot)
        assert not home.problems and any(e.kind == "npc" for e in home.entries)
        notes = [n.message for n in app._notifications]
        assert any("started again" in n for n in notes)
    assert calls.count(dead) == 4
    turns = Transcript(conv.chat_id).turns()  # the failed try and the retry are one turn
    assert [(t.user, t.answered) for t in turns] == [("Hello again", True)]


async def test_retry_sends_the_next_attempt_seed_and_gets_another_reply(live_server, live_ctx):
    """ctrl+r's conversation.retry() sends seed 1, 2, … (a local-backend extension): the
    scripted engine answers differently each attempt; a new message starts at attempt 0."""
    from phantom_cli.tui.conversations import CompanionConversation, Done

    conv = CompanionConversation(live_ctx, {"name": "Luna", "bio": "A warm companion."},
                                 f"retry-{uuid.uuid4().hex[:8]}")

    async def reply(events) -> str:
        return [e for e in [x async for x in events] if isinstance(e, Done)][-1].reply

    first = await reply(conv.send("My garden finally bloomed this week!"))
    second = await reply(conv.retry())
    third = await reply(conv.retry())
    assert conv.attempt == 2 and len({first, second, third}) == 3
    async with live_server.async_client() as c:
        params = (await c.local.prompt(conv.last_turn_id)).params
    assert params["seed"] == 2
    await reply(conv.send("And the roses too."))
    assert conv.attempt == 0
