"""`phantom chat` home: everything the user can talk to, with a filter."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.padding import Padding
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from phantom_cli._text import humanize_time

from .context import AppContext
from .conversations import (
    CompanionConversation,
    Conversation,
    InstanceConversation,
    NpcConversation,
)
from .errors import describe
from .sanitize import clean, plain
from .widgets import StatusBar

GROUPS = (
    ("persona", "Companion personas"),
    ("activity", "Companion activities"),
    ("npc", "NPCs"),
    ("instance", "Your activity instances (resume)"),
)
# loaded together with the companion activities (one request), listed after them
EXTRA_GROUPS = (("other", "Other activities (start a new instance)"),)
INDENT = 2


def _display_groups() -> list[tuple[str, str]]:
    """Sections in display order: the non-companion activities right after the companion ones."""
    out: list[tuple[str, str]] = []
    for kind, label in GROUPS:
        out.append((kind, label))
        if kind == "activity":
            out.extend(EXTRA_GROUPS)
    return out


@dataclass
class Entry:
    kind: str  # persona | activity | other (a non-companion activity) | npc | instance
    key: str
    title: str
    subtitle: str = ""

    @property
    def option_id(self) -> str:
        return f"{self.kind}:{self.key}"

    def matches(self, query: str) -> bool:
        q = query.lower().strip()
        return not q or q in f"{self.title} {self.subtitle} {self.key} {self.kind}".lower()


def persona_conversation(ctx: AppContext, path: Path) -> CompanionConversation:
    """A companion conversation with the persona in ``path``; its chat_id and local transcript
    are the ones `phantom companion say` uses, so either continues the other's conversation."""
    from phantom_cli.conversation.transcripts import Transcript, chat_id_for
    from phantom_cli.personafile import load_persona

    persona = load_persona(path, warn=lambda _msg: None)
    chat_id = chat_id_for(persona.name)
    return CompanionConversation(ctx, persona, chat_id, source=str(path),
                                 transcript=Transcript(chat_id))


def conversation_factory(ctx: AppContext, entry: Entry) -> Callable[[], Awaitable[Conversation]]:
    async def make() -> Conversation:
        if entry.kind == "persona":
            return persona_conversation(ctx, Path(entry.key))
        if entry.kind == "npc":
            return NpcConversation(ctx, entry.key, title=entry.title)
        if entry.kind == "instance":
            return InstanceConversation(ctx, entry.key, entry.title)
        if entry.kind in ("activity", "other"):
            return await InstanceConversation.create(ctx, entry.key)
        raise ValueError(f"unknown entry kind {entry.kind!r}")

    return make


