"""Command palette: every action of the current screen, from the screen's own list."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher

from .sanitize import plain


def screen_actions(screen: Any) -> list[tuple[str, str, Callable[[], Any]]]:
    getter = getattr(screen, "palette_actions", None)
    return list(getter()) if callable(getter) else []


def highlight(matcher: Matcher, title: str) -> Content:
    """``matcher.highlight(title)`` without parsing ``title`` as markup: titles and help carry
    names from the server, and the palette parses a plain ``str`` as Textual markup."""
    content = plain(title)
    candidate = content.plain
    _score, offsets = matcher.fuzzy_search.match(matcher.query, candidate)
    for offset in offsets:
        if not candidate[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


def _help(text: str) -> Content | None:
    return plain(text) if text else None


class ScreenCommands(Provider):
    """Offers ``screen.palette_actions()``: ``(title, help, callback)`` triples."""

    async def discover(self) -> Hits:
        for title, help_text, callback in screen_actions(self.screen):
            yield DiscoveryHit(plain(title), partial(callback), help=_help(help_text))  # type: ignore[arg-type]

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in screen_actions(self.screen):
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, highlight(matcher, title), partial(callback),
                          help=_help(help_text))  # type: ignore[arg-type]
