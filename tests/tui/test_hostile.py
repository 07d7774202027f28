"""Hostile text is shown inert and intact; conversations finish with the backend's faults on.

Replies, names, titles and error messages carrying Rich/Textual markup, ANSI and OSC escape
sequences (colour, window title, OSC 52 clipboard write, OSC 8 hyperlink) and a huge unbroken
line must reach the screen as literal text: no markup applied, no action run, no escape byte
written to the terminal, nothing cut.
"""

from __future__ import annotations

import html
import json
import re

import pytest
from helpers import banner_text, panel_text, settle, type_and_send, views
from phantom_cli.tui.app import PhantomApp
from phantom_cli.tui.context import AppContext
from phantom_cli.tui.conversations import (
    CompanionConversation,
    InstanceConversation,
    NpcConversation,
)
from phantom_cli.tui.home import HomeScreen
from phantom_cli.tui.sanitize import clean
from scripted import ScriptedClient
from textual.widgets import OptionList, TextArea

from phantom_cli.client.errors import ServiceUnavailableError
from phantom_cli.client.models import CompanionPersona

MARKUP = "[bold red]BOOM[/bold red] [@click=app.quit]quit[/] [link=https://evil.example]x[/link]"
ANSI = "\x1b[31mred\x1b[0m"
TITLE = "\x1b]0;pwned\x07"
OSC52 = "\x1b]52;c;ZXZpbA==\x07"
OSC8 = "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\"
C1 = "\x9b31m"
HOSTILE = f"{MARKUP} {ANSI} {TITLE} {OSC52} {OSC8} {C1}"
HUGE = "A" * 20000


def screen_text(app) -> str:
    """What the terminal would show, as plain text (from the SVG screenshot)."""
    svg = app.export_screenshot()
    chunks = re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S)
    return html.unescape("".join(chunks)).replace("\xa0", " ")


