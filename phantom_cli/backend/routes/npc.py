"""NPC chat (seed 001): init-session, message (+ SSE), history, reset; local NPC listing/import.

Sessions are per (user, persona, user_session_id, machine). A turn: the engine decides the
transition among the state's transition ids (+ ``redirect``) from the machine's rules
(``scripted``: first matching rule; LLM engines: a constrained classification), the runner
applies it, the engine writes the NPC's line from the authored line (``scripted``: the line
itself, with the player's name and pronouns filled in), and the whole turn is written in one
transaction. Concurrent messages to one session are serialised.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from phantom_cli.client import models as m

from ..db import new_id
from ..endpoints import Ctx, endpoint, read_json, sse, sse_response
from ..errors import ApiError, in_context, not_found
from ..npc import rules as npc_rules
from ..npc import store
from ..npc.machine import Machine, MachineError, NpcPersona, render_line
from ..npc.runner import SessionState, TurnResult, apply_choice

SCOPE = "chat:npc"
log = logging.getLogger("phantom.backend.npc")
HISTORY_WINDOW = 20


# --------------------------------------------------------------------------- query models


class MachineQuery(m.RequestModel):
    machine_id: str | None = Field(default=None, min_length=1, max_length=128, pattern=m.ID_PATTERN)


class MessageQuery(MachineQuery):
    stream: bool = False


class SessionQuery(MachineQuery):
    user_session_id: m.SessionId


class NpcListQuery(m.RequestModel):
    user_session_id: m.SessionId | None = None


class NpcMessageOut(m.NpcMessageResponse):
    """Seed 001's response plus the local extras (``extra="allow"`` keeps them on the wire)."""

    score_delta: float = 0
    state_path: list[str] = Field(default_factory=list)
    turn_id: str = ""
    engine: str = ""
    machine_id: str = ""
    # how the transition was decided (backend README "NPC chat"): the machine's decide mode,
    # "rules" | "model" | "rules-fallback", and the structured-output form of a model decision
    decide: str = ""
    decision_source: str = ""
    structured_output: str | None = None


NpcList = m.NpcList  # the client's model: one definition of the shape

# --------------------------------------------------------------------------- helpers


def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def _persona(ctx: Ctx, persona_id: str) -> NpcPersona:
    p = store.get_persona(ctx.db, persona_id)
    if p is None:
        raise not_found("NPC persona", persona_id)
    return p


def _machine(p: NpcPersona, machine_id: str | None) -> Machine:
    mach = p.machine(machine_id)
    if mach is None:
        known = ", ".join(x.id for x in p.machines)
        raise ApiError(404, message=f"machine_id: persona {p.id!r} has no machine {machine_id!r} (known: {known})",
                       details=[{"loc": ["query", "machine_id"], "msg": f"unknown machine {machine_id!r}"}])
    return mach


def _engine(ctx: Ctx) -> Any:
    from ..engines import get_engine

    try:
        return get_engine(ctx.settings)
    except Exception as exc:  # noqa: BLE001 - a misconfigured engine is a 503 for the caller
        raise _unavailable(exc) from None


def _unpaced(engine: Any) -> Any:
    """A JSON answer (not streamed): no word-by-word pace (``engines.unpaced``)."""
    from ..engines import unpaced

    return unpaced(engine)


def _unavailable(exc: Exception) -> ApiError:
    return ApiError(503, message=in_context("engine unavailable", getattr(exc, "message", None) or str(exc)))


def _description(p: NpcPersona) -> str:
    parts = [x for x in (p.persona.title and f"{p.persona.name}, {p.persona.title}.",
                         p.persona.description, p.persona.personality) if x]
    return "\n".join(parts)


def _locks(ctx: Ctx) -> weakref.WeakValueDictionary[str, asyncio.Lock]:
    st = ctx.app.state
    locks = getattr(st, "npc_locks", None)
    if locks is None:
        locks = st.npc_locks = weakref.WeakValueDictionary()
    return locks


