"""One interface over the three kinds of conversation the TUI holds.

``Conversation.open()`` loads what is already there; ``send``/``retry``/``edit_last`` yield
:class:`Delta` events as the reply streams in and one :class:`Done` at the end. The screen only
renders events; what goes on the wire lives here.

- companion (seed 000): stateless; the message window is kept here and sent on every turn.
- NPC (seed 001): the server keeps the session; history is loaded on open.
- activity instance: the server stores both sides; ``chat_stream`` yields text chunks.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from .sanitize import clean


@dataclass
class Turn:
    role: str  # "user" | "assistant"
    content: str
    marks: list[str] = field(default_factory=list)  # refused, filtered, incomplete, stopped, greeting


@dataclass
class Delta:
    text: str


@dataclass
class Done:
    reply: str
    marks: list[str] = field(default_factory=list)
    response: Any = None


async def aiterate(result: Any) -> AsyncIterator[Any]:
    """Iterate over whatever a client streaming call returned (awaitable, async or sync
    iterator, or a whole response when the server did not stream)."""
    if inspect.isawaitable(result):
        result = await result
    if hasattr(result, "__aiter__"):
        async for item in result:
            yield item
    elif hasattr(result, "__iter__") and not isinstance(result, (str, bytes, dict)):
        for item in result:
            yield item
    else:
        yield result


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    value = getattr(obj, name, default)
    if value is default and hasattr(obj, "model_extra") and obj.model_extra:
        value = obj.model_extra.get(name, default)
    return value


def _is_final(item: Any) -> bool:
    return not isinstance(item, str) and _get(item, "text") is None


class Conversation:
    kind = "conversation"
    can_reset = False

    def __init__(self, ctx: Any, title: str) -> None:
        self.ctx = ctx
        self.client = ctx.client
        self.title = title
        self.greetings: list[str] = []
        self.greeting_index = 0
        self.panel: dict[str, Any] = {}
        self.last_turn_id: str | None = None
        self.last_latency_ms: float | None = None
        self.last_user: str | None = None
        self.started: bool = False
        # the last user turn got its reply; NPC and instance turns are played on the server,
        # so re-sending an answered one would play a second turn (see ``replayable``)
        self.last_answered: bool = False

    @property
    def replayable(self) -> bool:
        """Whether retry/edit may re-send the last turn: always for a stateless companion (the
        window is kept here); for server-side conversations only while it has no reply."""
        return self.kind == "companion" or not self.last_answered

    async def open(self) -> list[Turn]:
        return []

    def send(self, text: str) -> AsyncIterator[Delta | Done]:
        raise NotImplementedError

    def retry(self) -> AsyncIterator[Delta | Done]:
        if self.last_user is None:
            raise ValueError("nothing to retry yet")
        # an unanswered turn: the same logical send (the server replays a reply it has)
        self._keep_key = not self.last_answered
        return self._resend(self.last_user)

    _send_key: str | None = None
    _keep_key: bool = False
    _key_answered: bool = False  # the send of _send_key got its whole reply

    def _idempotency_key(self) -> str:
        """The ``Idempotency-Key`` of this send: the previous one on a retry of an unanswered
        turn (a cut or failed send is not played twice), else a new one."""
        from phantom_cli.client._common import new_idempotency_key

        if not self._keep_key or self._send_key is None:
            self._send_key = new_idempotency_key()
            self._key_answered = False
        self._keep_key = False
        return self._send_key

    def edit_last(self, text: str) -> AsyncIterator[Delta | Done]:
        return self._resend(text)

    def _resend(self, text: str) -> AsyncIterator[Delta | Done]:
        return self.send(text)

    async def cycle_greeting(self) -> str | None:
        """The next opening message, when the conversation has not started yet."""
        if self.started or len(self.greetings) < 2:
            return None
        self.greeting_index = (self.greeting_index + 1) % len(self.greetings)
        return self.greetings[self.greeting_index]

    async def reset(self) -> list[Turn]:
        raise NotImplementedError

    def _latency(self, t0: float) -> None:
        exchange = getattr(self.client, "last_exchange", None)
        elapsed = getattr(exchange, "elapsed_ms", None) if exchange is not None else None
        self.last_latency_ms = (
            float(elapsed) if elapsed is not None else (time.perf_counter() - t0) * 1000
        )


# --------------------------------------------------------------------------- companion


class CompanionConversation(Conversation):
    kind = "companion"

    def __init__(
        self,
        ctx: Any,
        persona: Any,
        chat_id: str,
        *,
        options: dict[str, Any] | None = None,
        source: str | None = None,
        transcript: Any = None,
    ) -> None:
        super().__init__(ctx, clean(_get(persona, "name", "companion")))
        self.persona = persona
        self.chat_id = chat_id
        self.options = options or {}
        self.window: list[dict[str, str]] = []
        self.source = source
        # phantom_cli.transcripts.Transcript: the same local log `phantom companion say` keeps
        self.transcript = transcript
        self.pending_turn: str | None = None
        self.panel = {"persona": self.title, "chat_id": chat_id}
        self.attempt = 0  # retries of the current turn (the attempt seed sent to a local backend)

    async def open(self) -> list[Turn]:
        """The conversation so far from the local transcript (if any): reopening resumes it."""
        if self.transcript is None:
            return []
        recorded = self.transcript.turns()
        turns: list[Turn] = []
        for t in recorded:
            turns.append(Turn("user", t.user))
            if t.answered:
                marks = ["refused"] if t.refused else []
                if t.moderation.get("outbound_filtered"):
                    marks.append("filtered")
                turns.append(Turn("assistant", t.reply or "", marks))
        self.window = [dict(m) for m in self.transcript.context()]
        if recorded:
            last = recorded[-1]
            self.last_user = last.user
            self.started = True
            if not last.answered:  # a failed turn: retry sends it again, without a duplicate
                self.window.append({"role": "user", "content": last.user})
        return turns

    def send(self, text: str) -> AsyncIterator[Delta | Done]:
        self.window.append({"role": "user", "content": text})
        self.attempt = 0
        return self._run()

    def _truncate_to_last_user(self) -> None:
        while self.window and self.window[-1]["role"] != "user":
            self.window.pop()

    def retry(self) -> AsyncIterator[Delta | Done]:
        self._truncate_to_last_user()
        if not self.window:
            raise ValueError("nothing to retry yet")
        # unanswered: the same send (same key and attempt: the server replays a reply it has);
        # answered: another attempt, a new key (the local backend takes the attempt as seed and
        # answers differently; the same attempt seed gives the same scripted reply again)
        self._keep_key = not self._key_answered
        if self._key_answered:
            self.attempt += 1
        return self._run(reuse=self._answered_turn(self.window[-1]["content"]))

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

    def edit_last(self, text: str) -> AsyncIterator[Delta | Done]:
        self._truncate_to_last_user()
        if not self.window:
            raise ValueError("no message to edit yet")
        old = self.window[-1]["content"]
        self.window[-1] = {"role": "user", "content": text}
        if self.transcript is not None:
            # the edited-away turn leaves the shared transcript: neither shown nor sent as
            # context again (here or by `phantom companion say`)
            turns = self.transcript.turns()
            if turns and turns[-1].user == old:
                self.transcript.retract(str(turns[-1].id))
        return self._run()

    async def _run(self, reuse: str | None = None) -> AsyncIterator[Delta | Done]:
        self.started = True
        self.last_user = self.window[-1]["content"]
        if reuse is not None:
            self.pending_turn = reuse
        elif self.transcript is not None:  # recorded before sending: the text is never lost
            self.pending_turn = self.transcript.begin(self.last_user, persona=self.title)
        try:
            async for event in self._stream():
                yield event
        except Exception as exc:
            if self.transcript is not None and self.pending_turn:
                self.transcript.fail(self.pending_turn, f"{type(exc).__name__}: {exc}")
            raise

    def _record(self, reply: str, item: Any) -> None:
        if self.transcript is None or not self.pending_turn:
            return
        def dump(value: Any) -> dict[str, Any]:
            if hasattr(value, "model_dump"):
                return value.model_dump(mode="json")
            return dict(value or {})

        self.transcript.answer(
            self.pending_turn, reply,
            moderation=dump(_get(item, "moderation")) if item is not None else {},
            memory=dump(_get(item, "memory")) if item is not None else {},
            extraction_enqueued=_get(item, "extraction_enqueued") if item is not None else None,
        )
        self.pending_turn = None

    async def _stream(self) -> AsyncIterator[Delta | Done]:
        t0 = time.perf_counter()
        from phantom_cli.transcripts import fit_window

        # at most 100 messages (seed 000) under the server's body limit, oldest dropped first
        messages = fit_window(self.window[:-1], self.window[-1]["content"])
        while messages and messages[0]["role"] != "user" and len(messages) > 1:
            messages = messages[1:]
        seeded = self.attempt and getattr(self.ctx, "backend", None) == "local"
        call = self.client.companion.chat(
            *([{"seed": self.attempt}] if seeded else []),
            chat_id=self.chat_id,
            persona=self.persona,
            messages=[dict(m) for m in messages],
            stream=True,
            idempotency_key=self._idempotency_key(),
            **{k: v for k, v in self.options.items() if v is not None},
        )
        streamed: list[str] = []
        async for item in aiterate(call):
            if _is_final(item):
                self._key_answered = True
                reply = str(_get(item, "reply", "".join(streamed)))
                moderation = _get(item, "moderation")
                memory = _get(item, "memory")
                marks = []
                if moderation is not None and _get(moderation, "inbound_prohibited"):
                    marks.append("refused")
                if moderation is not None and _get(moderation, "outbound_filtered"):
                    marks.append("filtered")
                self.panel = {
                    "persona": self.title,
                    "chat_id": self.chat_id,
                    "inbound_prohibited": bool(_get(moderation, "inbound_prohibited", False)),
                    "outbound_filtered": bool(_get(moderation, "outbound_filtered", False)),
                    "reason": _get(moderation, "reason"),
                    "memories_retrieved": _get(memory, "retrieved_count", 0),
                    "profile_used": bool(_get(memory, "profile_used", False)),
                    "extraction_enqueued": bool(_get(item, "extraction_enqueued", False)),
                }
                self.last_turn_id = _get(item, "turn_id")
                self.window.append({"role": "assistant", "content": reply})
                self._record(reply, item)
                self._latency(t0)
                yield Done(reply, marks, item)
                return
            chunk = item if isinstance(item, str) else str(_get(item, "text", ""))
            streamed.append(chunk)
            yield Delta(chunk)
        # the stream closed without a final event: keep what came
        reply = "".join(streamed)
        self.window.append({"role": "assistant", "content": reply})
        self._record(reply, None)
        self._latency(t0)
        yield Done(reply, [], None)


# --------------------------------------------------------------------------- NPC


class NpcConversation(Conversation):
    kind = "npc"
    can_reset = True

    def __init__(
        self, ctx: Any, persona_id: str, *, machine_id: str | None = None, title: str | None = None
    ) -> None:
        super().__init__(ctx, clean(title or persona_id))
        self.persona_id = persona_id
        self.machine_id = machine_id
        self.session_id = ctx.session_id
        self.machine: dict[str, Any] | None = None
        self.path: list[str] = []
        self.score: float | None = None
        self.unlocked: list[str] = []

    def _machine_kw(self) -> dict[str, Any]:
        return {"machine_id": self.machine_id} if self.machine_id else {}

    async def _load_machine(self) -> None:
        if self.ctx.backend != "local":
            return
        try:
            npcs = await self.client.local.npcs()
        except Exception:
            return
        for npc in npcs or []:
            ident = npc_identity(npc)
            if ident["id"] != self.persona_id:
                continue
            self.title = clean(ident["name"] or self.title)
            wanted = self.machine_id or ident["primary_machine"]
            machines = list(_get(npc, "machines") or [])
            for m in machines:
                if wanted is None or _get(m, "id") == wanted:
                    self.machine = m if isinstance(m, dict) else dict(m)
                    break
            if self.machine is None and machines:
                first = machines[0]
                self.machine = first if isinstance(first, dict) else dict(first)

    async def _init(self) -> list[Turn]:
        resp = await self.client.npc.init_session(
            self.persona_id,
            user_session_id=self.session_id,
            player_name=self.ctx.player_name,
            player_gender=self.ctx.player_gender,
            **self._machine_kw(),
        )
        self.machine_id = self.machine_id or _get(resp, "machine_id")
        first = self._initial_state()
        self.path = [first] if first else []
        self.panel = self._panel_from(None)
        return [Turn("assistant", str(_get(resp, "message", "")), ["greeting"])]

    def _initial_state(self) -> str | None:
        if not self.machine:
            return None
        return _get(self.machine, "initial_state") or _get(self.machine, "initial") or (
            _state_names(self.machine)[:1] or [None]
        )[0]

    async def open(self) -> list[Turn]:
        await self._load_machine()
        history = None
        try:
            history = await self.client.npc.history(
                self.persona_id, user_session_id=self.session_id, **self._machine_kw()
            )
        except Exception as exc:  # never initialised → 404; anything else is real
            if getattr(exc, "status", None) != 404:
                raise
        messages = list(_get(history, "messages", None) or []) if history is not None else []
        if not messages:
            return await self._init()
        self.machine_id = self.machine_id or _get(history, "machine_id")
        turns: list[Turn] = []
        self.path = []
        for m in messages:
            role = "user" if _get(m, "role") == "player" else "assistant"
            turns.append(Turn(role, str(_get(m, "content", ""))))
            self._enter(_get(m, "state"))
            if role == "user":
                self.last_user = turns[-1].content
        self.started = any(t.role == "user" for t in turns)
        self.last_answered = self.started and turns[-1].role == "assistant"
        self.panel = self._panel_from(None)
        if self.path:
            self.panel["current_state"] = self.path[-1]
        return turns

    def _enter(self, state: str | None) -> None:
        """Extend the path with ``state`` (not repeating the state it is already in)."""
        if state and (not self.path or self.path[-1] != state):
            self.path.append(state)

    def _panel_from(self, resp: Any) -> dict[str, Any]:
        panel: dict[str, Any] = {"npc": self.title, "session": self.session_id}
        panel["machine"] = self.machine_id
        if resp is not None:
            score = _get(resp, "score")
            delta = _get(resp, "score_delta")
            if delta is None and self.score is not None and score is not None:
                delta = float(score) - float(self.score)
            panel.update(
                current_state=_get(resp, "current_state"),
                score=score,
                score_delta=delta,
                decision=_get(resp, "decision"),
                redirect_count=_get(resp, "redirect_count"),
                follow_up=_get(resp, "follow_up"),
                outcome=_get(resp, "outcome"),
                scoring_mode=_get(resp, "scoring_mode"),
                machine_completed=_get(resp, "machine_completed"),
                unlocked_machines=list(_get(resp, "unlocked_machines", []) or []),
            )
        return panel

    def send(self, text: str) -> AsyncIterator[Delta | Done]:
        return self._run(text)

    async def _run(self, text: str) -> AsyncIterator[Delta | Done]:
        self.started = True
        self.last_user = text
        self.last_answered = False
        t0 = time.perf_counter()
        call = self.client.npc.message(
            self.persona_id,
            message=text,
            user_session_id=self.session_id,
            stream=True,
            idempotency_key=self._idempotency_key(),
            **self._machine_kw(),
        )
        streamed: list[str] = []
        async for item in aiterate(call):
            if _is_final(item):
                self.panel = self._panel_from(item)
                self.score = _get(item, "score", self.score)
                for state in _get(item, "state_path") or [_get(item, "current_state")]:
                    self._enter(state)
                self.unlocked = list(_get(item, "unlocked_machines", []) or [])
                self.last_turn_id = _get(item, "turn_id")
                self._latency(t0)
                marks = ["outcome"] if _get(item, "outcome") else []
                self.last_answered = True
                yield Done(str(_get(item, "message", "".join(streamed))), marks, item)
                return
            chunk = item if isinstance(item, str) else str(_get(item, "text", ""))
            streamed.append(chunk)
            yield Delta(chunk)
        self._latency(t0)
        yield Done("".join(streamed), [], None)

    async def reset(self) -> list[Turn]:
        await self.client.npc.reset(
            self.persona_id, user_session_id=self.session_id, **self._machine_kw()
        )
        self.score = None
        self.started = False
        self.last_user = None
        return await self._init()


def npc_identity(npc: Any) -> dict[str, Any]:
    """``id``, ``name``, ``description``, ``primary_machine`` of an entry of ``local.npcs()``
    (flat, or the backend's ``{"persona": {...}, "machines": [...]}``)."""
    inner = _get(npc, "persona")
    src = inner if inner is not None and not isinstance(inner, str) else npc
    return {
        "id": _get(src, "id") or _get(npc, "id") or _get(npc, "persona_id"),
        "name": _get(src, "name") or _get(npc, "name"),
        "description": _get(src, "title") or _get(src, "description") or "",
        "primary_machine": _get(src, "primary_machine") or _get(npc, "primary_machine"),
    }


def _state_names(machine: Any) -> list[str]:
    states = _get(machine, "states") or []
    if isinstance(states, dict):
        return [str(k) for k in states]
    names = []
    for s in states:
        names.append(str(s if isinstance(s, str) else _get(s, "id") or _get(s, "name") or s))
    return names


def machine_states(conv: NpcConversation) -> list[str]:
    return _state_names(conv.machine) if conv.machine else []


# --------------------------------------------------------------------------- activity instances


class InstanceConversation(Conversation):
    kind = "instance"

    def __init__(self, ctx: Any, instance_id: str, title: str | None = None) -> None:
        super().__init__(ctx, clean(title or instance_id))
        self.instance_id = instance_id
        self.greeting_message_id: str | None = None

    @classmethod
    async def create(cls, ctx: Any, activity_id: str) -> InstanceConversation:
        inst = await ctx.client.instances.create(activity_id)
        return cls(ctx, str(_get(inst, "id")), _get(inst, "snapshot_title"))

    async def _all_messages(self) -> list[Any]:
        out: list[Any] = []
        cursor = None
        while True:
            kw: dict[str, Any] = {"limit": 100}
            if cursor:
                kw["cursor"] = cursor
            page = await self.client.instances.messages.list(self.instance_id, **kw)
            out.extend(_get(page, "data", []) or [])
            cursor = _get(page, "next_cursor")
            if not cursor or not _get(page, "has_more", bool(cursor)):
                break
        out.reverse()  # newest first on the wire
        return out

    async def open(self) -> list[Turn]:
        inst = await self.client.instances.get(self.instance_id)
        self.title = clean(_get(inst, "snapshot_title") or self.title)
        first = _get(inst, "snapshot_first_message")
        alternates = list(_get(inst, "snapshot_alternate_greetings", None) or [])
        self.greetings = [g for g in [first, *alternates] if g]
        self.panel = {
            "activity": self.title,
            "instance": self.instance_id,
            "status": _get(inst, "status"),
        }
        messages = await self._all_messages()
        turns: list[Turn] = []
        for m in messages:
            role = _get(m, "role", "assistant")
            turns.append(Turn("user" if role == "user" else "assistant", str(_get(m, "content"))))
            if role == "user":
                self.last_user = turns[-1].content
        self.started = any(t.role == "user" for t in turns)
        self.last_answered = self.started and turns[-1].role == "assistant"
        if self.greetings:
            if messages and _get(messages[0], "role") == "assistant":
                self.greeting_message_id = _get(messages[0], "id")
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

    def send(self, text: str) -> AsyncIterator[Delta | Done]:
        return self._run(text)

    async def _run(self, text: str) -> AsyncIterator[Delta | Done]:
        if not self.started and self.greeting_index > 0 and self.greeting_message_id is None:
            # an alternate greeting was chosen: store it, so the reply and a resume see it
            msg = await self.client.instances.messages.create(
                self.instance_id, content=self.greetings[self.greeting_index], role="assistant"
            )
            self.greeting_message_id = _get(msg, "id")
        self.started = True
        self.last_user = text
        self.last_answered = False
        t0 = time.perf_counter()
        parts: list[str] = []
        call = self.client.instances.chat_stream(
            self.instance_id, text, idempotency_key=self._idempotency_key()
        )
        async for chunk in aiterate(call):
            piece = chunk if isinstance(chunk, str) else str(_get(chunk, "text", ""))
            parts.append(piece)
            yield Delta(piece)
        self._latency(t0)
        self.panel["messages"] = (self.panel.get("messages") or 0) + 2
        self.last_answered = True
        yield Done("".join(parts), [], None)
