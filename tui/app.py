"""The Textual app behind `phantom chat` and `phantom playground`."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import App

from phantom_cli.client.errors import PhantomError

from .commands import ScreenCommands
from .context import AppContext


class PhantomApp(App[None]):
    TITLE = "phantom"
    COMMANDS = App.COMMANDS | {ScreenCommands}

    def __init__(self, ctx: AppContext, start: str = "home", source: Any = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.start = start
        self.source = source

    def on_mount(self) -> None:
        self.push_screen(self._first_screen())
        self._load_engine()

    def _first_screen(self) -> Any:
        if self.start == "playground":
            from .playground import PlaygroundScreen

            return PlaygroundScreen(self.ctx, persona=self.source)
        if self.start == "chat" and self.source is not None:
            from .chat import ChatScreen

            return ChatScreen(self.ctx, self.source)
        from .home import HomeScreen

        return HomeScreen(self.ctx)

    @work(exclusive=True, group="engine")
    async def _load_engine(self) -> None:
        if self.ctx.backend != "local" or self.ctx.engine:
            self._refresh_status()
            return
        try:
            info = await self.ctx.client.local.info()
        except PhantomError:  # a hosted URL under the local profile, or the server is down
            self.ctx.engine = "unknown"
        else:
            engine = info.engine or "unknown"
            model = info.engine_model
            self.ctx.engine = f"{engine} ({model})" if model else engine
        self._refresh_status()

    def _refresh_status(self) -> None:
        for screen in self.screen_stack:
            refresh = getattr(screen, "refresh_status", None)
            if refresh:
                refresh()

    def action_home(self) -> None:
        from .home import HomeScreen

        for screen in self.screen_stack:
            if isinstance(screen, HomeScreen):
                while not isinstance(self.screen, HomeScreen):
                    self.pop_screen()
                return
        self.push_screen(HomeScreen(self.ctx))

    async def on_unmount(self) -> None:
        try:
            await self.ctx.aclose()
        except Exception:
            pass
