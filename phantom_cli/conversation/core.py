"""The conversation core: one implementation of a turn for the CLI, the TUI and the tools.

Three kinds of conversation, one interface (:class:`Conversation`):

- :class:`CompanionChat` (seed 000): stateless on the wire; the message window is kept here and
  in the local transcript (``transcripts.Transcript``) shared with `phantom companion say`.
- :class:`NpcSession` (seed 001): the server keeps the session; history is loaded on open.
- :class:`InstanceChat`: an activity instance; the server stores both sides.

``await conv.open()`` returns what is already there as :class:`Turn` records.
``conv.send(text)`` / ``conv.retry()`` / ``conv.edit_last(text)`` are async iterators of
:class:`Delta` events as the reply streams in, then exactly one :class:`Done`.
``conv.stop()`` ends the streaming turn after the next event (the reply so far is kept and
marked ``stopped``); cancelling the consuming task works too.

This module knows the client (``AsyncPhantom``) and its models and exceptions; never Typer,
Rich or Textual. Callers render the events.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from phantom_cli.client.errors import InvalidInputError, NotFoundError, PhantomError
from phantom_cli.client.models import (
    ActivityInstance,
    CompanionChatRequest,
    CompanionChatResponse,
    CompanionPersona,
    Message,
    NpcInfo,
    NpcMachineInfo,
    NpcMessageResponse,
    StreamDelta,
)

from .identity import Player, default_session_id

if TYPE_CHECKING:
    from phantom_cli.client import AsyncPhantom

    from .transcripts import Transcript

__all__ = [
    "CompanionChat",
    "Conversation",
    "Delta",
    "Done",
    "InstanceChat",
    "NpcSession",
    "Turn",
]

Mark = Literal["refused", "filtered", "incomplete", "stopped", "greeting", "outcome"]
TurnResponse = CompanionChatResponse | NpcMessageResponse


@dataclass
class Turn:
    """One message of a conversation as shown: who said it, what, and its marks."""

    role: Literal["user", "assistant"]
    content: str
    marks: list[str] = field(default_factory=list)  # refused, filtered, stopped, greeting, …
    state: str | None = None  # NPC: the state the session was in after this message
    turn_id: str | None = None  # the local transcript's or the server's turn id, when known


@dataclass
class Delta:
    """A piece of the reply as it streams in."""

    text: str


@dataclass
class Done:
    """The end of a turn: the whole reply, its marks and the typed response (None for an
    activity instance, whose stream carries text only, or when the stream ended early)."""

    reply: str
    marks: list[str] = field(default_factory=list)
    response: TurnResponse | None = None
    turn_id: str | None = None  # the server's turn id (local backend) — for the prompt inspector
    latency_ms: float | None = None
    idempotency_key: str | None = None  # one per turn; a retry of the same turn reuses it


Event = Delta | Done


def _new_key() -> str:
    return uuid.uuid4().hex


class Conversation:
    """What every kind of conversation offers. Subclasses implement ``_turn``."""

    kind: str = "conversation"
    can_reset: bool = False

    def __init__(self, client: AsyncPhantom | None, title: str) -> None:
        # None: attached later with ``bind`` (e.g. validate input before connecting)
        self._client = client
        self.title = title
        self.greetings: list[str] = []
        self.greeting_index = 0
        self.panel: dict[str, Any] = {}  # facts about the last turn, for a side panel
        self.last_turn_id: str | None = None
        self.last_latency_ms: float | None = None
        self.last_user: str | None = None
        self.started = False
        # the last user turn got its reply; NPC and instance turns are played on the server,
        # so re-sending an answered one would play a second turn (see ``replayable``)
        self.last_answered = False
        self._stop = False
        self._key: str | None = None  # the idempotency key of the turn in flight / last sent

    # ------------------------------------------------------------------ public API

    @property
    def client(self) -> AsyncPhantom:
        if self._client is None:
            raise RuntimeError("no client: call bind(client) first")
        return self._client

    def bind(self, client: AsyncPhantom) -> Conversation:
        """Attach (or replace) the client; returns self."""
        self._client = client
        return self

    @property
    def replayable(self) -> bool:
        """Whether retry/edit may re-send the last turn: always for a stateless companion (the
        window is kept here); for server-side conversations only while it has no reply."""
        return self.kind == "companion" or not self.last_answered

    async def open(self) -> list[Turn]:
        """The conversation so far (loads history; may start an NPC session)."""
        return []

    def send(
        self, text: str, *, stream: bool = True, idempotency_key: str | None = None
    ) -> AsyncIterator[Event]:
        """Send ``text``; Delta events (``stream=True``) then one Done. ``idempotency_key``: the
        key of an earlier, unfinished send of the same text (the server replays its outcome);
        default a new one."""
        self._key = idempotency_key or _new_key()
        return self._guarded(self._turn(text, stream=stream))

    def retry(self, *, stream: bool = True) -> AsyncIterator[Event]:
        """Send the last user message again (same idempotency key while it has no reply)."""
        if self.last_user is None:
            raise ValueError("nothing to retry yet")
        if self._key is None or self.last_answered:
            self._key = _new_key()
        return self._guarded(self._turn(self.last_user, stream=stream))

    def edit_last(self, text: str, *, stream: bool = True) -> AsyncIterator[Event]:
        """Replace the last user message with ``text`` and send it."""
        self._key = _new_key()
        return self._guarded(self._turn(text, stream=stream))

    def stop(self) -> None:
        """Stop the turn being streamed after the next event (its Done is marked ``stopped``)."""
        self._stop = True

    async def reset(self) -> list[Turn]:
        raise NotImplementedError(f"a {self.kind} conversation cannot be reset")

    async def cycle_greeting(self) -> str | None:
        """The next opening message, when the conversation has not started yet."""
        if self.started or len(self.greetings) < 2:
            return None
        self.greeting_index = (self.greeting_index + 1) % len(self.greetings)
        return self.greetings[self.greeting_index]

    # ------------------------------------------------------------------ for subclasses

    async def _guarded(self, events: AsyncIterator[Event]) -> AsyncIterator[Event]:
        self._stop = False
        async for ev in events:
            yield ev

    def _turn(self, text: str, *, stream: bool) -> AsyncIterator[Event]:
        raise NotImplementedError

    def _latency(self, t0: float) -> float:
        exchange = getattr(self._client, "last_exchange", None)
        elapsed = getattr(exchange, "elapsed_ms", None) if exchange is not None else None
        self.last_latency_ms = (
            float(elapsed) if elapsed is not None else (time.perf_counter() - t0) * 1000
        )
        return self.last_latency_ms

    async def _events(
        self, stream: Any, final: type[TurnResponse]
    ) -> AsyncIterator[StreamDelta | TurnResponse | None]:
        """The typed events of a client stream; stops early (yielding None) after ``stop()``."""
        try:
            async for item in stream:
                yield item
                if self._stop:
                    yield None
                    return
        finally:
            await stream.aclose()


# --------------------------------------------------------------------------- companion


def _companion_marks(resp: CompanionChatResponse) -> list[str]:
    marks: list[str] = []
    if resp.moderation.inbound_prohibited:
        marks.append("refused")
    if resp.moderation.outbound_filtered:
        marks.append("filtered")
    return marks


def _persona_model(persona: CompanionPersona | Mapping[str, Any] | Any) -> CompanionPersona:
    if isinstance(persona, CompanionPersona):
        return persona
    if isinstance(persona, Mapping):
        return CompanionPersona.model_validate(dict(persona))
    persona = getattr(persona, "persona", persona)  # a PersonaFile carries the model
    if isinstance(persona, CompanionPersona):
        return persona
    raise TypeError(f"persona: expected a CompanionPersona or a mapping, got {type(persona)!r}")


class CompanionChat(Conversation):
    """A companion conversation (seed 000). The window of recent messages travels with every
    turn; with a ``transcript`` (default: the local one of ``chat_id``, as `phantom companion
    say` keeps it) every turn is recorded before it is sent and answered/failed after.

    ``options``: ``model``, ``temperature``, ``max_tokens``, ``extract_memory`` for every turn.
    ``transcript=False`` keeps nothing on disk (the window lives in memory only).
    """

    kind = "companion"

    def __init__(
        self,
        client: AsyncPhantom | None,
        persona: CompanionPersona | Mapping[str, Any] | Any,
        chat_id: str | None = None,
        *,
        player: Player | None = None,
        options: Mapping[str, Any] | None = None,
        transcript: Transcript | Literal[False] | None = None,
        source: str | None = None,
    ) -> None:
        from .transcripts import Transcript, chat_id_for

        self.persona = _persona_model(persona)
        super().__init__(client, self.persona.name)
        self.chat_id = chat_id or chat_id_for(self.persona.name)
        self.player = player
        self.options = {k: v for k, v in (options or {}).items() if v is not None}
        self.source = source
        if transcript is None:
            transcript = Transcript(self.chat_id)
        self.transcript: Transcript | None = transcript or None
        self.window: list[dict[str, str]] = []
        self.pending_turn: str | None = None  # the transcript turn of the request in flight
        self._opened = False
        # retries of the current turn: the attempt seed sent to a local backend (an extension;
        # another seed gives another reply, the same seed the same scripted reply)
        self.attempt = 0
        self.panel = {"persona": self.title, "chat_id": self.chat_id}

    async def open(self) -> list[Turn]:
        """The conversation so far from the local transcript: reopening resumes it."""
        self._opened = True
        if self.transcript is None:
            return []
        recorded = self.transcript.turns()
        turns: list[Turn] = []
        for t in recorded:
            if t.greeting:
                turns.append(Turn("assistant", t.reply or "", ["greeting"], turn_id=t.id))
                continue
            turns.append(Turn("user", t.user, turn_id=t.id))
            if t.answered:
                marks = ["refused"] if t.refused else []
                if t.moderation.get("outbound_filtered"):
                    marks.append("filtered")
                turns.append(Turn("assistant", t.reply or "", marks, turn_id=t.id))
        self.window = [dict(m) for m in self.transcript.context()]
        spoken = [t for t in recorded if not t.greeting]
        if spoken:
            last = spoken[-1]
            self.last_user = last.user
            self.started = True
            self.last_answered = last.answered
            if not last.answered:  # a failed turn: retry sends it again, without a duplicate
                self.window.append({"role": "user", "content": last.user})
        return turns

    # the transcript's window rules (≤ 100 messages, under the body limit, oldest out first)
    def request(self, text: str) -> CompanionChatRequest:
        """The request a turn with ``text`` sends, validated (InvalidInputError names the
        user's text ``message``). Nothing is recorded or sent."""
        from pydantic import ValidationError

        from phantom_cli.client._validate import errors_of

        from .transcripts import fit_window

        messages = fit_window(self._history(), text)
        while len(messages) > 1 and messages[0]["role"] != "user":
            messages = messages[1:]
        extra: dict[str, Any] = {}
        if self.attempt and self._client is not None and self._client.backend == "local":
            extra["seed"] = self.attempt
        try:
            return CompanionChatRequest(
                chat_id=self.chat_id,
                persona=self.persona,
                messages=messages,
                **{**self.options, **extra},
            )
        except ValidationError as e:
            own = f"messages[{len(messages) - 1}].content"
            raise InvalidInputError(
                [("message", m) if f == own else (f, m) for f, m in errors_of(e)]
            ) from None

    def _history(self) -> list[dict[str, str]]:
        """The context before the new message: the window without a dangling user message."""
        if not self._opened and self.transcript is not None:
            self.window = [dict(m) for m in self.transcript.context()]
            self._opened = True
        hist = list(self.window)
        while hist and hist[-1]["role"] == "user":
            hist.pop()
        return hist

    def send(
        self, text: str, *, stream: bool = True, idempotency_key: str | None = None
    ) -> AsyncIterator[Event]:
        self.attempt = 0
        req = self.request(text)  # validated before anything is recorded
        self._key = idempotency_key or _new_key()
        return self._guarded(self._run(req, text, reuse=None, stream=stream))

    def retry(self, *, stream: bool = True) -> AsyncIterator[Event]:
        hist = self._history_with_last_user()
        if hist is None:
            raise ValueError("nothing to retry yet")
        text = hist
        self.attempt += 1  # another attempt: the local backend answers with another seed
        req = self.request(text)
        if self._key is None or self.last_answered:
            self._key = _new_key()
        return self._guarded(self._run(req, text, reuse=self._answered_turn(text), stream=stream))

    def edit_last(self, text: str, *, stream: bool = True) -> AsyncIterator[Event]:
        old = self._history_with_last_user()
        if old is None:
            raise ValueError("no message to edit yet")
        self.attempt = 0
        req = self.request(text)
        if self.transcript is not None:
            # the edited-away turn leaves the shared transcript: neither shown nor sent as
            # context again (here or by `phantom companion say`)
            turns = self.transcript.turns()
            if turns and turns[-1].user == old:
                self.transcript.retract(str(turns[-1].id))
        self._key = _new_key()
        return self._guarded(self._run(req, text, reuse=None, stream=stream))

    def _history_with_last_user(self) -> str | None:
        """Drop the last reply (if any) from the window; the last user message, or None."""
        self._history()  # loads the window from the transcript when not opened yet
        while self.window and self.window[-1]["role"] != "user":
            self.window.pop()
        if not self.window:
            return None
        return self.window.pop()["content"]

    def _answered_turn(self, text: str) -> str | None:
        """The transcript turn a retry re-answers: the last turn, when it is already answered
        with this text. Its new reply replaces the old one (a later ``reply`` event for the same
        turn id wins), so the user's message is not written a second time."""
        if self.transcript is None:
            return None
        turns = self.transcript.turns()
        if turns and turns[-1].answered and turns[-1].user == text:
            return str(turns[-1].id)
        return None

    async def _run(
        self, req: CompanionChatRequest, text: str, *, reuse: str | None, stream: bool
    ) -> AsyncIterator[Event]:
        self.started = True
        self.last_user = text
        self.last_answered = False
        self.window = [*self._history(), {"role": "user", "content": text}]
        if reuse is not None:
            self.pending_turn = reuse
        elif self.transcript is not None:  # recorded before sending: the text is never lost
            self.pending_turn = self.transcript.begin(text, persona=self.title)
        t0 = time.perf_counter()
        streamed: list[str] = []
        resp: CompanionChatResponse | None = None
        stopped = False
        try:
            if stream:
                events = self._events(
                    await self.client.companion.chat(req, stream=True, idempotency_key=self._key),
                    CompanionChatResponse,
                )
                async for item in events:
                    if item is None:  # stop(): the stream is closed, the loop ends
                        stopped = True
                    elif isinstance(item, CompanionChatResponse):
                        resp = item
                    elif isinstance(item, StreamDelta):
                        streamed.append(item.text)
                        yield Delta(item.text)
            else:
                resp = await self.client.companion.chat(req, idempotency_key=self._key)
        except BaseException as exc:
            self._fail(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            raise
        if resp is None:  # stopped (or the stream closed without a final event): keep the text
            reply = "".join(streamed)
            self._fail("stopped" if stopped else "the stream ended without a final response")
            self.window.append({"role": "assistant", "content": reply})
            yield Done(
                reply,
                ["stopped"] if stopped else ["incomplete"],
                None,
                None,
                self._latency(t0),
                self._key,
            )
            return
        marks = _companion_marks(resp)
        self.panel = {
            "persona": self.title,
            "chat_id": self.chat_id,
            "inbound_prohibited": resp.moderation.inbound_prohibited,
            "outbound_filtered": resp.moderation.outbound_filtered,
            "reason": resp.moderation.reason,
            "memories_retrieved": resp.memory.retrieved_count,
            "profile_used": resp.memory.profile_used,
            "extraction_enqueued": resp.extraction_enqueued,
        }
        turn_id = _extra_str(resp, "turn_id")
        self.last_turn_id = turn_id
        self.window.append({"role": "assistant", "content": resp.reply})
        self.last_answered = True
        if self.transcript is not None and self.pending_turn:
            self.transcript.answer(
                self.pending_turn,
                resp.reply,
                moderation=resp.moderation.model_dump(mode="json"),
                memory=resp.memory.model_dump(mode="json"),
                extraction_enqueued=resp.extraction_enqueued,
            )
        self.pending_turn = None
        yield Done(resp.reply, marks, resp, turn_id, self._latency(t0), self._key)

    def _fail(self, error: str) -> None:
        if self.transcript is not None and self.pending_turn:
            try:
                self.transcript.fail(self.pending_turn, error)
            except OSError:  # never hide the real failure behind a disk error
                pass


def _extra_str(resp: Any, name: str) -> str | None:
    """A local-backend extension field of a response (kept by ``extra="allow"``)."""
    value = getattr(resp, name, None)
    if value is None and resp.model_extra:
        value = resp.model_extra.get(name)
    return str(value) if value else None


# --------------------------------------------------------------------------- NPC


class NpcSession(Conversation):
    """An NPC session (seed 001): the server keeps the state; ``path`` is the states visited
    (the server's whole ``state_path`` after each turn: replaced, never appended)."""

    kind = "npc"
    can_reset = True

    def __init__(
        self,
        client: AsyncPhantom | None,
        persona_id: str,
        session_id: str | None = None,
        machine_id: str | None = None,
        player: Player | None = None,
        *,
        title: str | None = None,
        profile: str = "default",
    ) -> None:
        super().__init__(client, title or persona_id)
        self.persona_id = persona_id
        self.player = player or Player.resolve()
        self.session_id = session_id or default_session_id(profile, self.player.name)
        self.machine_id = machine_id
        self.machine: NpcMachineInfo | None = None
        self.npc: NpcInfo | None = None
        self.path: list[str] = []
        self.score: float | None = None
        self.unlocked: list[str] = []
        self.last_response: NpcMessageResponse | None = None

    @property
    def states(self) -> list[str]:
        """The machine's state names (empty when the machine is not known: hosted API)."""
        return self.machine.state_names if self.machine else []

    async def load_machine(self) -> NpcInfo | None:
        """The persona and its machine from the local backend (None elsewhere)."""
        if getattr(self.client, "backend", "local") != "local":
            return None
        try:
            npc = await self.client.local.npc(self.persona_id, user_session_id=self.session_id)
        except PhantomError:
            return None
        self.npc = npc
        self.title = npc.name or self.title
        self.machine = npc.machine(self.machine_id)
        return npc

    async def init(self) -> list[Turn]:
        """Start (or resume) the session: the opening line as a ``greeting`` turn."""
        resp = await self.client.npc.init_session(
            self.persona_id,
            user_session_id=self.session_id,
            player_name=self.player.name,
            player_gender=self.player.gender,
            machine_id=self.machine_id,
        )
        self.machine_id = self.machine_id or resp.machine_id
        if self.machine is None and self.npc is not None:
            self.machine = self.npc.machine(self.machine_id)
        first = self.machine.initial_state if self.machine else None
        self.path = [first] if first else []
        self.panel = self._panel_from(None)
        return [Turn("assistant", resp.message, ["greeting"], state=first)]

    async def open(self) -> list[Turn]:
        await self.load_machine()
        try:
            history = await self.client.npc.history(
                self.persona_id, user_session_id=self.session_id, machine_id=self.machine_id
            )
        except NotFoundError:  # never initialised
            history = None
        if history is None or not history.messages:
            return await self.init()
        self.machine_id = self.machine_id or history.machine_id
        if self.machine is None and self.npc is not None:
            self.machine = self.npc.machine(self.machine_id)
        turns: list[Turn] = []
        path: list[str] = []
        for msg in history.messages:
            role: Literal["user", "assistant"] = "user" if msg.role == "player" else "assistant"
            turns.append(Turn(role, msg.content, state=msg.state))
            if msg.state and (not path or path[-1] != msg.state):
                path.append(msg.state)
            if role == "user":
                self.last_user = msg.content
        progress = self.machine.player if self.machine else None
        # the server's own path when it tells it (the same list a live turn reports)
        self.path = list(progress.state_path) if progress and progress.state_path else path
        if progress is not None and progress.score is not None:
            self.score = progress.score
        self.started = any(t.role == "user" for t in turns)
        self.last_answered = self.started and turns[-1].role == "assistant"
        self.panel = self._panel_from(None)
        if self.path:
            self.panel["current_state"] = self.path[-1]
        return turns

    def _panel_from(self, resp: NpcMessageResponse | None) -> dict[str, Any]:
        panel: dict[str, Any] = {
            "npc": self.title,
            "session": self.session_id,
            "machine": self.machine_id,
        }
        if resp is not None:
            delta = resp.score_delta
            if delta is None and self.score is not None:
                delta = float(resp.score) - float(self.score)
            panel.update(
                current_state=resp.current_state,
                score=resp.score,
                score_delta=delta,
                decision=resp.decision,
                redirect_count=resp.redirect_count,
                follow_up=resp.follow_up,
                outcome=resp.outcome,
                scoring_mode=resp.scoring_mode,
                machine_completed=resp.machine_completed,
                unlocked_machines=list(resp.unlocked_machines),
            )
        return panel

    def _advance(self, resp: NpcMessageResponse) -> None:
        """The path after a turn: the server's whole ``state_path`` when it sends one (replacing
        ours), else ours extended with the current state."""
        if resp.state_path:
            self.path = list(resp.state_path)
        elif resp.current_state and (not self.path or self.path[-1] != resp.current_state):
            self.path.append(resp.current_state)

    async def _turn(self, text: str, *, stream: bool) -> AsyncIterator[Event]:
        self.started = True
        self.last_user = text
        self.last_answered = False
        t0 = time.perf_counter()
        streamed: list[str] = []
        resp: NpcMessageResponse | None = None
        stopped = False
        kw: dict[str, Any] = {
            "message": text,
            "user_session_id": self.session_id,
            "machine_id": self.machine_id,
        }
        if stream:
            events = self._events(
                await self.client.npc.message(
                    self.persona_id, stream=True, idempotency_key=self._key, **kw
                ),
                NpcMessageResponse,
            )
            async for item in events:
                if item is None:  # stop(): the stream is closed, the loop ends
                    stopped = True
                elif isinstance(item, NpcMessageResponse):
                    resp = item
                elif isinstance(item, StreamDelta):
                    streamed.append(item.text)
                    yield Delta(item.text)
        else:
            resp = await self.client.npc.message(
                self.persona_id, idempotency_key=self._key, **kw
            )
        if resp is None:
            yield Done(
                "".join(streamed),
                ["stopped"] if stopped else ["incomplete"],
                None,
                None,
                self._latency(t0),
                self._key,
            )
            return
        self.panel = self._panel_from(resp)
        self.score = resp.score
        self._advance(resp)
        self.unlocked = list(resp.unlocked_machines)
        self.last_turn_id = resp.turn_id
        self.last_response = resp
        self.last_answered = True
        marks = ["outcome"] if resp.outcome else []
        yield Done(resp.message, marks, resp, resp.turn_id, self._latency(t0), self._key)

    async def reset(self) -> list[Turn]:
        await self.client.npc.reset(
            self.persona_id, user_session_id=self.session_id, machine_id=self.machine_id
        )
        self.score = None
        self.started = False
        self.last_user = None
        self.last_answered = False
        await self.load_machine()
        return await self.init()


# --------------------------------------------------------------------------- activity instances


class InstanceChat(Conversation):
    """A chat with an activity instance; the server stores both sides."""

    kind = "instance"

    def __init__(
        self, client: AsyncPhantom | None, instance_id: str, title: str | None = None
    ) -> None:
        super().__init__(client, title or instance_id)
        self.instance_id = instance_id
        self.instance: ActivityInstance | None = None
        self.greeting_message_id: str | None = None
        self.medium: str | None = None
        self.skin_id: str | None = None

    @classmethod
    async def create(cls, client: AsyncPhantom, activity_id: str) -> InstanceChat:
        """A new instance of ``activity_id`` and its chat."""
        inst = await client.instances.create(activity_id)
        chat = cls(client, inst.id, inst.snapshot_title)
        chat.instance = inst
        return chat

    async def messages(self) -> list[Message]:
        """Every stored message, oldest first."""
        out: list[Message] = []
        cursor: str | None = None
        while True:
            page = await self.client.instances.messages.list(
                self.instance_id, limit=100, cursor=cursor
            )
            out.extend(page.data)
            cursor = page.next_cursor
            if not cursor or not page.has_more:
                break
        out.reverse()  # newest first on the wire
        return out

    async def open(self) -> list[Turn]:
        inst = await self.client.instances.get(self.instance_id)
        self.instance = inst
        self.title = inst.snapshot_title or self.title
        alternates = list(inst.snapshot_alternate_greetings or [])
        self.greetings = [g for g in [inst.snapshot_first_message, *alternates] if g]
        self.panel = {"activity": self.title, "instance": self.instance_id, "status": inst.status}
        messages = await self.messages()
        turns: list[Turn] = []
        for m in messages:
            turns.append(Turn("user" if m.role == "user" else "assistant", m.content, turn_id=m.id))
            if m.role == "user":
                self.last_user = m.content
        self.started = any(t.role == "user" for t in turns)
        self.last_answered = self.started and turns[-1].role == "assistant"
        if self.greetings:
            if messages and messages[0].role == "assistant":
                self.greeting_message_id = messages[0].id
                turns[0].marks.append("greeting")
            else:  # the opening message is the activity's, not stored: show it first
                turns.insert(0, Turn("assistant", self.greetings[0], ["greeting"]))
        self.panel["messages"] = len(messages)
        return turns

    async def cycle_greeting(self) -> str | None:
        greeting = await super().cycle_greeting()
        if greeting is not None and self.greeting_message_id:
            await self.client.instances.messages.update(
                self.instance_id, self.greeting_message_id, content=greeting
            )
        return greeting

    async def _turn(self, text: str, *, stream: bool) -> AsyncIterator[Event]:
        if not self.started and self.greeting_index > 0 and self.greeting_message_id is None:
            # an alternate greeting was chosen: store it, so the reply and a resume see it
            msg = await self.client.instances.messages.create(
                self.instance_id, content=self.greetings[self.greeting_index], role="assistant"
            )
            self.greeting_message_id = msg.id
        self.started = True
        self.last_user = text
        self.last_answered = False
        t0 = time.perf_counter()
        parts: list[str] = []
        stopped = False
        chunks = await self.client.instances.chat_stream(
            self.instance_id,
            text,
            medium=self.medium,
            skin_id=self.skin_id,
            idempotency_key=self._key,
        )
        try:
            async for chunk in chunks:
                parts.append(chunk)
                if stream:
                    yield Delta(chunk)
                if self._stop:
                    stopped = True
                    break
        finally:
            await chunks.aclose()
        self.panel["messages"] = (self.panel.get("messages") or 0) + 2
        self.last_answered = not stopped
        yield Done(
            "".join(parts), ["stopped"] if stopped else [], None, None, self._latency(t0), self._key
        )