def _lock_for(ctx: Ctx, persona_id: str, user_session_id: str, machine_id: str) -> asyncio.Lock:
    """The lock that serialises the turns of one session (user, persona, session, machine)."""
    key = f"{ctx.user.id}\x00{persona_id}\x00{user_session_id}\x00{machine_id}"
    locks = _locks(ctx)
    lock = locks.get(key)
    if lock is None:
        lock = asyncio.Lock()
        locks[key] = lock
    return lock


async def _write(engine: Any, prompt: Any, seed: int, max_tokens: int | None = None) -> AsyncIterator[str]:
    """The NPC's line. An LLM engine's is capped at ``max_tokens`` and trimmed to its last
    complete sentence; the scripted engine says the authored line as it is."""
    from ..engines import EngineUnavailable, capped_sentences

    try:
        if engine.name == "scripted" or max_tokens is None:
            async for chunk in engine.stream(prompt, temperature=0.8, max_tokens=None, seed=seed):
                yield chunk
            return
        gen = engine.stream(prompt, temperature=0.8, max_tokens=max_tokens, seed=seed)
        async for chunk in capped_sentences(gen, max_tokens):
            yield chunk
    except EngineUnavailable as exc:
        raise _unavailable(exc) from None


async def _decide(engine: Any, mach: Machine, dprompt: Any, choices: list[str],
                  rules: list[dict[str, Any]], message: str) -> Any:
    """The turn's decision under the machine's ``decide`` mode (README, "Decision mode")."""
    from ..engines import Decision, decide
    from ..engines.scripted import rule_decision

    if engine.name == "scripted" or mach.decide == "rules":
        return Decision(rule_decision(dprompt, choices), "rules")
    if mach.decide == "rules-then-model":
        hit = npc_rules.rule_match(rules, message)
        if hit is not None and hit in choices:
            return Decision(hit, "rules")
    return await decide(engine, dprompt, choices)


def _check_unlocked(ctx: Ctx, p: NpcPersona, mach: Machine, user_session_id: str) -> None:
    if not mach.locked:
        return
    if mach.id in store.unlocked(ctx.db, ctx.user.id, p.id, user_session_id):
        return
    sources = p.unlock_sources(mach.id)
    how = " or ".join(f"finish {src!r} with outcome {out!r}" for src, out in sources) or "an unlock rule"
    raise ApiError(
        409,
        message=f"machine_id: machine {mach.id!r} is locked for this player; {how} to unlock it",
        details={"machine_id": mach.id, "locked": True,
                 "unlocked_by": [{"machine_id": s, "outcome": o} for s, o in sources]},
    )


# --------------------------------------------------------------------------- init-session


@endpoint("POST", "/api/v1/chat/{persona_id}/init-session", scope=SCOPE, query=MachineQuery,
          body=m.NpcInitRequest, response=m.NpcInitResponse, errors=(400, 404, 409, 503),
          summary="Start (or resume) an NPC session; returns the opening line")
async def init_session(ctx: Ctx) -> Any:
    b: m.NpcInitRequest = ctx.body
    p = _persona(ctx, ctx.params["persona_id"])
    mach = _machine(p, ctx.query.machine_id)
    _check_unlocked(ctx, p, mach, b.user_session_id)
    async with _lock_for(ctx, p.id, b.user_session_id, mach.id):
        existing = store.get_session(ctx.db, ctx.user.id, p.id, b.user_session_id, mach.id)
        opening = existing and store.opening_message(ctx.db, existing.id)
        if not opening:
            engine = _engine(ctx)
            line = render_line(mach.opening[0], player_name=b.player_name, player_gender=b.player_gender,
                               npc_name=p.persona.name)
            from ..prompts import npc_prompt

            prompt = npc_prompt(npc_name=p.persona.name, state=mach.initial_state,
                                goal=mach.states[mach.initial_state].goal, lines=[line],
                                player_name=b.player_name, player_gender=b.player_gender,
                                description=_description(p))
            opening = "".join([c async for c in _write(_unpaced(engine), prompt, ctx.settings.seed,
                                                       mach.reply_max_tokens(mach.initial_state))]).strip() or line
        session, _ = store.create_session(
            ctx.db, user_id=ctx.user.id, persona_id=p.id, user_session_id=b.user_session_id,
            machine_id=mach.id, player_name=b.player_name, player_gender=b.player_gender,
            state=SessionState.initial(mach), opening=opening,
        )
        opening = store.opening_message(ctx.db, session.id) or opening
    return m.NpcInitResponse(message=opening, session_id=session.id, player_name=b.player_name,
                             player_gender=b.player_gender, machine_id=mach.id)