class HomeScreen(Screen[None]):
    CSS_PATH = "home.tcss"
    BINDINGS = [
        Binding("ctrl+f", "focus_filter", "Filter"),
        Binding("f5", "reload", "Reload"),
        # ctrl+o is "home" everywhere else: pressed again here it must not open the highlighted entry
        Binding("ctrl+o", "noop", "Home", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("up", "move(-1)", "Up", show=False),
    ]

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.entries: list[Entry] = []
        self.problems: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static("phantom chat — pick someone to talk to", id="home-title", markup=False)
        yield Input(placeholder="Filter (name, kind, id)…", id="filter")
        yield OptionList(id="entries")
        yield Static("", id="home-problems", markup=False)
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#home-problems").display = False
        self.refresh_status()
        self.action_reload()

    def on_screen_resume(self) -> None:
        """Back from a conversation (ctrl+o): a new instance or a newer "last used" shows at once."""
        if self.entries or self.problems:  # the first load is on_mount's
            self.action_reload()

    def refresh_status(self) -> None:
        from textual.css.query import NoMatches

        try:
            bar = self.query_one(StatusBar)
        except NoMatches:  # not composed yet: on_mount calls this again
            return
        bar.show_context(self.ctx)

    # ------------------------------------------------------------------ loading

    @work(exclusive=True, group="load")
    async def action_reload(self) -> None:
        self.query_one("#entries", OptionList).loading = True
        results = await self._load_all()
        failures = [r for r in results if isinstance(r, Exception)]
        if failures and await self.ctx.try_reconnect(failures[0]):
            results = await self._load_all()  # the local server was started again
        self.entries = []
        self.problems = []
        for (_kind, label), result in zip(GROUPS, results, strict=True):
            if _kind == "activity":
                label = "Activities"
            if isinstance(result, BaseException):
                self.problems.append(f"{label}: {describe(result).text()}")
            else:
                self.entries.extend(result)
        self.query_one("#entries", OptionList).loading = False
        self.rebuild()

    async def _load_all(self) -> list[Any]:
        return list(await asyncio.gather(
            self._personas(), self._activities(), self._npcs(), self._instances(),
            return_exceptions=True,
        ))

    async def _personas(self) -> list[Entry]:
        from phantom_cli.personafile import read_persona

        from .context import persona_files

        out = []
        for path in persona_files(self.ctx):
            try:
                pf = read_persona(path)
                name = pf.persona.name
                sub = pf.persona.chat_style or pf.persona.nickname or ""
            except Exception as exc:  # a broken file is listed with its problem
                name, sub = path.stem, f"cannot load: {exc}"
            out.append(Entry("persona", str(path), clean(name), clean(f"{sub}  ({path.name})".strip())))
        return out

    async def _activities(self) -> list[Entry]:
        """Every published activity: companion ones first, the others in their own section
        (grouped by category); opening either starts a new instance."""
        page = await self.ctx.client.activities.list(limit=100)
        out = []
        for a in page.data:
            kind = "activity" if a.is_companion else "other"
            category = a.category or ""
            sub = a.short_description or ""
            if kind == "other" and category:
                sub = f"{category} · {sub}" if sub else category
            out.append(Entry(kind, a.id, clean(a.title or a.id), clean(sub or category)))
        out.sort(key=lambda e: (e.kind != "activity", e.subtitle if e.kind == "other" else ""))
        return out

    async def _npcs(self) -> list[Entry]:
        if self.ctx.backend == "local":
            npcs = await self.ctx.client.local.npcs()
            out = []
            for npc in npcs.data:
                sub = f"{npc.description} · {len(npc.machines)} machine(s)".strip(" ·")
                out.append(Entry("npc", npc.id, clean(npc.name or npc.id), clean(sub)))
            return out
        return [Entry("npc", self.ctx.npc_persona, clean(self.ctx.npc_persona), "profile npc_persona")]

    async def _instances(self) -> list[Entry]:
        page = await self.ctx.client.instances.list(status="active", limit=100)
        out = []
        for i in page.data:
            when = humanize_time(i.last_accessed_at or i.created_at) or "—"
            out.append(Entry("instance", i.id, clean(i.snapshot_title or i.id),
                             clean(f"{i.id} · last used {when}")))
        return out

    # ------------------------------------------------------------------ list

    def rebuild(self) -> None:
        query = self.query_one("#filter", Input).value
        options = self.query_one("#entries", OptionList)
        options.clear_options()
        items: list[Option | None] = []
        for kind, label in _display_groups():
            group = [e for e in self.entries if e.kind == kind and e.matches(query)]
            if not group:
                continue
            items.append(Option(Text(label, style="bold"), disabled=True))
            for e in group:
                prompt = Text(e.title)
                if e.subtitle:
                    prompt.append("  ")
                    prompt.append(e.subtitle, style="dim")
                # a long subtitle wraps under the entry, not back at column 0
                items.append(Option(Padding(prompt, (0, 0, 0, INDENT)), id=e.option_id))
        if not items:
            items.append(Option(Text("Nothing matches the filter." if query else "Nothing to talk to yet."), disabled=True))
        options.add_options(items)
        first = next((i for i, o in enumerate(items) if o is not None and not o.disabled), None)
        if first is not None:
            options.highlighted = first
        problems = self.query_one("#home-problems", Static)
        problems.update(plain("\n".join(self.problems)))
        problems.display = bool(self.problems)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.rebuild()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.action_open()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._open_id(event.option.id)

    def action_open(self) -> None:
        options = self.query_one("#entries", OptionList)
        if options.highlighted is not None:
            self._open_id(options.get_option_at_index(options.highlighted).id)

    def _open_id(self, option_id: str | None) -> None:
        entry = next((e for e in self.entries if e.option_id == option_id), None)
        if entry is None:
            return
        from .chat import ChatScreen

        self.app.push_screen(ChatScreen(self.ctx, conversation_factory(self.ctx, entry)))

    def action_noop(self) -> None:
        """Already home."""

    def action_move(self, step: int) -> None:
        """Up/down in the filter box move the list's highlight (the list keeps its own keys)."""
        options = self.query_one("#entries", OptionList)
        if step > 0:
            options.action_cursor_down()
        else:
            options.action_cursor_up()

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def palette_actions(self) -> list[tuple[str, str, Callable[[], Any]]]:
        actions: list[tuple[str, str, Callable[[], Any]]] = [
            ("Filter the list", "Focus the filter box (ctrl+f)", self.action_focus_filter),
            ("Reload", "Load personas, NPCs, activities and instances again (f5)", self.action_reload),
            ("Open highlighted", "Open the highlighted conversation (enter)", self.action_open),
        ]
        for e in self.entries:
            actions.append((f"Open {e.kind}: {e.title}", e.subtitle or e.key,
                            lambda e=e: self._open_id(e.option_id)))
        return actions
