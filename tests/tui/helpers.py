from __future__ import annotations

from phantom_cli.tui.widgets import MessageView, SidePanel
from textual.widgets import Static


async def settle(app, pilot, rounds: int = 3) -> None:
    """Let workers finish and the screen process its messages (no waiting for CPU idle: the
    live server runs in this process, so "idle" would wait out its work too)."""
    for _ in range(rounds):
        await pilot.pause(0.02)
        await app.workers.wait_for_complete()
    await pilot.pause(0.02)


def views(screen) -> list[MessageView]:
    return list(screen.query(MessageView))


def panel_text(screen) -> str:
    return str(screen.query_one(SidePanel).query_one("#panel-body", Static).render())


def banner_text(screen) -> str:
    banner = screen.query_one("#error-banner", Static)
    return str(banner.render()) if banner.display else ""


async def type_and_send(pilot, text: str) -> None:
    """Put ``text`` in the chat input and press Enter (typing key by key is slow in pilot)."""
    from phantom_cli.tui.widgets import ChatInput

    box = pilot.app.screen.query_one(ChatInput)
    box.focus()
    box.text = text
    await pilot.press("enter")


def screen_text(app) -> str:
    """What the terminal shows, as plain text (one line per row)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())