# --------------------------------------------------------------------------- message


@dataclass
class _Prepared:
    persona: NpcPersona
    machine: Machine
    session: store.Session
    result: TurnResult
    engine: Any
    reply_prompt: Any
    decision_prompt: Any
    turn_id: str
    message: str
    decision: Any  # engines.Decision
    max_tokens: int


def _live_session(ctx: Ctx, p: NpcPersona, mach: Machine, user_session_id: str) -> store.Session:
    """The session a message goes to, or 404 (never initialised) / 409 (completed, locked)."""
    session = store.get_session(ctx.db, ctx.user.id, p.id, user_session_id, mach.id)
    if session is None:
        raise ApiError(404, message=(f"no NPC session {user_session_id!r} for persona {p.id!r}, machine "
                                     f"{mach.id!r}: call init-session first"))
    if session.state.completed:
        raise ApiError(409, message=(f"machine {mach.id!r} is completed (outcome {session.state.outcome!r});"
                                     " reset the session to play again"),
                       details={"machine_id": mach.id, "outcome": session.state.outcome,
                                "machine_completed": True})
    _check_unlocked(ctx, p, mach, user_session_id)
    return session


async def _prepare(ctx: Ctx, p: NpcPersona, mach: Machine, message: str, user_session_id: str) -> _Prepared:
    """Everything up to the reply text (called with the session's lock held)."""
    from ..engines import EngineUnavailable
    from ..prompts import npc_prompt

    session = _live_session(ctx, p, mach, user_session_id)
    if session.state.state not in mach.states:  # the machine was re-imported without this state
        session.state = SessionState.initial(mach)
    engine = _engine(ctx)
    here = session.state.state
    hist = store.history(ctx.db, session.id, limit=HISTORY_WINDOW)
    hist.append({"role": "player", "content": message})
    rules, default = npc_rules.decision_rules(mach, here, p.intents)
    for rule, t in zip(rules, mach.states[here].transitions, strict=False):
        rule["description"] = npc_rules.describe_transition(t, here, p.intents)
    common = dict(npc_name=p.persona.name, player_name=session.player_name,
                  player_gender=session.player_gender, description=_description(p), history=hist)
    dprompt = npc_prompt(state=here, goal=mach.states[here].goal, decision_rules=rules,
                         default_decision=default, **common)
    try:
        decision = await _decide(engine, mach, dprompt, npc_rules.choices(mach, here), rules, message)
    except EngineUnavailable as exc:
        raise _unavailable(exc) from None
    if decision.source == "rules-fallback":
        log.warning("NPC %s/%s: %s; the authored rules decided", p.id, mach.id, decision.detail)
    result = apply_choice(p, mach, session.state, decision.choice)
    line = render_line(result.line_template, player_name=session.player_name,
                       player_gender=session.player_gender, npc_name=p.persona.name)
    target = mach.states[result.to_state]
    rprompt = npc_prompt(state=result.to_state, goal=target.goal or result.goal, lines=[line], **common)
    return _Prepared(persona=p, machine=mach, session=session, result=result, engine=engine,
                     reply_prompt=rprompt, decision_prompt=dprompt, turn_id=new_id("turn"),
                     message=message, decision=decision, max_tokens=mach.reply_max_tokens(result.to_state))


