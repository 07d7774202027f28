"""Command palette: every action of the current screen, from the screen's own list."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider


def screen_actions(screen: Any) -> list[tuple[str, str, Callable[[], Any]]]:
    getter = getattr(screen, "palette_actions", None)
    return list(getter()) if callable(getter) else []


class ScreenCommands(Provider):
    """Offers ``screen.palette_actions()``: ``(title, help, callback)`` triples."""

    async def discover(self) -> Hits:
        for title, help_text, callback in screen_actions(self.screen):
            yield DiscoveryHit(title, partial(callback), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in screen_actions(self.screen):
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(callback), help=help_text)
