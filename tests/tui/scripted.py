"""A scripted Phantom API behind ``httpx.MockTransport``, driven through the real ``AsyncPhantom``.

The TUI sees the real client (its models, streams, exceptions); only the server is scripted.
Deterministic: fixed ids, fixed timestamps, a fixed 42 ms latency in ``last_exchange``. Used for
snapshots, error states and the benchmark; flows against the real server use ``live_server``.

``client = ScriptedClient()`` is an ``AsyncPhantom``; ``client.server`` (also reachable as
``client.script``, ``client.calls`` …) holds the scripted state tests change.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from phantom_cli.client import AsyncPhantom
from phantom_cli.client.errors import APIConnectionError, APIStatusError

TS = "2026-01-01T00:00:00Z"
BASE = "http://127.0.0.1:8765"

MACHINE = {
    "id": "machine_main",
    "title": "The bargain",
    "scoring_mode": "scoring",
    "initial_state": "greeting",
    "opening": ["Well, well..."],
    "states": {"greeting": {}, "negotiation": {}, "deal": {"terminal": True, "outcome": "deal"}},
}
NPCS = [
    {
        "format": "phantom-npc/1",
        "id": "abc123",
        "name": "Merchant of the Hollow Market",
        "primary_machine": "machine_main",
        "persona": {"id": "abc123", "name": "Merchant of the Hollow Market",
                    "title": "Hollow Market merchant", "primary_machine": "machine_main"},
        "machines": [MACHINE],
    }
]


def words(text: str) -> list[str]:
    parts = text.split(" ")
    return [p + (" " if i < len(parts) - 1 else "") for i, p in enumerate(parts)]


@dataclass
class Script:
    """What the server answers; tests change it."""

    companion_reply: str = "Morning, you! Of course — the big one you were dreading. How'd it land?"
    npc_replies: list[dict[str, Any]] = field(default_factory=list)
    cut_after: int | None = None  # the connection breaks after this many chunks
    # endpoint name ("companion.chat", "npc.history", …) → the client error it answers with
    fail: dict[str, BaseException] = field(default_factory=dict)
    moderation: dict[str, Any] = field(default_factory=dict)
    delay: float = 0.0  # seconds between chunks
    gate: asyncio.Event | None = None  # if set, streaming waits for it after the first chunk
    # (a non-streamed companion answer waits for it before answering)


class _Body(httpx.AsyncByteStream):
    def __init__(self, gen: AsyncIterator[bytes]) -> None:
        self.gen = gen

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.gen:
            yield chunk


def _sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile(p + "$"), name)
    for m, p, name in (
        ("POST", r"/api/v1/companion/chat", "companion.chat"),
        ("POST", r"/api/v1/chat/(?P<pid>[^/]+)/init-session", "npc.init_session"),
        ("POST", r"/api/v1/chat/(?P<pid>[^/]+)/message", "npc.message"),
        ("GET", r"/api/v1/chat/(?P<pid>[^/]+)/history", "npc.history"),
        ("POST", r"/api/v1/chat/(?P<pid>[^/]+)/reset", "npc.reset"),
        ("GET", r"/api/v1/activities", "activities.list"),
        ("GET", r"/api/v1/activity-instances", "instances.list"),
        ("POST", r"/api/v1/activity-instances", "instances.create"),
        ("GET", r"/api/v1/activity-instances/(?P<iid>[^/]+)", "instances.get"),
        ("GET", r"/api/v1/activity-instances/(?P<iid>[^/]+)/messages", "instances.messages.list"),
        ("POST", r"/api/v1/activity-instances/(?P<iid>[^/]+)/messages",
         "instances.messages.create"),
        ("PATCH", r"/api/v1/activity-instances/(?P<iid>[^/]+)/messages/(?P<mid>[^/]+)",
         "instances.messages.update"),
        ("POST", r"/api/v1/activity-instances/(?P<iid>[^/]+)/chat", "instances.chat_stream"),
        ("GET", r"/api/v1/local/info", "local.info"),
        ("GET", r"/api/v1/local/npcs", "local.npcs"),
        ("GET", r"/api/v1/local/npcs/(?P<pid>[^/]+)", "local.npc"),
        ("GET", r"/api/v1/local/prompts/(?P<tid>[^/]+)", "local.prompt"),
    )
]


class ScriptedServer:
    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()
        self.calls: list[tuple[str, Any]] = []
        self.idempotency_keys: list[str | None] = []  # of companion.chat, in order
        self.turn = 0
        self.resets = 0
        self.npc_history: list[dict[str, Any]] = []
        self.npc_index = 0
        self.npc_path: list[str] = []
        self.npcs: list[dict[str, Any]] = json.loads(json.dumps(NPCS))
        self.activity_data: list[dict[str, Any]] = [
            {"id": "act_luna", "title": "Stargazing with Luna", "is_companion": True,
             "short_description": "A night on the roof", "first_message": "The sky is clear tonight.",
             "alternate_greetings": ["You made it! Look up.", "Shh — a meteor, there!"]},
        ]
        self.instance_data: dict[str, dict[str, Any]] = {}
        self.message_data: dict[str, list[dict[str, Any]]] = {}

    # ------------------------------------------------------------------ transport

    async def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        found = next(
            ((name, match) for method, pattern, name in ROUTES
             if request.method == method and (match := pattern.match(path))),
            None,
        )
        if found is None:
            return self._error(404, "NOT_FOUND", f"no route {request.method} {path}")
        name, match = found
        err = self.script.fail.get(name)
        if isinstance(err, APIStatusError):
            return self._error(err.status, err.code or "ERROR", err.message or str(err),
                               err.details)
        if isinstance(err, APIConnectionError):
            raise httpx.ConnectError(str(err), request=request)
        if err is not None:
            raise err
        body = json.loads(request.content) if request.content else None
        stream = request.url.params.get("stream") == "true"
        return await getattr(self, "_" + name.replace(".", "_"))(
            request, body, stream, **match.groupdict()
        )

    def _error(self, status: int, code: str, message: str, details: Any = None) -> httpx.Response:
        error: dict[str, Any] = {"code": code, "message": message}
        if details is not None:
            error["details"] = details
        return httpx.Response(status, json={"error": error})

    def _stream(self, chunks: list[str], final: dict[str, Any] | None) -> httpx.Response:
        """SSE deltas then ``done`` (``final``), or plain text chunks (``final`` None)."""

        async def gen() -> AsyncIterator[bytes]:
            for i, chunk in enumerate(chunks):
                if self.script.cut_after is not None and i >= self.script.cut_after:
                    raise httpx.ReadError("connection reset")
                yield _sse("delta", {"text": chunk}) if final is not None else chunk.encode()
                if i == 0 and self.script.gate is not None:
                    await self.script.gate.wait()
                if self.script.delay:
                    await asyncio.sleep(self.script.delay)
            if final is not None:
                yield _sse("done", final)

        ctype = "text/event-stream" if final is not None else "text/plain; charset=utf-8"
        return httpx.Response(200, headers={"content-type": ctype}, stream=_Body(gen()))

    # ------------------------------------------------------------------ companion

    async def _companion_chat(self, request: httpx.Request, body: Any, stream: bool) -> httpx.Response:
        self.calls.append(("companion.chat", body))
        self.idempotency_keys.append(request.headers.get("Idempotency-Key"))
        self.turn += 1
        mod = {"inbound_prohibited": False, "outbound_filtered": False, **self.script.moderation}
        reply = self.script.companion_reply
        resp = {"reply": reply, "chat_id": body["chat_id"], "moderation": mod,
                "memory": {"retrieved_count": 3, "profile_used": True},
                "extraction_enqueued": True, "turn_id": f"turn-{self.turn}"}
        if not stream:
            if self.script.gate is not None:  # a one-shot answer waits for the whole gate
                await self.script.gate.wait()
            return httpx.Response(200, json=resp)
        return self._stream(words(reply), resp)

    # ------------------------------------------------------------------ NPC

    async def _npc_init_session(self, request: httpx.Request, body: Any, stream: bool,
                                pid: str) -> httpx.Response:
        if unknown := self._unknown_npc(pid):
            return unknown
        self.calls.append(("npc.init_session", body))
        name = body["player_name"]
        self.npc_history = [{"role": "npc", "content": f"Well, well... another traveler. What brings you to the Hollow Market, {name}?", "created_at": TS, "state": "greeting"}]
        self.npc_index = 0
        self.npc_path = ["greeting"]
        return httpx.Response(200, json={
            "message": self.npc_history[0]["content"], "session_id": "sess_1", "player_name": name,
            "player_gender": body["player_gender"],
            "machine_id": request.url.params.get("machine_id") or "machine_main"})

    def _unknown_npc(self, pid: str) -> httpx.Response | None:
        """The server's 404 for a persona it does not have (as the local backend words it)."""
        if any(n["id"] == pid for n in self.npcs):
            return None
        return self._error(404, "NOT_FOUND", f"NPC persona {pid!r} not found")

    async def _npc_history(self, request: httpx.Request, body: Any, stream: bool,
                           pid: str) -> httpx.Response:
        if unknown := self._unknown_npc(pid):
            return unknown
        return httpx.Response(200, json={"session_id": "sess_1", "machine_id": "machine_main",
                                         "messages": list(self.npc_history)})

    async def _npc_reset(self, request: httpx.Request, body: Any, stream: bool,
                         pid: str) -> httpx.Response:
        self.npc_history = []
        self.npc_path = []
        self.resets += 1
        return httpx.Response(200, json={"reset": True, "session_id": "sess_1"})

    async def _npc_message(self, request: httpx.Request, body: Any, stream: bool,
                           pid: str) -> httpx.Response:
        script = self.script.npc_replies
        step = script[min(self.npc_index, len(script) - 1)] if script else {
            "message": "Rare? Everything here is rare, friend.", "current_state": "negotiation",
            "score": 1, "decision": "pass", "follow_up": True, "scoring_mode": "scoring",
            "score_delta": 1,
        }
        self.npc_index += 1
        state = step["current_state"]
        if not self.npc_path or self.npc_path[-1] != state:
            self.npc_path.append(state)
        # like the real server: the session's whole path, every turn
        data = {"session_id": "sess_1", "scoring_mode": "scoring", "outcome": None,
                "machine_completed": False, "unlocked_machines": [], "redirect_count": 0,
                "decision": "pass", "follow_up": False, "state_path": list(self.npc_path),
                "turn_id": f"npc-turn-{self.npc_index}", **step}
        self.npc_history.append({"role": "player", "content": body["message"], "created_at": TS,
                                 "state": self.npc_history[-1]["state"] if self.npc_history else None})
        self.npc_history.append({"role": "npc", "content": data["message"], "created_at": TS,
                                 "state": state})
        self.calls.append(("npc.message", {"message": body["message"]}))
        if not stream:
            return httpx.Response(200, json=data)
        return self._stream(words(data["message"]), data)

    # ------------------------------------------------------------------ activities / instances

    async def _activities_list(self, request: httpx.Request, body: Any, stream: bool) -> httpx.Response:
        return httpx.Response(200, json={"data": self.activity_data, "has_more": False})

    async def _instances_list(self, request: httpx.Request, body: Any, stream: bool) -> httpx.Response:
        return httpx.Response(200, json={"data": list(self.instance_data.values()),
                                         "has_more": False})

    async def _instances_create(self, request: httpx.Request, body: Any, stream: bool) -> httpx.Response:
        act = next(a for a in self.activity_data if a["id"] == body["activity_id"])
        iid = f"inst_{len(self.instance_data) + 1}"
        inst = {"id": iid, "activity_id": act["id"], "snapshot_title": act["title"],
                "snapshot_first_message": act.get("first_message"),
                "snapshot_alternate_greetings": act.get("alternate_greetings"),
                "status": "active", "created_at": TS}
        self.instance_data[iid] = inst
        self.message_data[iid] = []
        return httpx.Response(201, json=inst)

    async def _instances_get(self, request: httpx.Request, body: Any, stream: bool,
                             iid: str) -> httpx.Response:
        if iid not in self.instance_data:
            return self._error(404, "NOT_FOUND", f"activity instance {iid!r} not found")
        return httpx.Response(200, json=self.instance_data[iid])

    def _message(self, iid: str, role: str, content: str, medium: str = "text") -> dict[str, Any]:
        msgs = self.message_data.setdefault(iid, [])
        msg = {"id": f"m{len(msgs) + 1}", "role": role, "medium": medium, "content": content,
               "created_at": TS}
        msgs.append(msg)
        return msg

    async def _instances_messages_list(self, request: httpx.Request, body: Any, stream: bool,
                                       iid: str) -> httpx.Response:
        newest_first = list(reversed(self.message_data.get(iid, [])))
        start = int(request.url.params.get("cursor") or 0)
        size = int(request.url.params.get("limit") or 20)
        more = start + size < len(newest_first)
        return httpx.Response(200, json={"data": newest_first[start:start + size],
                                         "next_cursor": str(start + size) if more else None,
                                         "has_more": more})

    async def _instances_messages_create(self, request: httpx.Request, body: Any, stream: bool,
                                         iid: str) -> httpx.Response:
        return httpx.Response(201, json=self._message(iid, body.get("role", "user"),
                                                      body["content"], body.get("medium", "text")))

    async def _instances_messages_update(self, request: httpx.Request, body: Any, stream: bool,
                                         iid: str, mid: str) -> httpx.Response:
        for msg in self.message_data.get(iid, []):
            if msg["id"] == mid:
                msg["content"] = body["content"]
                return httpx.Response(200, json=msg)
        return self._error(404, "NOT_FOUND", f"message {mid!r} not found")

    async def _instances_chat_stream(self, request: httpx.Request, body: Any, stream: bool,
                                     iid: str) -> httpx.Response:
        self._message(iid, "user", body["content"])
        reply = self.script.companion_reply
        self._message(iid, "assistant", reply)
        return self._stream(words(reply), None)

    # ------------------------------------------------------------------ local extensions

    async def _local_info(self, request: httpx.Request, body: Any, stream: bool) -> httpx.Response:
        return httpx.Response(200, json={"backend": "local", "version": "0.1.0",
                                         "engine": "scripted", "user": "local"})

    async def _local_npcs(self, request: httpx.Request, body: Any, stream: bool) -> httpx.Response:
        return httpx.Response(200, json={"data": self.npcs})

    async def _local_npc(self, request: httpx.Request, body: Any, stream: bool,
                         pid: str) -> httpx.Response:
        for npc in self.npcs:
            if npc["id"] == pid:
                doc = json.loads(json.dumps(npc))
                if request.url.params.get("user_session_id"):
                    for m in doc["machines"]:
                        m["player"] = {"unlocked": True, "state_path": list(self.npc_path)}
                return httpx.Response(200, json=doc)
        return self._error(404, "NOT_FOUND", f"NPC persona {pid!r} not found")

    async def _local_prompt(self, request: httpx.Request, body: Any, stream: bool,
                            tid: str) -> httpx.Response:
        return httpx.Response(200, json={
            "turn_id": tid, "kind": "companion",
            "messages": [{"role": "system", "content": "You are Luna."},
                         {"role": "user", "content": "Morning!"}]})