def assert_inert(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text


def test_clean_makes_sequences_visible_even_when_split():
    whole = clean(HOSTILE)
    assert_inert(whole)
    assert "␛]52;c;ZXZpbA==␇" in whole and "␛[31mred␛[0m" in whole
    assert MARKUP in whole  # markup text untouched (it is escaped by rendering, not removed)
    pieces = [HOSTILE[i:i + 3] for i in range(0, len(HOSTILE), 3)]
    assert "".join(clean(p) for p in pieces) == whole


async def test_hostile_reply_in_transcript_panel_and_banner():
    fake = ScriptedClient()
    fake.script.companion_reply = HOSTILE
    fake.script.moderation = {"outbound_filtered": True, "reason": MARKUP + TITLE}
    ctx = AppContext(client=fake, backend="local", profile="t", engine="scripted")
    persona = CompanionPersona(name="[red]Luna[/red]")
    app = PhantomApp(ctx, start="chat", source=CompanionConversation(ctx, persona, "c1"))
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        await type_and_send(pilot, "[b]hi[/b]")
        await settle(app, pilot)
        screen = app.screen
        reply = views(screen)[-1]
        assert_inert(reply.text)
        assert "[bold red]BOOM[/bold red]" in reply.text and "␛]52;c;ZXZpbA==␇" in reply.text
        shown = screen_text(app)
        assert_inert(shown)
        assert "[bold red]BOOM[/bold red]" in shown  # the markup is shown, not applied
        assert "[b]hi[/b]" in shown and "[red]Luna[/red]" in shown
        assert "␛]0;pwned␇" in shown
        text = panel_text(screen)
        assert "[bold red]BOOM[/bold red]" in text and "␛]0;pwned␇" in text
        assert app.is_running  # [@click=app.quit] did nothing
        # a hostile server error message in the banner
        fake.script.fail["companion.chat"] = ServiceUnavailableError(MARKUP + OSC52, status=503)
        await type_and_send(pilot, "again")
        await settle(app, pilot)
        banner = banner_text(screen)
        assert "[bold red]BOOM[/bold red]" in banner and "␛]52;c;ZXZpbA==␇" in banner
        assert_inert(screen_text(app))


async def test_huge_unbroken_line_is_intact_and_wrapped():
    fake = ScriptedClient()
    fake.script.companion_reply = HUGE
    ctx = AppContext(client=fake, backend="local", profile="t", engine="scripted")
    app = PhantomApp(ctx, start="chat",
                     source=CompanionConversation(ctx, CompanionPersona(name="L"), "c1"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await type_and_send(pilot, "go")
        await settle(app, pilot)
        reply = views(app.screen)[-1]
        assert reply.text == HUGE
        assert reply.body.size.width <= 80  # folded into the transcript, not overflowing
        assert reply.body.virtual_size.height > 10


async def test_hostile_npc_state_names_and_home_list():
    fake = ScriptedClient()
    fake.npcs = [{"id": "abc123", "name": "Vesper " + MARKUP,
                  "persona": {"id": "abc123", "name": "Vesper " + MARKUP, "title": OSC8},
                  "machines": [{"id": "m1", "initial_state": "greeting",
                                "states": {"greeting": {}, "[blink]trap[/blink]" + ANSI: {}}}]}]
    fake.script.npc_replies = [{"message": HOSTILE, "current_state": "[blink]trap[/blink]" + ANSI,
                                "score": 1, "outcome": OSC52, "decision": TITLE,
                                "unlocked_machines": [MARKUP]}]
    fake.activity_data = [{"id": "a1", "title": "Roof " + MARKUP, "is_companion": True,
                           "short_description": TITLE}]
    ctx = AppContext(client=fake, backend="local", profile="t", engine="scripted")
    inst = await fake.instances.create("a1")
    app = PhantomApp(ctx, start="home")
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        home = app.screen
        assert isinstance(home, HomeScreen)
        options = home.query_one("#entries", OptionList)
        prompts = " | ".join(str(options.get_option_at_index(i).prompt)
                             for i in range(options.option_count))
        assert_inert(prompts)
        assert "Roof " + MARKUP in prompts and "Vesper " + MARKUP in prompts
        shown = screen_text(app)
        assert_inert(shown)
        assert "[bold red]BOOM[/bold red]" in shown and inst.id in shown
        app.push_screen(__import__("phantom_cli.tui.chat", fromlist=["ChatScreen"]).ChatScreen(
            ctx, NpcConversation(ctx, "abc123")))
        await settle(app, pilot)
        await type_and_send(pilot, "hello")
        await settle(app, pilot)
        text = panel_text(app.screen)
        assert_inert(text)
        assert "[blink]trap[/blink]␛[31m" in text and "␛]52;c;ZXZpbA==␇" in text
        assert "newly unlocked: " + MARKUP in text
        assert_inert(screen_text(app))
        assert all("\x1b" not in n.message for n in app._notifications)


async def test_hostile_names_in_the_command_palette():
    """Palette titles and help carry server text (entry names, subtitles): shown literally,
    never parsed as markup (an unbalanced ``[/bold]`` would raise, ``@click`` would act)."""
    from textual.command import CommandList, CommandPalette

    fake = ScriptedClient()
    fake.activity_data = [{"id": "a1", "title": "Roof [/bold] " + MARKUP, "is_companion": True,
                           "short_description": MARKUP + TITLE}]
    ctx = AppContext(client=fake, backend="local", profile="t", engine="scripted")
    app = PhantomApp(ctx, start="home")
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        for query in ("", "roof"):
            await pilot.press("ctrl+p")
            await pilot.pause()
            if query:
                await pilot.press(*query)
            await pilot.pause(0.5)
            palette = app.screen
            assert isinstance(palette, CommandPalette)
            commands = palette.query_one(CommandList)
            prompts = [commands.get_option_at_index(i).prompt
                       for i in range(commands.option_count)]
            hit = next(p for p in prompts if "Roof" in p.plain)
            assert not any("@click" in str(span.style) for span in hit.spans)  # no action
            assert "Open activity: Roof [/bold] " + MARKUP in hit.plain
            assert clean(MARKUP + TITLE) in hit.plain  # the help line: the subtitle, literal
            assert_inert(screen_text(app))
            await pilot.press("escape")
            await pilot.pause()
        assert app.is_running and isinstance(app.screen, HomeScreen)


async def test_hostile_text_in_playground_json_view():
    fake = ScriptedClient()
    fake.script.companion_reply = HOSTILE
    ctx = AppContext(client=fake, backend="local", profile="t", engine="scripted")
    app = PhantomApp(ctx, start="playground", source=CompanionPersona(name=MARKUP))
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        app.screen.query_one("#msg-content", TextArea).text = MARKUP + OSC52
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        response = app.screen.query_one("#json-response", TextArea).text
        request = app.screen.query_one("#json-request", TextArea).text
        for text in (response, request):
            assert_inert(text)
            assert "[bold red]BOOM[/bold red]" in text
        assert json.loads(response.split("\n", 1)[1])["reply"] == HOSTILE  # intact (JSON-escaped)
        await pilot.press("f2")
        await settle(app, pilot)
        assert_inert(screen_text(app))
        assert "\\u001b]52;c;ZXZpbA==" in screen_text(app)


# --------------------------------------------------------------------------- faults on


FAULTS = "cut-stream:0.35,503:0.15,retry-after:0"


@pytest.fixture
def faulty_server(tmp_path):
    """A server of its own with the fault mode on (seeded: the same faults every run)."""
    from phantom_cli.backend.testing import LiveServer

    server = LiveServer(tmp_path / "faulty", engine="scripted", seed=0, faults=FAULTS,
                        fault_seed=7).start()
    try:
        yield server
    finally:
        server.stop()


async def _turn_with_retries(app, pilot, text: str, attempts: int = 12) -> int:
    """Send ``text``; retry (ctrl+r) until the reply is complete. Returns the retries used."""
    await type_and_send(pilot, text)
    await settle(app, pilot)
    for retries in range(attempts):
        screen = app.screen
        last = views(screen)[-1]
        if last.role == "assistant" and not (set(last.marks) & {"incomplete", "stopped"}) \
                and not banner_text(screen):
            return retries
        await pilot.press("ctrl+r")
        await settle(app, pilot)
    raise AssertionError(f"turn {text!r} did not finish: {banner_text(app.screen)}")


async def test_npc_conversation_finishes_with_faults_and_retry_does_not_duplicate(faulty_server):
    ctx = AppContext(client=faulty_server.async_client(max_retries=4, timeout=10), backend="local",
                     profile="t", player_name="Alex", user_session_id="faulty-1")
    app = PhantomApp(ctx, start="chat", source=NpcConversation(ctx, "abc123"))
    sent = ["I heard you have something rare for sale.", "What is it?", "How much?",
            "Too much.", "Fine, I'll think about it."]
    cut_seen = False
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        for _ in range(5):
            if not banner_text(app.screen) and views(app.screen):
                break
            app.screen._open()
            await settle(app, pilot)
        for text in sent:
            await type_and_send(pilot, text)
            await settle(app, pilot)
            for _ in range(12):
                last = views(app.screen)[-1]
                if "incomplete" in last.marks:
                    cut_seen = True
                if last.role == "assistant" and not last.marks and not banner_text(app.screen):
                    break
                if views(app.screen)[-1].role == "assistant" and views(app.screen)[-1].marks == ["outcome"]:
                    break
                await pilot.press("ctrl+r")
                await settle(app, pilot)
            if app.screen.conv.panel.get("machine_completed"):
                break
        user_views = [v.text for v in views(app.screen) if v.role == "user"]
        assert len(user_views) == len(set(user_views)), "a user message shows twice"
    faulty_server.app.state.fault_state.faults = None  # faults off to count what was stored
    client = faulty_server.client()
    history = client.npc.history("abc123", user_session_id="faulty-1")
    players = [m.content for m in history.messages if m.role == "player"]
    assert players == user_views, "the server stored a message twice or lost one"
    assert cut_seen, "the fault mode never cut a stream (seed changed?)"


async def test_instance_conversation_finishes_with_faults(faulty_server):
    act = faulty_server.add_activity(title="Roof", is_companion=True, first_message="Hi there.")
    ctx = AppContext(client=faulty_server.async_client(max_retries=4, timeout=10), backend="local",
                     profile="t", user_session_id="faulty-2")

    async def create():
        return await InstanceConversation.create(ctx, act)

    app = PhantomApp(ctx, start="chat", source=create)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        for _ in range(5):
            if app.screen.conv is not None and not banner_text(app.screen):
                break
            app.screen._open()
            await settle(app, pilot)
        retries = 0
        for text in ["one", "two", "three", "four"]:
            retries += await _turn_with_retries(app, pilot, text)
        instance_id = app.screen.conv.instance_id
        shown = [v.text for v in views(app.screen) if v.role == "user"]
        assert shown == ["one", "two", "three", "four"]
    assert retries > 0, "the fault mode never failed a turn (seed changed?)"
    faulty_server.app.state.fault_state.faults = None  # faults off to count what was stored
    msgs = faulty_server.client().instances.messages.list(instance_id, limit=100).data
    users = [m.content for m in reversed(msgs) if m.role == "user"]
    assert users == ["one", "two", "three", "four"]
    assert sum(1 for m in msgs if m.role == "assistant") >= 4
