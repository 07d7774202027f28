from __future__ import annotations

import json

from helpers import settle as _settle  # noqa: E402
from phantom_cli.tui.app import PhantomApp
from phantom_cli.tui.playground import PlaygroundScreen
from textual.widgets import Input, Static, TextArea


async def test_playground_send_and_copy(ctx, fake):
    app = PhantomApp(ctx, start="playground")
    async with app.run_test(size=(100, 40)) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, PlaygroundScreen)
        screen.query_one("#msg-content", TextArea).text = "Morning! Remember my presentation?"
        await pilot.press("ctrl+s")
        await _settle(app, pilot)
        assert fake.calls[-1][0] == "companion.chat"
        assert fake.calls[-1][1]["messages"][-1]["content"].startswith("Morning!")
        assert screen.window[-1]["role"] == "assistant"
        req = json.loads(screen.query_one("#json-request", TextArea).text)
        assert req["chat_id"] == "playground-test"
        await pilot.press("f5")
        assert "$PHANTOM_KEY" in app.clipboard and "Bearer ***" not in app.clipboard
        await pilot.press("f4")
        assert json.loads(app.clipboard)["reply"].startswith("Morning")


async def test_playground_shows_a_request_in_flight(ctx, fake):
    """Long work shows progress: the status bar says a turn is on its way until it is in."""
    import asyncio

    from phantom_cli.tui.widgets import StatusBar

    fake.script.gate = asyncio.Event()
    app = PhantomApp(ctx, start="playground")
    async with app.run_test(size=(100, 40)) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        screen.query_one("#msg-content", TextArea).text = "Still there?"
        await pilot.press("ctrl+s")
        await pilot.pause()
        bar = screen.query_one(StatusBar)
        assert screen.sending and "request: sending…" in str(bar.render())
        # reactive(bindings=True): Send is shown disabled while the turn is on its way
        assert screen.check_action("send", ()) is None
        fake.script.gate.set()
        await _settle(app, pilot)
        assert not screen.sending and screen.window[-1]["role"] == "assistant"
        assert screen.check_action("send", ()) is True
        assert "request" not in str(bar.render()) and "latency" in str(bar.render())


async def test_playground_live_validation(ctx):
    app = PhantomApp(ctx, start="playground")
    async with app.run_test(size=(100, 40)) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        screen.query_one("#pf-chat_style", Input).value = "x" * 81
        await pilot.pause()
        err = screen.query_one("#pe-chat_style", Static)
        assert err.display and "at most 80" in str(err.render())
        assert "81/80" in str(screen.query_one("#pc-chat_style", Static).render())


async def _answer(pilot, app, text: str) -> None:
    from phantom_cli.tui.modals import AskModal

    await pilot.pause()
    assert isinstance(app.screen, AskModal)
    app.screen.query_one("#answer", Input).value = text
    await pilot.press("enter")
    await _settle(app, pilot)


async def test_playground_load_and_save_persona_and_request(ctx, fake, tmp_path):
    from phantom_cli.personafile import load_persona

    src = tmp_path / "in.toml"
    src.write_text('name = "Bram"\nchat_style = "gruff, warm"\nbio = "A blacksmith."\n')
    app = PhantomApp(ctx, start="playground")
    async with app.run_test(size=(100, 40)) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        await pilot.press("f7")
        await _answer(pilot, app, str(src))
        assert screen.query_one("#pf-name", Input).value == "Bram"
        assert screen.query_one("#pf-bio", TextArea).text == "A blacksmith."
        screen.query_one("#pf-nickname", Input).value = "B"
        out = tmp_path / "out.yaml"
        await pilot.press("f8")
        await _answer(pilot, app, str(out))
        saved = load_persona(out)
        assert (saved.name, saved.nickname, saved.chat_style) == ("Bram", "B", "gruff, warm")
        # the request preview is saved before anything is sent
        screen.query_one("#msg-content", TextArea).text = "hello"
        await pilot.press("ctrl+s")
        await _settle(app, pilot)
        req_file = tmp_path / "req.json"
        await pilot.press("f6")
        await _answer(pilot, app, str(req_file))
        body = json.loads(req_file.read_text())
        assert body["persona"]["name"] == "Bram" and body["messages"][-1]["content"] == "hello"


