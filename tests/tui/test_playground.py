from __future__ import annotations

import json

from phantom_cli.tui.app import PhantomApp
from phantom_cli.tui.playground import PlaygroundScreen
from textual.widgets import Input, Static, TextArea


async def _settle(app, pilot):
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


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