def _commit(ctx: Ctx, prep: _Prepared, reply: str) -> dict[str, Any]:
    r = prep.result
    line = render_line(r.line_template, player_name=prep.session.player_name,
                       player_gender=prep.session.player_gender, npc_name=prep.persona.persona.name)
    reply = reply.strip() or line
    unlocks = [(mid, r.session.outcome or "") for mid in r.unlocked_candidates]
    try:
        newly = store.record_turn(
            ctx.db, prep.session, turn_id=prep.turn_id, player_message=prep.message, npc_message=reply,
            new_state=r.session, unlocks=unlocks, unlocked_by=prep.machine.id,
            prompt={**prep.reply_prompt.to_json(), "decision_prompt": prep.decision_prompt.to_json(),
                    "choice": r.choice, "engine": prep.engine.name,
                    "model": getattr(prep.engine, "model", None), "reply": reply,
                    "decide": prep.machine.decide, "decision_source": prep.decision.source,
                    "structured_output": prep.decision.structured_output,
                    "decision_detail": prep.decision.detail,
                    "max_tokens": None if prep.engine.name == "scripted" else prep.max_tokens},
        )
    except store.StaleSession:
        raise ApiError(409, message="the session changed during this turn (reset?); send the message again",
                       details={"machine_id": prep.machine.id}) from None
    s = r.session
    out = NpcMessageOut(
        message=reply, current_state=s.state, score=_num(s.score), outcome=s.outcome, decision=r.decision,
        follow_up=r.follow_up, redirect_count=s.redirect_count, session_id=prep.session.id,
        scoring_mode=prep.machine.scoring_mode, machine_completed=s.completed, unlocked_machines=newly,
        score_delta=_num(r.score_delta), state_path=list(s.state_path), turn_id=prep.turn_id,
        engine=prep.engine.name, machine_id=prep.machine.id,
        redirect_limit_exceeded=r.redirect_limit_exceeded, transition=r.choice,
        decide=prep.machine.decide, decision_source=prep.decision.source,
        structured_output=prep.decision.structured_output,
    )
    data = out.model_dump(mode="json")
    data["score"], data["score_delta"] = _num(s.score), _num(r.score_delta)  # 1, not 1.0 (seed 001)
    return data


@endpoint("POST", "/api/v1/chat/{persona_id}/message", scope=SCOPE, query=MessageQuery,
          body=m.NpcMessageRequest, response=NpcMessageOut, errors=(400, 404, 409, 503), idempotent=True,
          summary="Send a player message; the NPC's reply with its state machine data (?stream=true: SSE)")
async def message(ctx: Ctx) -> Any:
    b: m.NpcMessageRequest = ctx.body
    p = _persona(ctx, ctx.params["persona_id"])
    mach = _machine(p, ctx.query.machine_id)
    lock = _lock_for(ctx, p.id, b.user_session_id, mach.id)
    if not ctx.query.stream:
        async with lock:
            prep = await _prepare(ctx, p, mach, b.message, b.user_session_id)
            reply = "".join([c async for c in _write(_unpaced(prep.engine), prep.reply_prompt, ctx.settings.seed,
                                                     prep.max_tokens)])
            return _commit(ctx, prep, reply)

    # Streamed: the usual errors (404, 409, 400) come before the first byte as plain JSON; the
    # turn itself runs inside the stream under the session's lock (released if the client goes
    # away, and never taken if the stream is not started); later failures are an `error` event.
    _live_session(ctx, p, mach, b.user_session_id)

    async def events() -> AsyncIterator[bytes]:
        async with lock:
            try:
                prep = await _prepare(ctx, p, mach, b.message, b.user_session_id)
                parts: list[str] = []
                async for chunk in _write(prep.engine, prep.reply_prompt, ctx.settings.seed, prep.max_tokens):
                    parts.append(chunk)
                    yield sse("delta", {"text": chunk})
                out = _commit(ctx, prep, "".join(parts))
            except ApiError as exc:
                yield sse("error", exc.body())
                return
            except Exception:  # noqa: BLE001 - the status line is sent; report in-band
                log.exception("NPC stream failed")
                yield sse("error", ApiError(500, message="internal server error (see the server log)").body())
                return
        yield sse("done", out)

    # closing: a cut/abandoned stream must release the session lock at once, not at GC time
    return sse_response(events(), ctx.request)


