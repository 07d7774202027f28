"""An in-memory client with the interface of ``AsyncPhantom`` (the parts the TUI uses).

Deterministic: fixed ids, fixed timestamps, fixed latency. Used for snapshots, error states and
the benchmark; flows against the real server use the ``live_server`` fixture.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from phantom_cli.client.errors import StreamInterruptedError
from phantom_cli.client.models import (
    ActivityInstance,
    CompanionChatResponse,
    Message,
    NpcHistory,
    NpcInitResponse,
    NpcMessageResponse,
    Page,
    ServerInfo,
    StreamDelta,
)

TS = "2026-01-01T00:00:00Z"

MACHINE = {
    "id": "machine_main",
    "title": "The bargain",
    "scoring_mode": "scoring",
    "initial_state": "greeting",
    "states": {"greeting": {}, "negotiation": {}, "deal": {"terminal": True, "outcome": "deal"}},
}
NPCS = [
    {
        "format": "phantom-npc/1",
        "persona": {"id": "abc123", "name": "Merchant of the Hollow Market",
                    "title": "Hollow Market merchant", "primary_machine": "machine_main"},
        "machines": [MACHINE],
    }
]


@dataclass
class FakeExchange:
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: Any
    status: int
    response_headers: dict[str, str]
    response_body: Any
    elapsed_ms: float = 42.0


def words(text: str) -> list[str]:
    parts = text.split(" ")
    return [p + (" " if i < len(parts) - 1 else "") for i, p in enumerate(parts)]


@dataclass
class Script:
    """What the fake answers; tests change it."""

    companion_reply: str = "Morning, you! Of course — the big one you were dreading. How'd it land?"
    npc_replies: list[dict[str, Any]] = field(default_factory=list)
    cut_after: int | None = None  # raise StreamInterruptedError after this many chunks
    fail: dict[str, BaseException] = field(default_factory=dict)  # method name → error
    moderation: dict[str, Any] = field(default_factory=dict)
    delay: float = 0.0  # seconds between chunks
    gate: asyncio.Event | None = None  # if set, streaming waits for it after the first chunk
    # (a non-streamed companion answer waits for it before answering)


class _Base:
    def __init__(self, root: FakeClient) -> None:
        self.root = root

    def _check(self, name: str) -> None:
        err = self.root.script.fail.get(name)
        if err is not None:
            raise err


class _Companion(_Base):
    async def chat(self, given: Any = None, /, *, chat_id: str, persona: Any, messages: list[dict[str, str]],
                   model: str | None = None, temperature: float | None = None,
                   max_tokens: int | None = None, extract_memory: bool | None = None,
                   stream: bool = False, idempotency_key: str | None = None) -> Any:
        self.root.__dict__.setdefault("idempotency_keys", []).append(idempotency_key)
        self._check("companion.chat")
        root = self.root
        body: dict[str, Any] = {
            "chat_id": chat_id,
            "persona": persona.model_dump(exclude_none=True) if hasattr(persona, "model_dump") else persona,
            "messages": messages,
            **(given or {}),  # the attempt seed of a retry (local extension)
        }
        for k, v in (("model", model), ("temperature", temperature), ("max_tokens", max_tokens),
                     ("extract_memory", extract_memory)):
            if v is not None:
                body[k] = v
        root.calls.append(("companion.chat", body))
        mod = {"inbound_prohibited": False, "outbound_filtered": False, **root.script.moderation}
        reply = root.script.companion_reply
        root.turn += 1
        resp = CompanionChatResponse(
            reply=reply, chat_id=chat_id, moderation=mod,
            memory={"retrieved_count": 3, "profile_used": True},
            extraction_enqueued=True, turn_id=f"turn-{root.turn}",
        )
        root.record("POST", "/api/v1/companion/chat", body, resp.model_dump(mode="json"))
        if not stream:
            if root.script.gate is not None:  # a one-shot answer waits for the whole gate
                await root.script.gate.wait()
            return resp
        return root.stream(words(reply), resp)


class _Npc(_Base):
    async def init_session(self, persona_id: str, *, user_session_id: str, player_name: str,
                           player_gender: str, machine_id: str | None = None) -> NpcInitResponse:
        self._check("npc.init_session")
        root = self.root
        root.npc_history = [{"role": "npc", "content": f"Well, well... another traveler. What brings you to the Hollow Market, {player_name}?", "created_at": TS, "state": "greeting"}]
        root.npc_index = 0
        return NpcInitResponse(message=root.npc_history[0]["content"], session_id="sess_1",
                               player_name=player_name, player_gender=player_gender,
                               machine_id=machine_id or "machine_main")

    async def history(self, persona_id: str, *, user_session_id: str,
                      machine_id: str | None = None) -> NpcHistory:
        self._check("npc.history")
        return NpcHistory(session_id="sess_1", machine_id="machine_main",
                          messages=list(self.root.npc_history))

    async def reset(self, persona_id: str, *, user_session_id: str,
                    machine_id: str | None = None) -> dict[str, Any]:
        self._check("npc.reset")
        self.root.npc_history = []
        self.root.resets += 1
        return {"reset": True, "session_id": "sess_1"}

    async def message(self, persona_id: str, *, message: str, user_session_id: str,
                      machine_id: str | None = None, stream: bool = False,
                      idempotency_key: str | None = None) -> Any:
        self.root.__dict__.setdefault("idempotency_keys", []).append(idempotency_key)
        self._check("npc.message")
        root = self.root
        script = root.script.npc_replies
        step = script[min(root.npc_index, len(script) - 1)] if script else {
            "message": "Rare? Everything here is rare, friend.", "current_state": "negotiation",
            "score": 1, "decision": "pass", "follow_up": True, "scoring_mode": "scoring",
            "score_delta": 1, "state_path": ["greeting", "negotiation"],
        }
        root.npc_index += 1
        data = {"session_id": "sess_1", "scoring_mode": "scoring", "outcome": None,
                "machine_completed": False, "unlocked_machines": [], "redirect_count": 0,
                "decision": "pass", "follow_up": False, **step}
        resp = NpcMessageResponse(**data)
        root.npc_history.append({"role": "player", "content": message, "created_at": TS,
                                 "state": root.npc_history[-1]["state"] if root.npc_history else None})
        root.npc_history.append({"role": "npc", "content": resp.message, "created_at": TS,
                                 "state": resp.current_state})
        root.calls.append(("npc.message", {"message": message}))
        root.record("POST", f"/api/v1/chat/{persona_id}/message", {"message": message, "user_session_id": user_session_id}, resp.model_dump(mode="json"))
        if not stream:
            return resp
        return root.stream(words(resp.message), resp)


class _Activities(_Base):
    async def list(self, **kw: Any) -> Page[Any]:
        self._check("activities.list")
        return Page[Any](data=list(self.root.activity_data), has_more=False)


class _Messages(_Base):
    async def list(self, instance_id: str, limit: int | None = None, cursor: str | None = None,
                   **kw: Any) -> Page[Message]:
        self._check("instances.messages.list")
        msgs = self.root.message_data.get(instance_id, [])
        newest_first = list(reversed(msgs))
        start = int(cursor or 0)
        size = limit or 20
        chunk = newest_first[start:start + size]
        more = start + size < len(newest_first)
        return Page[Message](data=chunk, next_cursor=str(start + size) if more else None, has_more=more)

    async def create(self, instance_id: str, content: str, role: str = "user",
                     medium: str = "text") -> Message:
        msgs = self.root.message_data.setdefault(instance_id, [])
        msg = Message(id=f"m{len(msgs) + 1}", role=role, medium=medium, content=content,
                      created_at=TS)
        msgs.append(msg)
        return msg

    async def update(self, instance_id: str, message_id: str, *, content: str) -> Message:
        for i, m in enumerate(self.root.message_data.get(instance_id, [])):
            if m.id == message_id:
                self.root.message_data[instance_id][i] = m.model_copy(update={"content": content})
                return self.root.message_data[instance_id][i]
        raise KeyError(message_id)


class _Instances(_Base):
    def __init__(self, root: FakeClient) -> None:
        super().__init__(root)
        self.messages = _Messages(root)

    async def list(self, **kw: Any) -> Page[ActivityInstance]:
        self._check("instances.list")
        return Page[ActivityInstance](data=list(self.root.instance_data.values()), has_more=False)

    async def get(self, instance_id: str) -> ActivityInstance:
        self._check("instances.get")
        return self.root.instance_data[instance_id]

    async def create(self, activity_id: str, assigned_voice_id: str | None = None) -> ActivityInstance:
        self._check("instances.create")
        act = next(a for a in self.root.activity_data if a["id"] == activity_id)
        iid = f"inst_{len(self.root.instance_data) + 1}"
        inst = ActivityInstance(
            id=iid, activity_id=activity_id, snapshot_title=act["title"],
            snapshot_first_message=act.get("first_message"),
            snapshot_alternate_greetings=act.get("alternate_greetings"), status="active",
            created_at=TS,
        )
        self.root.instance_data[iid] = inst
        self.root.message_data[iid] = []
        return inst

    async def chat_stream(self, instance_id: str, content: str, medium: str | None = None,
                          skin_id: str | None = None, idempotency_key: str | None = None) -> Any:
        self.root.__dict__.setdefault("idempotency_keys", []).append(idempotency_key)
        self._check("instances.chat_stream")
        root = self.root
        msgs = root.message_data.setdefault(instance_id, [])
        msgs.append(Message(id=f"m{len(msgs) + 1}", role="user", medium="text", content=content, created_at=TS))
        reply = root.script.companion_reply
        msgs.append(Message(id=f"m{len(msgs) + 1}", role="assistant", medium="text", content=reply, created_at=TS))
        return root.stream(words(reply), None)


class _Local(_Base):
    async def info(self) -> ServerInfo:
        self._check("local.info")
        return ServerInfo(version="0.1.0", engine="scripted", user="local")

    async def npcs(self) -> list[dict[str, Any]]:
        self._check("local.npcs")
        return json.loads(json.dumps(self.root.npcs))

    async def prompt(self, turn_id: str) -> dict[str, Any]:
        self._check("local.prompt")
        return {"turn_id": turn_id, "messages": [{"role": "system", "content": "You are Luna."},
                                                 {"role": "user", "content": "Morning!"}]}


class FakeClient:
    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()
        self.calls: list[tuple[str, Any]] = []
        self.turn = 0
        self.resets = 0
        self.npc_history: list[dict[str, Any]] = []
        self.npc_index = 0
        self.npcs = NPCS
        self.activity_data: list[dict[str, Any]] = [
            {"id": "act_luna", "title": "Stargazing with Luna", "is_companion": True,
             "short_description": "A night on the roof", "first_message": "The sky is clear tonight.",
             "alternate_greetings": ["You made it! Look up.", "Shh — a meteor, there!"]},
        ]
        self.instance_data: dict[str, ActivityInstance] = {}
        self.message_data: dict[str, list[Message]] = {}
        self.last_exchange: FakeExchange | None = None
        self.companion = _Companion(self)
        self.npc = _Npc(self)
        self.activities = _Activities(self)
        self.instances = _Instances(self)
        self.local = _Local(self)
        self.closed = False

    def record(self, method: str, path: str, body: Any, response: Any) -> None:
        self.last_exchange = FakeExchange(
            method=method, url=f"http://127.0.0.1:8765{path}",
            request_headers={"Authorization": "Bearer ***", "Content-Type": "application/json"},
            request_body=json.dumps(body), status=200,
            response_headers={"content-type": "application/json"},
            response_body=json.dumps(response),
        )

    async def stream(self, chunks: list[str], final: Any) -> Any:
        sent: list[str] = []
        for i, chunk in enumerate(chunks):
            if self.script.cut_after is not None and i >= self.script.cut_after:
                raise StreamInterruptedError("the stream closed before the reply ended",
                                             partial="".join(sent))
            sent.append(chunk)
            yield StreamDelta(text=chunk) if final is not None else chunk
            if i == 0 and self.script.gate is not None:
                await self.script.gate.wait()
            if self.script.delay:
                await asyncio.sleep(self.script.delay)
        if final is not None:
            yield final

    async def aclose(self) -> None:
        self.closed = True
