"""Companion chat (seed 000) and the local prompt debug route.

``POST /api/v1/companion/chat`` (scope ``chat:companion``), one turn:

1. the body is validated by ``models.CompanionChatRequest`` (400 with the field and limit);
   no vector store configured → 400, as the seed says;
2. inbound moderation of the user's last message: a prohibited message gets the persona's
   canned refusal (``inbound_prohibited``, ``reason``) — nothing is retrieved, generated,
   counted or extracted;
3. retrieval: the top memories of (user, chat_id) relevant to the message, and the profile;
4. prompt assembly (``prompts.companion_prompt``) and generation by the configured engine;
5. outbound moderation: an unsafe reply is replaced by the safe fallback (``outbound_filtered``);
6. the cadence counter: every ``memory_cadence``-th turn queues a ``memory.extract`` job unless
   ``extract_memory`` is false; the turn's prompt is stored for ``GET /api/v1/local/prompts/{id}``.

``?stream=true`` answers ``text/event-stream``: ``event: delta`` ``{"text"}`` events, then one
``event: done`` with the full response (an ``event: error`` with the envelope if it fails once
the stream has started). Streamed text is checked by outbound moderation before it is sent
(whole words only), so a filtered reply stops streaming and ``done`` carries the fallback.
Local extra fields on the response: ``turn_id`` and ``engine``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from phantom_cli.client import models as m
from phantom_cli.client import paths

from ..db import new_id, now, transaction
from ..endpoints import Ctx, endpoint, sse, sse_response
from ..engines import Engine, EngineUnavailable, Prompt, get_engine, unpaced
from ..errors import ApiError, in_context
from ..memory.service import Retrieval, memory_service
from ..moderation import Policy, get_policy
from ..prompts import companion_prompt

log = logging.getLogger("phantom.backend.companion")

DEFAULT_TEMPERATURE = 0.8


class ChatQuery(m.RequestModel):
    stream: bool = False


class CompanionChatOut(m.CompanionChatResponse):
    turn_id: str | None = None
    engine: str | None = None


PromptTurnOut = m.PromptTurn  # the client's model: one definition of the shape


# --------------------------------------------------------------------------- the turn


@dataclass
class Turn:
    """One companion turn, from the request to the response (shared by both variants)."""

    user_id: str
    body: m.CompanionChatRequest
    turn_id: str = field(default_factory=lambda: new_id("turn"))
    engine: Engine | None = None
    prompt: Prompt | None = None
    retrieval: Retrieval = field(default_factory=Retrieval)
    inbound_reason: str | None = None
    outbound_reason: str | None = None
    reply: str = ""
    enqueued: bool = False
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def persona_name(self) -> str:
        return self.body.persona.name

    @property
    def user_message(self) -> str:
        return self.body.messages[-1].content

    def response(self) -> CompanionChatOut:
        mod = m.Moderation(
            inbound_prohibited=self.inbound_reason is not None,
            outbound_filtered=self.outbound_reason is not None,
            reason=self.inbound_reason or self.outbound_reason,
        )
        refused = self.inbound_reason is not None
        return CompanionChatOut(
            reply=self.reply,
            chat_id=self.body.chat_id,
            moderation=mod,
            memory=m.MemoryInfo(
                retrieved_count=0 if refused else len(self.retrieval.hits),
                profile_used=False if refused else bool(self.retrieval.profile),
            ),
            extraction_enqueued=self.enqueued,
            turn_id=self.turn_id,
            engine=self.engine.name if self.engine else None,
        )


def check_vector_store(settings: Any) -> None:
    if not getattr(settings, "vector_store", True):
        raise ApiError(
            400,
            message="vector_store: no vector store is configured on this backend; companion chat needs one "
            "(set vector_store = true in the profile)",
            details=[{"loc": ["vector_store"], "msg": "no vector store configured"}],
        )


async def prepare(app: Any, user_id: str, body: m.CompanionChatRequest, *, memory: bool = True) -> Turn:
    """Moderate the inbound message, retrieve memories and assemble the prompt."""
    t0 = time.perf_counter()
    turn = Turn(user_id=user_id, body=body)
    settings = app.state.settings
    policy: Policy = get_policy(settings)
    verdict = policy.inbound(turn.user_message)
    turn.engine = get_engine(settings)
    if verdict.flagged:
        turn.inbound_reason = verdict.category or "prohibited"
        turn.reply = policy.refusal(turn.persona_name, verdict.category, pick=_pick(turn))
        turn.timings["prepare_ms"] = (time.perf_counter() - t0) * 1000
        return turn
    if memory:
        turn.retrieval = await memory_service(app).retrieve(app.state.db, user_id, body.chat_id, turn.user_message)
    t1 = time.perf_counter()
    turn.prompt = companion_prompt(
        body.persona,
        [msg.model_dump() for msg in body.messages],
        memories=turn.retrieval.texts,
        profile=turn.retrieval.profile,
    )
    if body.model:
        turn.prompt.context["model_override"] = body.model
    turn.timings["retrieve_ms"] = (t1 - t0) * 1000
    turn.timings["prepare_ms"] = (time.perf_counter() - t0) * 1000
    return turn


def _pick(turn: Turn) -> int:
    return sum(map(ord, turn.body.chat_id)) + len(turn.body.messages)


def _seed(app: Any, body: m.CompanionChatRequest) -> int:
    """The turn's attempt seed: the request's ``seed`` (local extension), else the setting."""
    if body.seed is not None:
        return int(body.seed)
    return int(getattr(app.state.settings, "seed", 0) or 0)


def _temperature(body: m.CompanionChatRequest) -> float:
    return DEFAULT_TEMPERATURE if body.temperature is None else float(body.temperature)


def finish(app: Any, turn: Turn, *, memory: bool = True) -> CompanionChatOut:
    """Outbound moderation has run; count the turn, queue extraction, store the prompt."""
    conn = app.state.db
    settings = app.state.settings
    if turn.inbound_reason is None and memory:
        res = memory_service(app).note_turn(
            conn, turn.user_id, turn.body.chat_id,
            persona_name=turn.persona_name, user_message=turn.user_message,
            write_back=turn.body.extract_memory is not False, turn_id=turn.turn_id,
        )
        turn.enqueued = res.enqueued
    prompt_json = turn.prompt.to_json() if turn.prompt else {
        "messages": [], "context": {"kind": "companion", "inbound_prohibited": True, "reason": turn.inbound_reason},
    }
    prompt_json["params"] = {
        "temperature": _temperature(turn.body), "max_tokens": turn.body.max_tokens,
        "seed": _seed(app, turn.body), "model": turn.body.model,
        "extract_memory": turn.body.extract_memory is not False,
    }
    prompt_json["timings"] = {k: round(v, 3) for k, v in turn.timings.items()}
    engine = turn.engine
    with transaction(conn):
        conn.execute(
            "INSERT INTO prompt_turn(id, user_id, kind, conversation_id, engine, model, prompt, reply, created_at)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (turn.turn_id, turn.user_id, "companion", turn.body.chat_id,
             engine.name if engine else getattr(settings, "engine", "scripted"),
             (turn.body.model or engine.model) if engine else None,
             json.dumps(prompt_json, ensure_ascii=False), turn.reply, now()),
        )
    return turn.response()


def _unavailable(exc: EngineUnavailable) -> ApiError:
    return ApiError(503, message=in_context("model provider", exc.message))


async def run_turn(app: Any, user_id: str, body: m.CompanionChatRequest, *, memory: bool = True) -> CompanionChatOut:
    """A whole non-streamed turn (also used by the benchmark)."""
    turn = await prepare(app, user_id, body, memory=memory)
    if turn.inbound_reason is None:
        assert turn.engine is not None and turn.prompt is not None
        parts: list[str] = []
        t0 = time.perf_counter()
        try:
            async for chunk in unpaced(turn.engine).stream(
                turn.prompt, temperature=_temperature(body), max_tokens=body.max_tokens,
                seed=_seed(app, body),
            ):
                parts.append(chunk)
        except EngineUnavailable as exc:
            raise _unavailable(exc) from None
        turn.timings["generate_ms"] = (time.perf_counter() - t0) * 1000
        _moderate_out(app, turn, "".join(parts).strip())
    return finish(app, turn, memory=memory)


def _moderate_out(app: Any, turn: Turn, reply: str) -> None:
    policy = get_policy(app.state.settings)
    verdict = policy.outbound(reply)
    if verdict.flagged:
        turn.outbound_reason = verdict.category or "unsafe"
        turn.reply = policy.fallback(turn.persona_name, pick=_pick(turn))
    else:
        turn.reply = reply or "…"


async def stream_turn(app: Any, turn: Turn) -> AsyncIterator[bytes]:
    """The SSE events of a prepared turn."""
    body = turn.body
    try:
        if turn.inbound_reason is not None:
            for word in _words(turn.reply):
                yield sse("delta", {"text": word})
        else:
            assert turn.engine is not None and turn.prompt is not None
            policy = get_policy(app.state.settings)
            text = ""  # everything generated
            sent = 0  # characters of `text` already sent (checked) as deltas
            flagged = None
            t0 = time.perf_counter()
            gen = turn.engine.stream(
                turn.prompt, temperature=_temperature(body), max_tokens=body.max_tokens,
                seed=_seed(app, body),
            )
            try:
                async for chunk in gen:
                    text += chunk
                    cut = max(text.rfind(" "), text.rfind("\n"))  # whole words only
                    if cut + 1 <= sent:
                        continue
                    verdict = policy.outbound(text[_window_start(text, sent) : cut + 1])
                    if verdict.flagged:
                        flagged = verdict
                        break
                    yield sse("delta", {"text": text[sent : cut + 1]})
                    sent = cut + 1
            except EngineUnavailable as exc:
                yield sse("error", _unavailable(exc).body())
                return
            finally:
                await gen.aclose()  # type: ignore[attr-defined]
                turn.timings["generate_ms"] = (time.perf_counter() - t0) * 1000
            if flagged is None:
                final = text.strip()
                verdict = policy.outbound(final)
                if verdict.flagged:
                    flagged = verdict
                elif len(text) > sent and text[sent:].strip():
                    yield sse("delta", {"text": text[sent:].rstrip()})
            if flagged is not None:
                turn.outbound_reason = flagged.category or "unsafe"
                turn.reply = policy.fallback(turn.persona_name, pick=_pick(turn))
            else:
                turn.reply = text.strip() or "…"
        out = finish(app, turn)
    except ApiError as exc:
        yield sse("error", exc.body())
        return
    except Exception:  # noqa: BLE001 - the status line is sent: report in-band
        log.exception("companion stream failed")
        yield sse("error", ApiError(500, message="internal server error (see the server log)").body())
        return
    yield sse("done", out.model_dump(mode="json"))


CHECK_OVERLAP_WORDS = 12  # longer than any multi-word term or pattern of the policy


def _window_start(text: str, sent: int) -> int:
    """Where the next outbound check starts: a few words before what was already checked, so
    a term split across chunks is still seen whole and long replies are not re-checked from the
    start on every chunk (the final check covers the whole reply anyway)."""
    start = sent
    for _ in range(CHECK_OVERLAP_WORDS):
        prev = text.rfind(" ", 0, max(0, start - 1))
        if prev < 0:
            return 0
        start = prev
    return start


def _words(text: str) -> list[str]:
    import re

    return re.findall(r"\S+\s*", text)


@endpoint("POST", paths.COMPANION_CHAT, scope="chat:companion", query=ChatQuery, body=m.CompanionChatRequest,
          response=CompanionChatOut, errors=(400, 401, 403, 503), idempotent=True,
          summary="One in-character companion reply with memory and moderation (?stream=true: SSE)")
async def companion_chat(ctx: Ctx) -> Any:
    check_vector_store(ctx.settings)
    body: m.CompanionChatRequest = ctx.body
    if not ctx.query.stream:
        return await run_turn(ctx.app, ctx.user.id, body)
    turn = await prepare(ctx.app, ctx.user.id, body)  # errors here are plain JSON errors
    return sse_response(stream_turn(ctx.app, turn), ctx.request)


# --------------------------------------------------------------------------- debug route


# what an NPC turn's stored record says about its decision (routes/npc.py writes them)
NPC_TURN_PARAMS = ("choice", "decide", "decision_source", "structured_output", "decision_detail", "max_tokens")


@endpoint("GET", paths.LOCAL_PROMPT, scope=None, response=PromptTurnOut, errors=(404,),
          summary="The prompt the engine was given for a companion or NPC turn (local extension)")
async def local_prompt(ctx: Ctx) -> Any:
    turn_id = ctx.params["turn_id"]
    row = ctx.db.execute(
        "SELECT id, kind, engine, model, prompt, reply, created_at FROM prompt_turn WHERE id = ? AND user_id = ?",
        (turn_id, ctx.user.id),
    ).fetchone()
    if row is not None:
        data = json.loads(row["prompt"])
        return PromptTurnOut(turn_id=row["id"], kind=row["kind"], engine=row["engine"], model=row["model"],
                             created_at=row["created_at"], messages=data.get("messages") or [],
                             context=data.get("context") or {}, params=data.get("params") or {},
                             timings=data.get("timings") or {}, reply=row["reply"])
    from ..npc.store import turn_prompt

    npc = turn_prompt(ctx.db, ctx.user.id, turn_id)
    if npc is not None:
        return PromptTurnOut(turn_id=turn_id, kind="npc", engine=npc.get("engine"), model=npc.get("model"),
                             messages=npc.get("messages") or [], context=npc.get("context") or {},
                             params={k: npc.get(k) for k in NPC_TURN_PARAMS if k in npc}, reply=npc.get("reply"))
    raise ApiError(404, message=f"turn_id: no stored prompt for turn {turn_id!r} of this user")


routes = [companion_chat, local_prompt]
