"""The one module that drives turns: the seam to the conversation core.

Everything else in ``phantom_cli.scenarios`` sees a :class:`Driver`: ``open()``, ``say(text) ->
Turn``, ``reset()``, ``wait_for_extraction(timeout)``, ``scratchpad()``. Each driver wraps the
conversation core's object for its target (``phantom_cli.conversation``: ``NpcSession``,
``CompanionChat`` without a transcript file, ``InstanceChat``) and plays each turn with
``conv.send(text, stream=False)`` up to its ``Done``, exactly as ``phantom npc say`` /
``companion say`` / ``instances chat`` and the TUI do.

Seed (``--seed``): every session/chat id is derived from it, and on the local backend each
companion turn carries it as the per-request attempt seed (the ``seed`` extension of
``POST /api/v1/chat/companion``), so the scripted engine's replies repeat run after run.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from .model import Target

RATE_LIMIT_RETRIES = 3  # runner-level retries after the client's own (429/503 with Retry-After)
RATE_LIMIT_MAX_WAIT = 30.0
EXTRACTION_POLL = 0.05
EXTRACTION_FALLBACK_WAIT = 2.0  # hosted API: no job endpoint; wait this long instead
MAX_HISTORY = 100  # companion chat: messages per request (seed 000)


class TargetUnavailable(Exception):
    """The NPC / persona / activity does not exist or cannot be opened (fails its scenario)."""


@dataclass
class Turn:
    reply: str | None
    actual: dict[str, Any]
    latency_ms: float


@dataclass
class Ids:
    session: str
    extra: dict[str, str] = field(default_factory=dict)


def _error_actual(exc: Any) -> dict[str, Any]:
    return {"status": getattr(exc, "status", None) or 0, "error.code": getattr(exc, "code", None),
            "error.message": getattr(exc, "message", None) or str(exc)}


def _response_actual(resp: Any) -> dict[str, Any]:
    d = resp.model_dump() if hasattr(resp, "model_dump") else dict(resp)
    out: dict[str, Any] = {"status": 200}
    for k, v in d.items():
        if isinstance(v, dict):
            for sk, sv in v.items():
                out[f"{k}.{sk}"] = sv
        else:
            out[k] = v
    if "message" in out and "reply" not in out:
        out["reply"] = out.pop("message")
    if "current_state" in out:
        out["state"] = out.pop("current_state")
    if "unlocked_machines" in out:
        out["unlocked"] = out.pop("unlocked_machines")
    return out


def _raw_error(resp: Any) -> dict[str, Any]:
    try:
        err = (resp.json() or {}).get("error") or {}
    except Exception:
        err = {}
    return {"status": resp.status_code, "error.code": err.get("code"), "error.message": err.get("message")}


async def _backoff(call: Any) -> Any:
    """Run ``call()``; after the client's own retries, wait out a 429/503 a few more times."""
    from phantom_cli.client import errors as E

    for attempt in range(RATE_LIMIT_RETRIES + 1):
        try:
            return await call()
        except (E.RateLimitError, E.ServiceUnavailableError) as exc:
            if attempt == RATE_LIMIT_RETRIES:
                raise
            wait = getattr(exc, "retry_after", None) or min(2.0 ** attempt, RATE_LIMIT_MAX_WAIT)
            await asyncio.sleep(min(float(wait), RATE_LIMIT_MAX_WAIT))
    raise AssertionError("unreachable")


async def _done(events: Any) -> Any:
    """Play one turn of the conversation core (``conv.send(...)``) to its ``Done``."""
    from phantom_cli.conversation import Done

    done = None
    async for ev in events:
        if isinstance(ev, Done):
            done = ev
    if done is None:  # pragma: no cover - every turn of the core ends with a Done
        raise RuntimeError("the turn ended without a Done event")
    return done


class Driver:
    """Drives one scenario's conversation. Subclasses per target kind."""

    def __init__(self, client: Any, target: Target, ids: Ids, seed: int | None = None) -> None:
        self.client, self.target, self.ids, self.seed = client, target, ids, seed

    async def open(self) -> None: ...

    async def say(self, text: str) -> Turn:
        raise NotImplementedError

    async def reset(self) -> None: ...

    async def wait_for_extraction(self, timeout: float) -> bool:
        return True

    async def scratchpad(self) -> str:
        raise NotImplementedError(f"scratchpad checks are for companion personas, not {self.target.kind}")

    async def _timed(self, call: Any, raw: Any) -> Turn:
        """Time ``call()``; an API error becomes the turn's status/error.code. A request the
        client refuses before sending (a limit) is sent as is by ``raw()`` so the scenario sees
        the server's own answer."""
        from phantom_cli.client import errors as E

        t0 = time.perf_counter()
        try:
            if call is None:  # the client cannot even build this request: the server's answer
                raise E.InvalidInputError([("request", "refused by the client")])
            resp = await _backoff(call)
            actual = _response_actual(resp)
        except E.InvalidInputError:
            r = await self.client.request(*raw, raise_for_status=False)
            if r.status_code < 400:
                actual = _response_actual(r.json())
            else:
                actual = _raw_error(r)
        except E.APIStatusError as exc:
            actual = _error_actual(exc)
        latency = (time.perf_counter() - t0) * 1000
        return Turn(actual.get("reply"), actual, latency)


