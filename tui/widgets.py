"""Widgets shared by the screens: the chat input, a transcript message, the side panel and
the status bar. Everything from the wire is shown through :mod:`.sanitize`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Markdown, Static, TextArea

from .sanitize import clean, plain

if TYPE_CHECKING:
    from .context import AppContext

NEWLINE_KEYS = ("ctrl+j", "shift+enter", "alt+enter")

MARK_LABELS = {
    "refused": "⚠ refused by moderation",
    "filtered": "⚠ filtered by moderation",
    "incomplete": "✂ incomplete — stream cut (ctrl+r retries)",
    "stopped": "■ stopped",
    "greeting": "opening message",
    "outcome": "★ outcome",
    "edited": "edited",
}


class InertMarkdown(Markdown):
    """Markdown for text from a model or server: a link in it is shown, never acted on.

    Textual's Markdown opens a clicked link in the browser (``open_links``) and posts
    ``LinkClicked`` for anyone to act on; here the click is dropped where it is made, so
    untrusted text cannot trigger an action."""

    def __init__(self, markdown: str | None = None, **kwargs: Any) -> None:
        kwargs["open_links"] = False
        super().__init__(markdown, **kwargs)

    def on_markdown_link_clicked(self, event: Markdown.LinkClicked) -> None:
        event.stop()
        event.prevent_default()


class ChatInput(TextArea):
    """Multi-line input: Enter sends; ctrl+j (or shift+enter / alt+enter where the terminal
    reports them) inserts a newline."""

    DEFAULT_CSS = """
    ChatInput { height: auto; min-height: 3; max-height: 10; }
    """

    class Submitted(Message):
        def __init__(self, chat_input: ChatInput, text: str) -> None:
            super().__init__()
            self.chat_input = chat_input
            self.text = text

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", **kwargs)

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            if self.text.strip():
                self.post_message(self.Submitted(self, self.text))
            return
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            start, end = self.selection
            self._replace_via_keyboard("\n", start, end)
            return
        await super()._on_key(event)


class MessageView(Vertical):
    """One transcript entry: a header (role and marks) and the content as Markdown.

    A message that is being streamed (``live=True``) uses Textual's ``Markdown`` widget and
    its stream; a finished message from history is one ``Static`` holding a Rich Markdown
    renderable (one widget instead of one per block: long histories open fast). Neither
    parses console/Textual markup: ``[bold]`` in a reply stays literal text.
    """

    DEFAULT_CSS = """
    MessageView { height: auto; margin: 0 0 1 0; padding: 0 1; }
    MessageView.user { border-left: thick $primary; }
    MessageView.assistant { border-left: thick $accent; }
    MessageView.incomplete, MessageView.refused, MessageView.filtered { border-left: thick $error; }
    MessageView.selected { background: $boost; }
    MessageView .msg-header { color: $text-muted; text-style: bold; }
    MessageView Markdown { margin: 0; padding: 0; }
    MessageView .msg-static { height: auto; }
    """

    def __init__(self, role: str, content: str, speaker: str, marks: list[str] | None = None,
                 *, live: bool = False):
        super().__init__(classes=role)
        self.role = role
        self.speaker = speaker
        self.marks: list[str] = []
        self.content_text = clean(content)
        self.live = live
        # live: a header and a Markdown widget; history: one Static rendering both
        self.header = Static(self._header(), classes="msg-header", markup=False)
        self.body: Markdown | Static = (
            InertMarkdown(self.content_text) if live
            else Static(self._static_renderable(), classes="msg-static", markup=False)
        )
        if marks:
            self.set_marks(list(marks))

    def compose(self) -> ComposeResult:
        if self.live:
            yield self.header
        yield self.body

    def _static_renderable(self) -> Any:
        from rich.console import Group

        header = self._header()
        header.stylize("bold")
        return Group(header, _rich_markdown(self.content_text))

    def header_text(self) -> str:
        return self._header().plain

    def set_header(self, text: Text) -> None:
        self._header_override = text
        self._refresh_header()

    def _refresh_header(self) -> None:
        self.header.update(self._header())
        if not self.live:
            self.body.update(self._static_renderable())

    @property
    def text(self) -> str:
        """The message's (cleaned) Markdown source as shown."""
        if isinstance(self.body, Markdown):
            return self.body.source
        return self.content_text

    _header_override: Text | None = None

    def _header(self) -> Text:
        if self._header_override is not None:
            return self._header_override.copy()
        text = Text(self.speaker)
        for mark in self.marks:
            text.append("  ")
            text.append(MARK_LABELS.get(mark, mark), style="italic")
        return text

    def set_marks(self, marks: list[str]) -> None:
        for mark in list(self.marks):
            self.remove_class(mark)
        self.marks = list(dict.fromkeys(marks))
        for mark in self.marks:
            self.add_class(mark)
        self._refresh_header()

    def add_mark(self, mark: str) -> None:
        self.set_marks([*self.marks, mark])

    async def set_content(self, content: str) -> None:
        self.content_text = clean(content)
        if isinstance(self.body, Markdown):
            await self.body.update(self.content_text)
        else:
            self.body.update(self._static_renderable())


