from __future__ import annotations

from phantom_cli.tui.widgets import MessageView, SidePanel
from textual.widgets import Static


async def settle(app, pilot, rounds: int = 3) -> None:
    for _ in range(rounds):
        await pilot.pause()
        await app.workers.wait_for_complete()
    await pilot.pause()


def views(screen) -> list[MessageView]:
    return list(screen.query(MessageView))


def panel_text(screen) -> str:
    return str(screen.query_one(SidePanel).query_one("#panel-body", Static).render())


def banner_text(screen) -> str:
    banner = screen.query_one("#error-banner", Static)
    return str(banner.render()) if banner.display else ""


async def type_and_send(pilot, text: str) -> None:
    await pilot.press(*text)
    await pilot.press("enter")
