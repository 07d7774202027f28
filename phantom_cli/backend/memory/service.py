"""Memory for companion chat: retrieval on every turn, cadence-gated extraction as a job.

``MemoryService`` (one per app, ``memory_service(app)``) ties the vector store, the embedder,
the cadence counter and the ``memory.extract`` job together.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from .. import jobs
from ..db import now, transaction
from ..engines import get_engine, setting
from ..scratchpad import companion_key, update_scratchpad_facts
from .embedder import embedder_for
from .extraction import Fact, extract
from .store import DEFAULT_FLOOR, DEFAULT_TOP_K, Hit, VectorStore

log = logging.getLogger("phantom.backend.memory")

JOB_KIND = "memory.extract"
MAX_PENDING = 50  # user messages kept for the next extraction of a chat


@dataclass
class Retrieval:
    hits: list[Hit] = field(default_factory=list)
    profile: dict[str, Any] | None = None

    @property
    def texts(self) -> list[str]:
        return [h.text for h in self.hits]


@dataclass
class CadenceResult:
    enqueued: bool
    job_id: str | None
    user_turns: int


class MemoryService:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.store = VectorStore()

    @property
    def settings(self) -> Any:
        return self.app.state.settings

    def embedder(self) -> Any:
        engine = get_engine(self.settings) if setting(self.settings, "engine_embedding_model") else None
        return embedder_for(self.settings, engine)

    # ------------------------------------------------------------------ retrieval

    async def retrieve(
        self, conn: sqlite3.Connection, user_id: str, chat_id: str, query: str,
        *, k: int = DEFAULT_TOP_K, floor: float = DEFAULT_FLOOR,
    ) -> Retrieval:
        emb = self.embedder()
        hits: list[Hit] = []
        if query.strip() and self.store.has_memories(conn, user_id, chat_id, emb.name):
            await self._warm(user_id, chat_id, emb.name)
            vec = (await emb.aembed([query]))[0]
            hits = self.store.search(conn, user_id, chat_id, vec, emb.name, k=k, floor=floor)
        return Retrieval(hits, self.store.profile(conn, user_id, chat_id))

    async def _warm(self, user_id: str, chat_id: str, embedder: str) -> None:
        if not self.store.is_cached(user_id, chat_id, embedder):
            from ..app import run_in_thread

            await run_in_thread(self.store.warm, str(self.settings.db_path), user_id, chat_id, embedder)

    # ------------------------------------------------------------------ cadence

    def note_turn(
        self,
        conn: sqlite3.Connection,
        user_id: str,
        chat_id: str,
        *,
        persona_name: str,
        user_message: str,
        write_back: bool,
        turn_id: str | None = None,
    ) -> CadenceResult:
        """Count a user turn of ``chat_id``; on every ``memory_cadence``-th turn queue extraction.

        Every answered turn counts (refused turns are not passed here). Only turns with
        ``write_back`` add their message to what the next extraction reads, and a job is
        queued only on a cadence turn that allows write-back and has something to read.
        """
        cadence = max(1, int(setting(self.settings, "memory_cadence", 3)))
        ts = now()
        with transaction(conn):
            row = conn.execute(
                "SELECT user_turns, pending FROM companion_chat WHERE user_id = ? AND chat_id = ?",
                (user_id, chat_id),
            ).fetchone()
            turns = (int(row["user_turns"]) if row else 0) + 1
            pending: list[str] = json.loads(row["pending"]) if row else []
            if write_back:
                pending = [*pending, user_message][-MAX_PENDING:]
            job_id = None
            if write_back and turns % cadence == 0 and pending:
                job_id = jobs.enqueue(conn, JOB_KIND, {
                    "user_id": user_id, "chat_id": chat_id, "persona_name": persona_name,
                    "messages": pending, "turn_id": turn_id,
                })
                pending = []
            conn.execute(
                "INSERT INTO companion_chat(user_id, chat_id, user_turns, eligible_turns, pending, persona_name,"
                " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)"
                " ON CONFLICT(user_id, chat_id) DO UPDATE SET user_turns = excluded.user_turns,"
                " eligible_turns = companion_chat.eligible_turns + ?, pending = excluded.pending,"
                " persona_name = excluded.persona_name, updated_at = excluded.updated_at",
                (user_id, chat_id, turns, int(write_back), json.dumps(pending, ensure_ascii=False),
                 persona_name, ts, ts, int(write_back)),
            )
        if job_id:
            jobs.notify(self.app)
        return CadenceResult(job_id is not None, job_id, turns)

    # ------------------------------------------------------------------ extraction job

    async def run_extraction(self, payload: dict[str, Any], job_id: str) -> list[tuple[Fact, str]]:
        user_id, chat_id = str(payload["user_id"]), str(payload["chat_id"])
        messages = [str(m) for m in payload.get("messages") or []]
        conn: sqlite3.Connection = self.app.state.db
        profile = self.store.profile(conn, user_id, chat_id)
        facts = await extract(get_engine(self.settings), messages, profile)
        results: list[tuple[Fact, str]] = []
        if facts:
            emb = self.embedder()
            vectors = await emb.aembed([f.text for f in facts])
            await self._warm(user_id, chat_id, emb.name)  # duplicate checks read the matrix
            for fact, vec in zip(facts, vectors, strict=True):
                outcome = self.store.apply_fact(
                    conn, user_id, chat_id, slot=fact.slot, key=fact.key, value=fact.value,
                    text=fact.text, vector=vec, embedder=emb.name, job_id=job_id,
                )
                results.append((fact, outcome))
            self.store.rebuild_profile(conn, user_id, chat_id)
            self._sync_scratchpads(conn, user_id, chat_id, str(payload.get("persona_name") or ""), facts)
        log.info("extraction %s for %s/%s: %s", job_id, user_id, chat_id,
                 ", ".join(f"{f.slot}={o}" for f, o in results) or "no facts")
        return results

    def _sync_scratchpads(self, conn: sqlite3.Connection, user_id: str, chat_id: str,
                          persona_name: str, facts: list[Fact]) -> None:
        """Keep the companion's and the conversation's scratchpads up to date with the facts.

        Keyed lines (``slot:key``) so a changed fact replaces its line instead of adding one.
        """
        lines: list[tuple[str, str]] = []
        for f in facts:
            key = f.slot if not f.key else f"{f.slot}:{f.key}"
            if f.slot in ("likes", "dislikes"):
                key = f"pref:{f.key}"
            lines.append((key, f.text))
        update_scratchpad_facts(conn, user_id, conversation_id=chat_id, facts=lines)
        if persona_name:
            update_scratchpad_facts(conn, user_id, companion_id=companion_key(persona_name), facts=lines)


def memory_service(app: Any) -> MemoryService:
    svc: MemoryService | None = getattr(app.state, "memory", None)
    if svc is None:
        svc = MemoryService(app)
        app.state.memory = svc
    return svc


async def _extraction_job(app: Any, payload: dict[str, Any], job_id: str) -> None:
    await memory_service(app).run_extraction(payload, job_id)


EXTRACTION = jobs.JobKind(JOB_KIND, _extraction_job)  # listed in registry.JOB_KINDS


async def startup(app: Any) -> None:
    """Start-up hook (registry.STARTUP): the app's memory service exists before any request."""
    memory_service(app)