async def test_playground_refuses_invalid_before_sending(ctx, fake):
    app = PhantomApp(ctx, start="playground")
    async with app.run_test(size=(100, 40)) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        screen.query_one("#pf-name", Input).value = ""
        screen.query_one("#opt-temperature", Input).value = "3"
        screen.query_one("#opt-chat_id", Input).value = "-bad id"
        await pilot.press("ctrl+s")
        await _settle(app, pilot)
        error = str(screen.query_one("#pg-error", Static).render())
        assert "name: required" in error and "temperature: between 0 and 2" in error
        assert "chat_id:" in error and "messages:" in error
        assert not fake.calls


async def test_playground_window_editing(ctx, fake):
    from textual.widgets import Button

    app = PhantomApp(ctx, start="playground")
    async with app.run_test(size=(100, 40)) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        box = screen.query_one("#msg-content", TextArea)
        for text in ("first", "second", "third"):
            box.text = text
            screen.query_one("#msg-add", Button).press()
            await pilot.pause()
        assert [m["content"] for m in screen.window] == ["first", "second", "third"]
        assert [m["role"] for m in screen.window] == ["user", "assistant", "user"]
        screen.query_one("#window").highlighted = 1
        await pilot.pause()
        box.text = "SECOND"
        screen.query_one("#msg-replace", Button).press()
        await pilot.pause()
        assert screen.window[1] == {"role": "assistant", "content": "SECOND"}
        screen.query_one("#window").highlighted = 0
        await pilot.pause()
        screen.query_one("#msg-remove", Button).press()
        await pilot.pause()
        assert [m["content"] for m in screen.window] == ["SECOND", "third"]
        await pilot.press("ctrl+s")
        await _settle(app, pilot)
        assert fake.calls[-1][1]["messages"] == [
            {"role": "assistant", "content": "SECOND"}, {"role": "user", "content": "third"}]


async def test_playground_tabs_switch_by_key_and_palette(ctx):
    """QA 11: f9 cycles the tabs from inside the persona form; the palette names each tab."""
    from textual.widgets import TabbedContent

    app = PhantomApp(ctx, start="playground")
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        tabs = screen.query_one("#pg-tabs", TabbedContent)
        screen.query_one("#persona-form Input").focus()  # typing in a field
        seen = []
        for _ in range(4):
            await pilot.press("f9")
            await pilot.pause()
            seen.append(tabs.active)
        assert seen == ["tab-turn", "tab-response", "tab-json", "tab-persona"], seen
        actions = {title: cb for title, _help, cb in screen.palette_actions()}
        actions["Show the JSON tab"]()
        await pilot.pause()
        assert tabs.active == "tab-json"


async def test_playground_validates_by_building_the_request_model(ctx, fake):
    """14.6: the forms own their values; the request model (not retyped limits) decides, so a
    rule only the model knows (a name of blanks) is shown too, with the field and the limit."""
    from phantom_cli.tui.playground import PersonaForm, TurnForm, request_errors

    app = PhantomApp(ctx, start="playground")
    async with app.run_test(size=(100, 40)) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        persona, turn = screen.query_one(PersonaForm), screen.query_one(TurnForm)
        screen.query_one("#pf-name", Input).value = "   "
        screen.query_one("#opt-max_tokens", Input).value = "32001"
        await pilot.pause()
        assert persona.value() == {"name": "   "}
        assert turn.value()["max_tokens"] == 32001
        err = screen.query_one("#pe-name", Static)
        assert err.display and "must not be blank" in str(err.render())
        options = str(screen.query_one("#oe-options", Static).render())
        assert "max_tokens: between 1 and 32000" in options
        errors = dict(request_errors(screen.request_body()))
        assert errors["max_tokens"] == "between 1 and 32000"
        assert errors["messages"].startswith("1–100 turns")
        await pilot.press("ctrl+s")
        await _settle(app, pilot)
        assert "persona.name: must not be blank" in str(screen.query_one("#pg-error", Static).render())
        assert not fake.calls
        long = {"role": "user", "content": "x" * 16001}
        assert dict(request_errors({"messages": [long]}))["messages[0].content"] == (
            "at most 16000 characters")