class NpcDriver(Driver):
    conv: Any = None

    async def open(self) -> None:
        from phantom_cli.client import errors as E
        from phantom_cli.conversation import NpcSession, Player

        t = self.target
        self.conv = NpcSession(self.client, t.id, self.ids.session, t.machine,
                               Player(t.player_name or "Tester", t.player_gender or "non-binary"))
        try:
            await _backoff(self.conv.init)
        except E.NotFoundError as exc:
            what = f"machine {t.machine!r} of NPC {t.id!r}" if t.machine else f"NPC {t.id!r}"
            raise TargetUnavailable(f"unknown {what}: {exc.message}") from None
        except E.InvalidInputError as exc:
            raise TargetUnavailable(f"cannot open NPC {t.id!r}: {exc}") from None

    async def say(self, text: str) -> Turn:
        from phantom_cli.client import paths
        from phantom_cli.client._validate import fill

        t = self.target
        params = {"machine_id": t.machine} if t.machine else {}
        raw = ("POST", fill(paths.NPC_MESSAGE, persona_id=t.id), params or None,
               {"message": text, "user_session_id": self.ids.session})

        async def turn() -> Any:
            return (await _done(self.conv.send(text, stream=False))).response

        return await self._timed(turn, raw)

    async def reset(self) -> None:
        await _backoff(self.conv.reset)


class CompanionDriver(Driver):
    conv: Any = None

    @property
    def chat_id(self) -> str:
        return self.ids.session

    def _chat(self) -> Any:
        """The core's chat, or None for a persona the client refuses (a scenario may expect the
        server's 400 for it: its turns are then sent as written)."""
        from pydantic import ValidationError

        from phantom_cli.conversation import CompanionChat

        options: dict[str, Any] = {}
        if self.seed is not None and getattr(self.client, "backend", None) == "local":
            options["seed"] = self.seed  # the local backend's per-request attempt seed
        # no transcript file: a scenario run leaves nothing in the user's state folder
        try:
            return CompanionChat(self.client, self.target.persona or {}, self.chat_id,
                                 options=options, transcript=False, source="phantom test")
        except ValidationError:
            return None

    async def open(self) -> None:
        self.conv = self._chat()

    async def say(self, text: str) -> Turn:
        from phantom_cli.client import paths

        conv = self.conv
        history = conv._history() if conv is not None else []
        messages = [*history, {"role": "user", "content": text}][-MAX_HISTORY:]
        while messages and messages[0]["role"] != "user":
            messages = messages[1:]
        raw = ("POST", paths.COMPANION_CHAT, None,
               {"chat_id": self.chat_id, "persona": self.target.persona or {}, "messages": messages,
                **(conv.options if conv is not None else {})})

        async def turn() -> Any:
            return (await _done(conv.send(text, stream=False))).response

        return await self._timed(turn if conv is not None else None, raw)

    async def reset(self) -> None:
        self.conv = self._chat()

    async def wait_for_extraction(self, timeout: float) -> bool:
        """Poll the local backend's pending-extraction count for this chat (bounded); against a
        backend without that extension, wait a fixed short time."""
        from phantom_cli.client import paths

        deadline = time.monotonic() + timeout
        while True:
            r = await self.client.request("GET", paths.LOCAL_EXTRACTION_PENDING,
                                          {"chat_id": self.chat_id}, raise_for_status=False)
            if r.status_code == 404:
                await asyncio.sleep(min(EXTRACTION_FALLBACK_WAIT, timeout))
                return True
            if r.status_code < 400 and int(r.json().get("pending", 0)) == 0:
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(EXTRACTION_POLL)

    async def scratchpad(self) -> str:
        pad = await _backoff(lambda: self.client.scratchpad.get(type="conversation", conversation_id=self.chat_id))
        return str(pad.content or "")


class ActivityDriver(Driver):
    instance_id: str | None = None
    conv: Any = None

    async def open(self) -> None:
        from phantom_cli.client import errors as E
        from phantom_cli.conversation import InstanceChat

        try:
            inst = await _backoff(lambda: self.client.instances.create(self.target.id))
        except (E.NotFoundError, E.BadRequestError) as exc:
            raise TargetUnavailable(f"unknown activity {self.target.id!r}: {exc.message}") from None
        self.instance_id = inst.id
        self.ids.extra["instance_id"] = inst.id
        self.conv = InstanceChat(self.client, inst.id)

    async def say(self, text: str) -> Turn:
        from phantom_cli.client import errors as E

        t0 = time.perf_counter()
        try:
            done = await _done(self.conv.send(text, stream=False))
            actual: dict[str, Any] = {"status": 200, "reply": done.reply}
        except E.APIStatusError as exc:
            actual = _error_actual(exc)
        except E.InvalidInputError as exc:
            actual = {"status": 400, "error.code": "INVALID_REQUEST", "error.message": str(exc)}
        return Turn(actual.get("reply"), actual, (time.perf_counter() - t0) * 1000)

    async def reset(self) -> None:
        await self.open()  # a new instance: a fresh conversation


class BrokenTarget(Driver):
    async def open(self) -> None:
        raise TargetUnavailable(self.target.error or "unusable target")


def make_driver(client: Any, target: Target, ids: Ids, seed: int | None = None) -> Driver:
    if target.error:
        return BrokenTarget(client, target, ids, seed)
    cls = {"npc": NpcDriver, "persona": CompanionDriver, "activity": ActivityDriver}[target.kind]
    return cls(client, target, ids, seed)