def _rich_markdown(text: str) -> Any:
    from rich.markdown import Markdown as RichMarkdown

    return RichMarkdown(text, hyperlinks=False)


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(clean(v) for v in value) or "none"
    return clean(value)


PANEL_LABELS = {
    "current_state": "state",
    "score_delta": "score change",
    "redirect_count": "redirects",
    "follow_up": "follow-up",
    "scoring_mode": "scoring mode",
    "machine_completed": "machine completed",
    "unlocked_machines": "newly unlocked",
    "inbound_prohibited": "refused (inbound)",
    "outbound_filtered": "filtered (outbound)",
    "memories_retrieved": "memories retrieved",
    "profile_used": "profile used",
    "extraction_enqueued": "extraction queued",
}


def panel_text(panel: dict[str, Any], states: list[str] | None = None, path: list[str] | None = None) -> Text:
    """The side panel's content as plain Rich ``Text`` (never parsed as markup)."""
    out = Text()
    for key, value in panel.items():
        label = PANEL_LABELS.get(key, key.replace("_", " "))
        out.append(f"{label}: ", style="bold")
        if key == "score_delta" and isinstance(value, (int, float)):
            out.append(f"{value:+g}", style="green" if value >= 0 else "red")
        else:
            out.append(_fmt(value))
        out.append("\n")
    if states:
        path = path or []
        current = path[-1] if path else None
        out.append("\nstates\n", style="bold")
        for name in states:
            if name == current:
                out.append(f" ▶ {clean(name)}\n", style="bold reverse")
            elif name in path:
                out.append(f" ✓ {clean(name)}\n")
            else:
                out.append(f" · {clean(name)}\n", style="dim")
    if path:
        out.append("\npath: ", style="bold")
        out.append(" → ".join(clean(p) for p in path))
        out.append("\n")
    return out


class SidePanel(VerticalScroll):
    DEFAULT_CSS = """
    SidePanel { width: 34; border-left: solid $panel; padding: 0 1; }
    SidePanel #panel-title { text-style: bold; color: $accent; }
    """

    def compose(self) -> ComposeResult:
        yield Static("Turn", id="panel-title")
        yield Static("", id="panel-body", markup=False)

    def show(self, title: str, panel: dict[str, Any], states: list[str] | None = None,
             path: list[str] | None = None) -> None:
        self.query_one("#panel-title", Static).update(plain(title))
        self.query_one("#panel-body", Static).update(panel_text(panel, states, path))


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", markup=False, **kwargs)
        self.fields: dict[str, str] = {}

    def set(self, **fields: Any) -> None:
        for key, value in fields.items():
            self.fields[key] = "—" if value is None else clean(value)
        self._render_fields()

    def drop(self, *keys: str) -> None:
        """Remove fields shown for a while (e.g. a request in flight)."""
        for key in keys:
            self.fields.pop(key, None)
        self._render_fields()

    def _render_fields(self) -> None:
        parts = [f"{k}: {v}" for k, v in self.fields.items()]
        self.update(Text(" · ".join(parts)))

    def show_context(self, ctx: AppContext, **extra: Any) -> None:
        """backend · engine · profile of ``ctx`` (then ``extra``): the engine is "—" on the
        local backend until its server names it, "hosted" otherwise."""
        self.set(
            backend=ctx.backend,
            engine=ctx.engine or ("—" if ctx.backend == "local" else "hosted"),
            profile=ctx.profile,
            **extra,
        )


def latency_text(ms: float | None) -> str | None:
    return f"{ms:.0f} ms" if ms is not None else None
