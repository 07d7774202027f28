"""The one module that drives turns (the seam to the conversation core).

Everything else in ``phantom_cli.scenarios`` sees a :class:`Driver`: ``open()``, ``say(text) ->
Turn``, ``reset()``, ``wait_for_extraction(timeout)``, ``scratchpad()``. Today it calls
``AsyncPhantom`` directly (non-streaming calls; the scripted engine's pace does not matter to
them beyond the backend's own setting). When the conversation core (``phantom_cli.conversation``:
``NpcSession``, ``CompanionChat``, ``InstanceChat``) lands, only this file changes: each driver
wraps the matching core object (``await conv.open()``, ``async for ev in conv.send(text)`` up to
``Done(response=…, latency_ms=…)``, ``await conv.reset()``).

Seed (``--seed``): until the local backend accepts a per-request attempt seed, a seed makes the
run reproducible by deriving every session/chat id from it (the scripted engine picks its lines
from the server's ``seed`` setting and the conversation's ids); ``ATTEMPT_SEED_PARAM`` is where
the per-request seed goes once the backend reads it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from .model import Target

# The query parameter carrying a per-request attempt seed, once the backend accepts one (None: not sent).
ATTEMPT_SEED_PARAM: str | None = None
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


class Driver:
    """Drives one scenario's conversation. Subclasses per target kind."""

    def __init__(self, client: Any, target: Target, ids: Ids, seed: int | None = None) -> None:
        self.client, self.target, self.ids, self.seed = client, target, ids, seed

    def _seed_params(self) -> dict[str, Any]:
        return {ATTEMPT_SEED_PARAM: self.seed} if ATTEMPT_SEED_PARAM and self.seed is not None else {}

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
    async def open(self) -> None:
        from phantom_cli.client import errors as E

        t = self.target
        try:
            await _backoff(lambda: self.client.npc.init_session(
                t.id, user_session_id=self.ids.session, player_name=t.player_name or "Tester",
                player_gender=t.player_gender or "non-binary", machine_id=t.machine))
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
        raw = ("POST", fill(paths.NPC_MESSAGE, persona_id=t.id), {**params, **self._seed_params()},
               {"message": text, "user_session_id": self.ids.session})
        return await self._timed(
            lambda: self.client.npc.message(t.id, message=text, user_session_id=self.ids.session,
                                            machine_id=t.machine), raw)

    async def reset(self) -> None:
        t = self.target
        await _backoff(lambda: self.client.npc.reset(t.id, user_session_id=self.ids.session, machine_id=t.machine))
        await self.open()


class CompanionDriver(Driver):
    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.history: list[dict[str, str]] = []

    @property
    def chat_id(self) -> str:
        return self.ids.session

    async def say(self, text: str) -> Turn:
        from phantom_cli.client import paths

        messages = [*self.history, {"role": "user", "content": text}][-MAX_HISTORY:]
        while messages and messages[0]["role"] != "user":
            messages = messages[1:]
        persona = self.target.persona or {}
        raw = ("POST", paths.COMPANION_CHAT, self._seed_params() or None,
               {"chat_id": self.chat_id, "persona": persona, "messages": messages})
        turn = await self._timed(
            lambda: self.client.companion.chat(chat_id=self.chat_id, persona=persona, messages=messages), raw)
        if turn.reply is not None:
            self.history = [*messages, {"role": "assistant", "content": turn.reply}][-MAX_HISTORY:]
        return turn

    async def reset(self) -> None:
        self.history = []

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

    async def open(self) -> None:
        from phantom_cli.client import errors as E

        try:
            inst = await _backoff(lambda: self.client.instances.create(self.target.id))
        except (E.NotFoundError, E.BadRequestError) as exc:
            raise TargetUnavailable(f"unknown activity {self.target.id!r}: {exc.message}") from None
        self.instance_id = inst.id
        self.ids.extra["instance_id"] = inst.id

    async def say(self, text: str) -> Turn:
        from phantom_cli.client import errors as E

        t0 = time.perf_counter()
        try:
            parts = [chunk async for chunk in await self.client.instances.chat_stream(self.instance_id, text)]
            actual: dict[str, Any] = {"status": 200, "reply": "".join(parts)}
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