class ScriptedClient(AsyncPhantom):
    """The real ``AsyncPhantom`` over ``httpx.MockTransport(ScriptedServer.handle)``."""

    def __init__(self, script: Script | None = None) -> None:
        self.server = ScriptedServer(script)

        async def no_sleep(_delay: float) -> None:
            return None

        super().__init__(base_url=BASE, api_key="sk-scripted", max_retries=0, backend="local",
                         sleep=no_sleep, transport=httpx.MockTransport(self.server.handle))
        self.closed = False

    def _record(self, *args: Any, **kwargs: Any) -> None:
        super()._record(*args, **kwargs)
        if self.last_exchange is not None:  # a fixed latency: snapshots stay deterministic
            self.last_exchange = dataclasses.replace(self.last_exchange, elapsed_ms=42.0)

    async def aclose(self) -> None:
        """Marks the client closed but keeps it usable: a test may run a second app on the same
        scripted server after the first one closed its context (the mock transport holds no
        connections)."""
        self.closed = True

    # the scripted state, for tests
    @property
    def script(self) -> Script:
        return self.server.script

    @property
    def calls(self) -> list[tuple[str, Any]]:
        return self.server.calls

    @property
    def idempotency_keys(self) -> list[str | None]:
        return self.server.idempotency_keys

    @property
    def message_data(self) -> dict[str, list[dict[str, Any]]]:
        return self.server.message_data

    @property
    def activity_data(self) -> list[dict[str, Any]]:
        return self.server.activity_data

    @activity_data.setter
    def activity_data(self, value: list[dict[str, Any]]) -> None:
        self.server.activity_data = value

    @property
    def npcs(self) -> list[dict[str, Any]]:
        return self.server.npcs

    @npcs.setter
    def npcs(self, value: list[dict[str, Any]]) -> None:
        self.server.npcs = value
