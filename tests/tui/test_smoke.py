from __future__ import annotations

from phantom_cli.tui.app import PhantomApp
from phantom_cli.tui.chat import ChatScreen
from phantom_cli.tui.widgets import MessageView


async def test_npc_flow(ctx, fake):
    from phantom_cli.tui.conversations import NpcConversation

    app = PhantomApp(ctx, start="chat", source=NpcConversation(ctx, "abc123"))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        await pilot.press(*"hello")
        await pilot.press("enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        views = list(screen.query(MessageView))
        print([(v.role, v.content_text, v.text) for v in views])
        assert views[-1].text.startswith("Rare?")
