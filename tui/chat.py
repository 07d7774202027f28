"""The conversation view: Markdown transcript, streamed replies, side panel, status bar."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Markdown, Static

from phantom_cli.conversation import NpcSession

from .context import AppContext
from .conversations import Conversation, Delta, Done, NpcConversation, Turn, machine_states
from .errors import describe, is_stream_cut
from .modals import ConfirmModal
from .sanitize import clean, plain
from .scenario import ScenarioTape
from .widgets import ChatInput, MessageView, SidePanel, StatusBar, latency_text

ConversationSource = Conversation | Callable[[], Awaitable[Conversation]]


FLUSH_INTERVAL = 1 / 30  # seconds: stream deltas are coalesced into one Markdown write per interval
PAGE = 30  # messages mounted at a time when a long history opens


class Coalescer:
    """Batches stream deltas into a ``MarkdownStream``: one write per ``FLUSH_INTERVAL``, so a
    fast stream costs a few dozen Markdown appends per second, not one per token. A timer
    flushes what is pending when the stream pauses."""

    def __init__(self, stream: Any, interval: float = FLUSH_INTERVAL) -> None:
        self.stream = stream
        self.interval = interval
        self.pending: list[str] = []
        self.last = 0.0
        self.timer: asyncio.Task[None] | None = None
        self.closed = False

    async def write(self, text: str) -> None:
        if self.closed:
            return
        self.pending.append(text)
        now = time.monotonic()
        if now - self.last >= self.interval:
            await self.flush()
        elif self.timer is None:
            self.timer = asyncio.create_task(self._later(self.interval - (now - self.last)))

    async def _later(self, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            return
        self.timer = None
        await self.flush()

    async def flush(self) -> None:
        self.last = time.monotonic()
        if self.closed or not self.pending:
            return
        text = "".join(self.pending)
        self.pending.clear()
        await self.stream.write(text)

    async def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        await self.flush()
        self.closed = True


async def finish_stream(stream: Any, view: MessageView, received: list[str],
                        cancelled: bool = False) -> None:
    """Stop a Markdown stream and make sure the message shows everything received.

    ``MarkdownStream.stop`` re-raises ``CancelledError`` when its task had not started yet;
    that is not a cancellation of this turn, so it is absorbed here (unless this task itself
    is being cancelled and the caller is not already handling that).
    """
    try:
        if isinstance(stream, Coalescer):
            await stream.close()
            stream = stream.stream
        await stream.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if not cancelled and task is not None and task.cancelling():
            raise
    expected = clean("".join(received))
    # always rebuilt once at the end, even when the text matches: a streamed block can keep the
    # height it was measured with mid-stream (showing only its first line until the next
    # layout change); one parse of one message per turn is cheap
    await view.set_content(expected)


class ChatScreen(Screen[None]):
    CSS_PATH = "chat.tcss"
    BINDINGS = [
        Binding("escape", "stop", "Stop"),
        Binding("ctrl+r", "retry", "Retry"),
        Binding("ctrl+l", "edit_last", "Edit last"),
        Binding("ctrl+g", "next_greeting", "Greeting"),
        Binding("ctrl+n", "reset", "Reset NPC"),
        Binding("ctrl+t", "play_unlocked", "Play unlocked"),
        Binding("ctrl+f", "fork_here", "Fork here"),
        Binding("ctrl+b", "toggle_panel", "Panel"),
        Binding("ctrl+o", "home", "Home"),
        Binding("ctrl+s", "save_scenario", "Save scenario"),
        Binding("ctrl+u", "load_earlier", "Earlier", show=False),
    ]

    def __init__(self, ctx: AppContext, source: ConversationSource) -> None:
        super().__init__()
        self.ctx = ctx
        self.source = source
        self.conv: Conversation | None = None
        self.streaming = False
        self.editing = False
        self.error: str | None = None
        self.hidden_turns: list[Turn] = []
        self.unlocked: list[str] = []  # NPC machines unlocked in this conversation, newest last
        self.tape = ScenarioTape()  # the turns, for "save as scenario" (tui/scenario.py)

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Static("Opening…", id="chat-title", markup=False)
        with Horizontal(id="chat-body"):
            yield VerticalScroll(id="transcript")
            yield SidePanel(id="panel")
        yield Static("", id="error-banner", markup=False)
        yield ChatInput(id="chat-input")
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#transcript").anchor()
        self.query_one("#error-banner").display = False
        if self.size.width < 100:
            self.query_one(SidePanel).add_class("narrow")
        self._status()
        self._open()

    def _status(self) -> None:
        latency = self.conv.last_latency_ms if self.conv else None
        self.query_one(StatusBar).show_context(self.ctx, latency=latency_text(latency))

    def refresh_status(self) -> None:
        from textual.css.query import NoMatches

        try:
            self._status()
        except NoMatches:  # not composed yet: on_mount calls it
            pass

    def speaker(self, role: str) -> str:
        if role == "user":
            return clean(self.ctx.player_name or "you")
        return clean(self.conv.title) if self.conv else "assistant"

    # ------------------------------------------------------------------ errors

    def show_error(self, exc: BaseException | None, text: str | None = None) -> None:
        banner = self.query_one("#error-banner", Static)
        if exc is None and text is None:
            self.error = None
            banner.display = False
            return
        message = text if text is not None else describe(exc).text()  # type: ignore[arg-type]
        self.error = message
        banner.update(plain(message))
        banner.display = True

    async def _reconnect(self, exc: BaseException) -> bool:
        """After a connection error: True when the client points at a (re)started local server."""
        try_reconnect = getattr(self.ctx, "try_reconnect", None)
        if try_reconnect is None or not await try_reconnect(exc):
            return False
        self.notify("The local server had stopped; it was started again.", markup=False)
        return True

    # ------------------------------------------------------------------ opening

    @work(exclusive=True, group="open")
    async def _open(self) -> None:
        try:
            try:
                turns = await self._open_conversation()
            except Exception as exc:
                if not await self._reconnect(exc):
                    raise
                turns = await self._open_conversation()
        except Exception as exc:  # shown in the app, never a crash
            self.query_one("#chat-title", Static).update(plain("Could not open the conversation"))
            self.show_error(exc)
            return
        self.tape.history(turns)
        await self.load_turns(turns)
        self.query_one("#chat-input", ChatInput).focus()

    async def _open_conversation(self) -> list[Turn]:
        if self.conv is None:
            if isinstance(self.source, Conversation):
                self.conv = self.source
            else:
                self.conv = await self.source()
        return await self.conv.open()

    async def load_turns(self, turns: list[Turn]) -> None:
        assert self.conv is not None
        title = f"{self.conv.title} · {self.conv.kind}"
        if isinstance(self.conv, NpcSession) and self.conv.machine:
            machine_title = self.conv.machine.title or self.conv.machine_id
            if machine_title:
                title += f" · {clean(str(machine_title))}"
        self.query_one("#chat-title", Static).update(plain(title))
        transcript = self.query_one("#transcript", VerticalScroll)
        await transcript.remove_children()
        self.hidden_turns = list(turns[:-PAGE]) if len(turns) > PAGE else []
        views = [MessageView(t.role, t.content, self.speaker(t.role), t.marks)
                 for t in turns[-PAGE:]]
        if self.hidden_turns:
            await transcript.mount(Button(self._earlier_label(), id="earlier", compact=True))
        if views:
            await transcript.mount_all(views)
        transcript.scroll_end(animate=False)
        self.update_panel()
        self._status()
        self.refresh_bindings()

    def _earlier_label(self) -> str:
        return f"▲ {len(self.hidden_turns)} earlier messages (ctrl+u)"

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "earlier":
            event.stop()
            self.run_worker(self.action_load_earlier(), group="earlier")

    async def action_load_earlier(self) -> None:
        """Mount the previous page of a long history above what is shown."""
        if not self.hidden_turns:
            return
        chunk, self.hidden_turns = self.hidden_turns[-PAGE:], self.hidden_turns[:-PAGE]
        button = self.query_one("#earlier", Button)
        views = [MessageView(t.role, t.content, self.speaker(t.role), t.marks) for t in chunk]
        await self.query_one("#transcript", VerticalScroll).mount_all(views, after=button)
        if self.hidden_turns:
            button.label = self._earlier_label()
        else:
            await button.remove()

    def update_panel(self) -> None:
        if self.conv is None:
            return
        panel = self.query_one(SidePanel)
        if isinstance(self.conv, NpcSession):
            panel.show("NPC turn", self.conv.panel, machine_states(self.conv), self.conv.path)
        elif self.conv.kind == "companion":
            panel.show("Companion turn", self.conv.panel)
        else:
            panel.show("Activity", self.conv.panel)

    # ------------------------------------------------------------------ sending

    def on_chat_input_submitted(self, event: ChatInput.Submitted) -> None:
        event.stop()
        if self.conv is None or self.streaming:
            self.notify("Wait for the reply to finish (escape stops it).", severity="warning")
            return
        text = event.text.strip("\n")
        if isinstance(self.conv, NpcSession) and self.conv.panel.get("machine_completed"):
            outcome = clean(str(self.conv.panel.get("outcome") or "done"))
            more = " ctrl+t plays the unlocked machine." if self.unlocked else ""
            self.notify(f"This machine is completed (outcome: {outcome}). ctrl+n resets the "
                        f"session.{more}", severity="warning", markup=False)
            return
        event.chat_input.clear()
        if self.editing:
            self.editing = False
            self._edit_and_resend(text)
        else:
            self.send(text)

    def send(self, text: str) -> None:
        assert self.conv is not None
        conv = self.conv
        self._start_turn(lambda: conv.send(text), user_text=text)

    def _start_turn(self, make: Callable[[], AsyncIterator[Delta | Done]], user_text: str | None) -> None:
        self.streaming = True
        self.show_error(None)
        self.refresh_bindings()
        self._turn(make, user_text)

    @work(exclusive=True, group="turn")
    async def _turn(self, make: Callable[[], AsyncIterator[Delta | Done]], user_text: str | None) -> None:
        transcript = self.query_one("#transcript", VerticalScroll)
        if user_text is not None:
            await transcript.mount(MessageView("user", user_text, self.speaker("user")))
        view = MessageView("assistant", "", self.speaker("assistant"), live=True)
        await transcript.mount(view)
        transcript.scroll_end(animate=False)
        stream = Coalescer(Markdown.get_stream(view.body))
        received: list[str] = []
        try:
            events = make()
            retried = False
            while True:
                try:
                    async with contextlib.aclosing(events):  # type: ignore[type-var]
                        async for event in events:
                            if isinstance(event, Delta):
                                received.append(event.text)
                                await stream.write(clean(event.text))
                            elif isinstance(event, Done):
                                await finish_stream(stream, view, received)
                                if event.reply != "".join(received):
                                    await view.set_content(event.reply)
                                view.set_marks(event.marks)
                                self._tape_done(user_text, event)
                                self._after_done(event)
                    break
                except Exception as exc:
                    # the local server went away (idle exit, `serve stop`): start it again
                    # and send the same turn once more (nothing of it was played)
                    if retried or received or self.conv is None or not await self._reconnect(exc):
                        raise
                    retried = True
                    events = self.conv.retry()
        except asyncio.CancelledError:
            await finish_stream(stream, view, received, cancelled=True)
            view.add_mark("stopped")
            if not received:
                await view.set_content("*(stopped before any text arrived)*")
        except Exception as exc:
            await finish_stream(stream, view, received)
            if is_stream_cut(exc):
                partial = describe(exc).partial or ""
                if partial and not received:
                    await view.set_content(partial)
                view.add_mark("incomplete")
            else:
                if not received:
                    await view.remove()
                self._tape_error(user_text, exc)
            self.show_error(exc)
        finally:
            self.streaming = False
            self._status()
            self.refresh_bindings()

    def _after_done(self, event: Done) -> None:
        self.update_panel()
        conv = self.conv
        if isinstance(conv, NpcSession):
            if conv.unlocked:
                for machine in conv.unlocked:
                    if machine in self.unlocked:
                        self.unlocked.remove(machine)
                    self.unlocked.append(machine)
                names = ", ".join(clean(u) for u in conv.unlocked)
                self.notify(f"Unlocked: {names}. Press ctrl+t to play it (or ctrl+p → Play).",
                            title="New machine", markup=False, timeout=10)
                self.refresh_bindings()
            if conv.panel.get("outcome"):
                outcome = clean(conv.panel["outcome"])
                self.notify(f"Outcome: {outcome}", title="Machine completed", markup=False)

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        conv = self.conv
        if action == "reset":
            return conv is not None and conv.can_reset
        if action == "play_unlocked":
            return bool(self.unlocked)
        if action == "next_greeting":
            return conv is not None and len(conv.greetings) > 1 and not conv.started
        if action == "stop":
            return True if self.streaming else None
        if action == "save_scenario":
            return conv is not None and not self.streaming
        if action in ("retry", "edit_last"):
            return None if (conv is None or conv.last_user is None or self.streaming) else True
        return True

    def _views(self) -> list[MessageView]:
        return list(self.query_one("#transcript").query_children(MessageView))

    def action_stop(self) -> None:
        if self.streaming:
            self.workers.cancel_group(self, "turn")

    async def _drop_after_last_user(self) -> MessageView | None:
        views = self._views()
        last_user = None
        for v in views:
            if v.role == "user":
                last_user = v
        if last_user is None:
            return None
        start = views.index(last_user) + 1
        for v in views[start:]:
            await v.remove()
        return last_user

    def _refuse_replay(self, what: str) -> bool:
        """NPC and instance turns are played on the server: an answered one is not re-sent
        (that would play a second turn the screen does not show). Says so; True = refused."""
        conv = self.conv
        if conv is None or conv.replayable:
            return False
        if isinstance(conv, NpcSession):
            hint = "NPC turns cannot be replayed; ctrl+n resets the session."
        else:
            hint = "The instance keeps this exchange; send a new message instead."
        self.notify(f"That turn was answered, so it is not {what}. {hint}",
                    severity="warning", markup=False)
        return True

    async def action_retry(self) -> None:
        if self.conv is None or self.streaming or self.conv.last_user is None:
            return
        if self._refuse_replay("sent again"):
            return
        await self._drop_after_last_user()
        conv = self.conv
        self._start_turn(conv.retry, user_text=None)

    def action_edit_last(self) -> None:
        if self.conv is None or self.streaming or self.conv.last_user is None:
            return
        if self._refuse_replay("edited and resent"):
            return
        box = self.query_one("#chat-input", ChatInput)
        box.text = self.conv.last_user
        box.focus()
        self.editing = True
        self.notify("Editing your last message: Enter resends it.", markup=False)

    @work(group="edit")
    async def _edit_and_resend(self, text: str) -> None:
        last_user = await self._drop_after_last_user()
        if last_user is not None:
            await last_user.set_content(text)
            last_user.add_mark("edited")
        self.tape.edited(text)
        conv = self.conv
        assert conv is not None
        self._start_turn(lambda: conv.edit_last(text), user_text=None)

    async def action_next_greeting(self) -> None:
        if self.conv is None:
            return
        try:
            greeting = await self.conv.cycle_greeting()
        except Exception as exc:
            self.show_error(exc)
            return
        if greeting is None:
            return
        for view in self._views():
            if "greeting" in view.marks:
                await view.set_content(greeting)
                n = self.conv.greeting_index + 1
                view.set_header(Text(f"{view.speaker}  opening message {n}/{len(self.conv.greetings)}"))
                break

    def action_reset(self) -> None:
        if self.conv is None or not self.conv.can_reset:
            return

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self._reset()

        self.app.push_screen(
            ConfirmModal(f"Reset the session with {self.conv.title}? Its history is cleared.", "Reset"),
            done,
        )

    @work(exclusive=True, group="turn")
    async def _reset(self) -> None:
        assert self.conv is not None
        try:
            turns = await self.conv.reset()
        except Exception as exc:
            self.show_error(exc)
            return
        self.show_error(None)
        self.tape.reset()
        await self.load_turns(turns)
        self.notify("Session reset.", markup=False)

    def action_play_unlocked(self, machine_id: str | None = None) -> None:
        """Open a machine this conversation unlocked (the newest when none is named): the same
        NPC and session, a new conversation initialised with that ``machine_id``."""
        conv = self.conv
        if not isinstance(conv, NpcSession) or not self.unlocked:
            return
        machine = machine_id or self.unlocked[-1]
        self.app.push_screen(ChatScreen(
            self.ctx, NpcConversation(self.ctx, conv.persona_id, machine_id=machine, title=conv.title)
        ))

    # ------------------------------------------------------------------ save as scenario

    def _tape_done(self, user_text: str | None, event: Done) -> None:
        from .scenario import _actual

        self.tape.played(user_text, _actual(event))

    def _tape_error(self, user_text: str | None, exc: BaseException) -> None:
        from .scenario import error_actual

        actual = error_actual(exc)
        if actual is not None:
            self.tape.played(user_text, actual)

    def action_save_scenario(self) -> None:
        """Ask for a path, then write this conversation as a phantom-scenario/1 file whose
        expectations are what happened (like `phantom test record`)."""
        from .modals import AskModal
        from .scenario import default_path, target_of

        conv = self.conv
        if conv is None or self.streaming:
            return
        if not self.tape.steps:
            self.notify("Nothing to save yet: send a message first.", severity="warning", markup=False)
            return
        if target_of(conv, self.ctx) is None:
            self.notify("This conversation cannot be saved as a scenario.", severity="warning", markup=False)
            return

        def chosen(path: str | None) -> None:
            if path:
                self._save_scenario(path)

        self.app.push_screen(AskModal("Save this conversation as a scenario (phantom-scenario/1 YAML) to:",
                                      default_path(conv), "file.yaml"), chosen)

    def _save_scenario(self, path: str) -> None:
        from phantom_cli.scenarios.load import ScenarioFileError

        from .scenario import write

        try:
            written = write(self.tape, self.conv, self.ctx, path)
        except (OSError, ValueError, ScenarioFileError) as exc:
            self.notify(f"Could not save the scenario: {getattr(exc, 'strerror', None) or exc}",
                        severity="error", markup=False)
            return
        self.notify(f"Saved {written} ({self.tape.turns} turns with expectations). "
                    f"Run it: phantom test {written}", title="Scenario saved", markup=False, timeout=10)

    # ------------------------------------------------------------------ fork here

    def on_click(self, event: Any) -> None:
        """A click on a message selects it ("fork here" forks there); again: unselects."""
        widget = getattr(event, "widget", None)
        view = next((w for w in (widget.ancestors_with_self if widget else [])
                     if isinstance(w, MessageView)), None)
        if view is None:
            return
        selected = view.has_class("selected")
        for other in self.query(MessageView).filter(".selected"):
            other.remove_class("selected")
        if not selected:
            view.add_class("selected")

    def fork_point(self) -> int:
        """How many turns "fork here" keeps: the selected message's (see tui/forking.py), else
        every turn; turns of history not shown yet count too."""
        from .forking import fork_turns

        shown = list(self.query(MessageView))
        roles = [t.role for t in self.hidden_turns] + [v.role for v in shown]
        selected = next((i for i, v in enumerate(shown) if v.has_class("selected")), None)
        at = None if selected is None else len(self.hidden_turns) + selected
        return fork_turns(roles, at)

    def action_fork_here(self) -> None:
        if self.conv is None or self.streaming:
            return
        self._fork(self.fork_point())

    @work(exclusive=True, group="fork")
    async def _fork(self, at: int) -> None:
        from phantom_cli.client.errors import PhantomError
        from phantom_cli.conversation.branches import BranchError

        from .forking import fork_conversation

        assert self.conv is not None
        try:
            new = await fork_conversation(self.ctx, self.conv, at)
        except BranchError as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return
        except PhantomError as exc:
            self.show_error(exc)
            return
        self.notify(f"Forked at turn {at}: {clean(self._conv_id(new))}", markup=False)
        self.app.push_screen(ChatScreen(self.ctx, new))

    @staticmethod
    def _conv_id(conv: Any) -> str:
        for name in ("chat_id", "session_id", "instance_id"):
            value = getattr(conv, name, None)
            if value:
                return str(value)
        return ""

    def action_toggle_panel(self) -> None:
        panel = self.query_one(SidePanel)
        panel.display = not panel.display

    def action_home(self) -> None:
        home = getattr(self.app, "action_home", None)
        if home:
            home()

    def palette_actions(self) -> list[tuple[str, str, Callable[[], Any]]]:
        actions: list[tuple[str, str, Callable[[], Any]]] = [
            ("Stop reply", "Stop the reply being streamed (escape)", self.action_stop),
            ("Retry last turn", "Send the last message again (ctrl+r)", self.action_retry),
            ("Edit last message", "Edit and resend your last message (ctrl+l)", self.action_edit_last),
            ("Fork here", "A new conversation with the turns up to the selected message (click "
             "one; default: all) (ctrl+f)", self.action_fork_here),
            ("Toggle side panel", "Show or hide the turn panel (ctrl+b)", self.action_toggle_panel),
            ("Save conversation as scenario", "Write it as a phantom-scenario/1 file with what "
             "happened as expectations (ctrl+s)", self.action_save_scenario),
            ("Home", "Back to the list of conversations (ctrl+o)", self.action_home),
            ("Load earlier messages", "Show the previous page of history (ctrl+u)",
             lambda: self.run_worker(self.action_load_earlier(), group="earlier")),
        ]
        if self.conv is not None and self.conv.greetings:
            actions.append(("Next opening message", "Cycle the activity's greetings (ctrl+g)", self.action_next_greeting))
        if self.conv is not None and self.conv.can_reset:
            actions.append(("Reset NPC session", "Clear the session's history (ctrl+n)", self.action_reset))
        for machine in reversed(self.unlocked):
            actions.append((f"Play unlocked machine: {clean(machine)}",
                            "Start the machine this conversation unlocked (ctrl+t: the newest)",
                            lambda m=machine: self.action_play_unlocked(m)))
        return actions