# --------------------------------------------------------------------------- history / reset


@endpoint("GET", "/api/v1/chat/{persona_id}/history", scope=SCOPE, query=SessionQuery,
          response=m.NpcHistory, errors=(400, 404),
          summary="The messages of an NPC session (default: the primary machine)")
async def get_history(ctx: Ctx) -> Any:
    q: SessionQuery = ctx.query
    p = _persona(ctx, ctx.params["persona_id"])
    mach = _machine(p, q.machine_id)
    session = store.get_session(ctx.db, ctx.user.id, p.id, q.user_session_id, mach.id)
    if session is None:
        raise ApiError(404, message=f"no NPC session {q.user_session_id!r} for persona {p.id!r}, machine {mach.id!r}")
    return m.NpcHistory(session_id=session.id, machine_id=mach.id,
                        messages=[m.NpcHistoryMessage(**x) for x in store.history(ctx.db, session.id)])


@endpoint("POST", "/api/v1/chat/{persona_id}/reset", scope=SCOPE, query=SessionQuery,
          response=m.NpcResetResponse, errors=(400, 404),
          summary="Clear a session's history and return it to the initial state (all machines, or machine_id)")
async def reset(ctx: Ctx) -> Any:
    q: SessionQuery = ctx.query
    p = _persona(ctx, ctx.params["persona_id"])
    if q.machine_id is not None:
        mach = _machine(p, q.machine_id)
        s = store.get_session(ctx.db, ctx.user.id, p.id, q.user_session_id, mach.id)
        sessions = [s] if s else []
        clear = None
    else:
        sessions = store.sessions_of(ctx.db, ctx.user.id, p.id, q.user_session_id)
        clear = (ctx.user.id, p.id, q.user_session_id)  # a full reset forgets the unlocks too
    if not sessions:
        raise ApiError(404, message=f"no NPC session {q.user_session_id!r} for persona {p.id!r}"
                       + (f", machine {q.machine_id!r}" if q.machine_id else ""))
    initial: dict[str, SessionState] = {}
    for s in sessions:
        mach = p.machine(s.machine_id)
        initial[s.id] = SessionState.initial(mach) if mach else SessionState(state=s.state.state)
    locks = [_lock_for(ctx, p.id, q.user_session_id, s.machine_id) for s in sessions]
    for lk in locks:
        await lk.acquire()
    try:
        store.reset_sessions(ctx.db, sessions, initial, clear_unlocks=clear)
    finally:
        for lk in locks:
            lk.release()
    primary = next((s for s in sessions if s.machine_id == p.primary_machine), sessions[0])
    return m.NpcResetResponse(reset=True, session_id=primary.id)


# --------------------------------------------------------------------------- local extensions


def _persona_json(ctx: Ctx, p: NpcPersona, user_session_id: str | None) -> dict[str, Any]:
    doc = p.to_public()
    doc["id"] = p.id
    doc["name"] = p.persona.name
    doc["primary_machine"] = p.primary_machine
    for mdoc in doc["machines"]:
        mdoc["outcomes"] = p.machine(mdoc["id"]).outcomes()  # type: ignore[union-attr]
        mdoc["unlocked_by"] = [{"machine_id": s, "outcome": o} for s, o in p.unlock_sources(mdoc["id"])]
    if user_session_id is not None:
        unl = store.unlocked(ctx.db, ctx.user.id, p.id, user_session_id)
        sessions = {s.machine_id: s for s in store.sessions_of(ctx.db, ctx.user.id, p.id, user_session_id)}
        for mdoc in doc["machines"]:
            s = sessions.get(mdoc["id"])
            mdoc["player"] = {
                "unlocked": (not mdoc["locked"]) or mdoc["id"] in unl,
                "session_id": s.id if s else None,
                "current_state": s.state.state if s else None,
                "score": _num(s.state.score) if s else None,
                "redirect_count": s.state.redirect_count if s else None,
                "outcome": s.state.outcome if s else None,
                "machine_completed": s.state.completed if s else False,
                "state_path": s.state.state_path if s else [],
            }
    return doc


@endpoint("GET", "/api/v1/local/npcs", scope=SCOPE, query=NpcListQuery, response=NpcList,
          summary="NPC personas with their machines (local extension)")
async def list_npcs(ctx: Ctx) -> Any:
    uid = ctx.query.user_session_id
    return {"data": [_persona_json(ctx, p, uid) for p in store.list_personas(ctx.db)]}


@endpoint("GET", "/api/v1/local/npcs/{persona_id}", scope=SCOPE, query=NpcListQuery,
          response=m.NpcInfo, errors=(404,), summary="One NPC persona with its machines and the player's progress (local extension)")
async def get_npc(ctx: Ctx) -> Any:
    return _persona_json(ctx, _persona(ctx, ctx.params["persona_id"]), ctx.query.user_session_id)


@endpoint("PUT", "/api/v1/local/admin/npcs/{persona_id}", scope="admin", errors=(400,),
          summary="Import an NPC persona with its machines (phantom-npc/1 document; local extension)")
async def put_npc(ctx: Ctx) -> Any:
    data = await read_json(ctx.request)  # 413 over MAX_BODY, 400 (with details) if not JSON
    pid = ctx.params["persona_id"]
    if isinstance(data, dict) and isinstance(data.get("persona"), dict) and data["persona"].get("id") != pid:
        raise ApiError(400, message=f"persona.id: {data['persona'].get('id')!r} does not match the path's {pid!r}",
                       details=[{"loc": ["body", "persona", "id"], "msg": "must match the path"}])
    try:
        p = store.save_persona(ctx.db, data, source=f"PUT {pid}")
    except MachineError as exc:
        raise ApiError(400, message=str(exc), details=[{"loc": ["body"], "msg": str(exc)}]) from None
    return _persona_json(ctx, p, None)


@endpoint("DELETE", "/api/v1/local/admin/npcs/{persona_id}", scope="admin", errors=(404,),
          summary="Remove an imported NPC persona (local extension)")
async def delete_npc(ctx: Ctx) -> Any:
    pid = ctx.params["persona_id"]
    if not store.delete_persona(ctx.db, pid):
        raise not_found("imported NPC persona", pid)
    return {"deleted": True, "id": pid}


@endpoint("POST", "/api/v1/local/npcs/{persona_id}/fork", scope=SCOPE, body=m.NpcForkRequest,
          response=m.NpcForkResponse, status=201, errors=(400, 404, 409),
          summary="Fork an NPC session at turn N: a new session with its first N turns and its state "
                  "as of then (local extension)")
async def fork(ctx: Ctx) -> Any:
    b: m.NpcForkRequest = ctx.body
    p = _persona(ctx, ctx.params["persona_id"])
    mach = _machine(p, b.machine_id)
    source = store.get_session(ctx.db, ctx.user.id, p.id, b.user_session_id, mach.id)
    if source is None:
        raise ApiError(404, message=f"no NPC session {b.user_session_id!r} for persona {p.id!r}, "
                       f"machine {mach.id!r}")
    async with _lock_for(ctx, p.id, b.user_session_id, mach.id):
        try:
            new, turns = store.fork_session(ctx.db, source, new_user_session_id=b.new_user_session_id,
                                            at=b.at, initial=SessionState.initial(mach))
        except store.ForkError as exc:
            details = [{"loc": ["body", exc.field], "msg": exc.message}] if exc.field else None
            raise ApiError(exc.status, message=exc.message, details=details) from None
    s = new.state
    return m.NpcForkResponse(session_id=new.id, user_session_id=new.user_session_id,
                             from_user_session_id=source.user_session_id, machine_id=mach.id, at=b.at,
                             source_turns=turns, current_state=s.state, score=_num(s.score),
                             outcome=s.outcome, machine_completed=s.completed,
                             state_path=list(s.state_path))


routes = [init_session, message, get_history, reset, list_npcs, get_npc, put_npc, delete_npc, fork]
