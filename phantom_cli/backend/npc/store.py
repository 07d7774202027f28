"""NPC persistence (area ``npc``): personas imported by an admin, sessions, histories, unlocks.

A session is one machine run of one player: unique per (user, persona, user_session_id,
machine). Its :class:`~.runner.SessionState` is stored as JSON with a ``version`` that every
turn bumps (compare-and-set), and a turn's writes — the player's message, the NPC's reply, the
new state, unlocks, the prompt — go in one transaction, so a crash never leaves half a turn.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any

from ..db import Migration, new_id, now, transaction
from .machine import MachineError, NpcPersona, parse_persona, shipped_personas
from .runner import SessionState

NPC_V1 = """
CREATE TABLE npc_sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    persona_id TEXT NOT NULL,
    user_session_id TEXT NOT NULL,
    machine_id TEXT NOT NULL,
    player_name TEXT NOT NULL,
    player_gender TEXT NOT NULL,
    state TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (user_id, persona_id, user_session_id, machine_id)
);
CREATE TABLE npc_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES npc_sessions(id) ON DELETE CASCADE,
    turn_id TEXT,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    state TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX npc_messages_session ON npc_messages(session_id, seq);
CREATE TABLE npc_unlocks (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    persona_id TEXT NOT NULL,
    user_session_id TEXT NOT NULL,
    machine_id TEXT NOT NULL,
    unlocked_by TEXT NOT NULL,
    outcome TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, persona_id, user_session_id, machine_id)
);
CREATE TABLE npc_turns (
    turn_id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES npc_sessions(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    prompt TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""

# Imported personas live in the content area's ``npc_personas`` table (phantom_cli.backend.content).
MIGRATIONS = (Migration("npc", 1, "npc sessions, messages, unlocks, turns", NPC_V1),)


class StaleSession(Exception):
    """The session changed between read and write (a concurrent turn or reset)."""


# --------------------------------------------------------------------------- personas

_shipped: dict[str, NpcPersona] | None = None
_db_cache: dict[str, tuple[str, NpcPersona]] = {}
_lock = threading.Lock()


def _shipped_personas() -> dict[str, NpcPersona]:
    global _shipped
    with _lock:
        if _shipped is None:
            _shipped = shipped_personas()
        return _shipped


def _from_row(row: sqlite3.Row) -> NpcPersona:
    key = row["id"]
    cached = _db_cache.get(key)
    if cached and cached[0] == row["updated_at"]:
        return cached[1]
    p = parse_persona(json.loads(row["data"]), source=f"npc_personas:{key}")
    _db_cache[key] = (row["updated_at"], p)
    return p


def get_persona(conn: sqlite3.Connection, persona_id: str) -> NpcPersona | None:
    """An imported persona (the admin's copy wins) or a shipped one."""
    row = conn.execute(
        "SELECT id, data, updated_at FROM npc_personas WHERE id = ?", (persona_id,)
    ).fetchone()
    if row is not None:
        try:
            return _from_row(row)
        except MachineError:
            pass  # validated on save; a bad row falls back to the shipped copy
    return _shipped_personas().get(persona_id)


def list_personas(conn: sqlite3.Connection) -> list[NpcPersona]:
    out = dict(_shipped_personas())
    for row in conn.execute("SELECT id, data, updated_at FROM npc_personas ORDER BY id"):
        try:
            out[row["id"]] = _from_row(row)
        except MachineError:
            continue
    return [out[k] for k in sorted(out)]


def save_persona(conn: sqlite3.Connection, persona: NpcPersona | dict[str, Any], source: str = "") -> NpcPersona:
    """Import (insert or replace) a persona with its machines; validates first.

    Writes through the content area's ``import_npc_persona`` (one writer of ``npc_personas``).
    Running sessions keep their state; a session whose state no longer exists in the new
    machine restarts from the initial state on its next turn.
    """
    from ..content import ContentError, import_npc_persona

    doc = persona.to_public() if isinstance(persona, NpcPersona) else persona
    try:
        pid = import_npc_persona(conn, doc, source=source or "<import>")
    except ContentError as exc:
        raise MachineError(str(exc)) from None
    p = get_persona(conn, pid)
    assert p is not None
    return p


def delete_persona(conn: sqlite3.Connection, persona_id: str) -> bool:
    """Remove an imported persona (a shipped one with the same id shows again)."""
    return conn.execute("DELETE FROM npc_personas WHERE id = ?", (persona_id,)).rowcount > 0


# --------------------------------------------------------------------------- sessions


@dataclass(slots=True)
class Session:
    id: str
    user_id: str
    persona_id: str
    user_session_id: str
    machine_id: str
    player_name: str
    player_gender: str
    state: SessionState
    version: int
    created_at: str
    updated_at: str


def _session(row: sqlite3.Row) -> Session:
    return Session(
        id=row["id"],
        user_id=row["user_id"],
        persona_id=row["persona_id"],
        user_session_id=row["user_session_id"],
        machine_id=row["machine_id"],
        player_name=row["player_name"],
        player_gender=row["player_gender"],
        state=SessionState.from_json(json.loads(row["state"])),
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def get_session(
    conn: sqlite3.Connection, user_id: str, persona_id: str, user_session_id: str, machine_id: str
) -> Session | None:
    row = conn.execute(
        "SELECT * FROM npc_sessions WHERE user_id = ? AND persona_id = ? AND user_session_id = ?"
        " AND machine_id = ?",
        (user_id, persona_id, user_session_id, machine_id),
    ).fetchone()
    return _session(row) if row else None


def sessions_of(
    conn: sqlite3.Connection, user_id: str, persona_id: str, user_session_id: str
) -> list[Session]:
    rows = conn.execute(
        "SELECT * FROM npc_sessions WHERE user_id = ? AND persona_id = ? AND user_session_id = ?"
        " ORDER BY created_at, id",
        (user_id, persona_id, user_session_id),
    ).fetchall()
    return [_session(r) for r in rows]


def create_session(
    conn: sqlite3.Connection,
    *,
    user_id: str,
    persona_id: str,
    user_session_id: str,
    machine_id: str,
    player_name: str,
    player_gender: str,
    state: SessionState,
    opening: str,
) -> tuple[Session, bool]:
    """Create the session with its opening line; ``(session, created)``.

    If it exists already (a re-init, maybe concurrent), the existing one comes back with the
    player's name and gender updated; its state and history are kept.
    """
    with transaction(conn):
        existing = get_session(conn, user_id, persona_id, user_session_id, machine_id)
        ts = now()
        if existing is not None:
            conn.execute(
                "UPDATE npc_sessions SET player_name = ?, player_gender = ?, updated_at = ? WHERE id = ?",
                (player_name, player_gender, ts, existing.id),
            )
            existing.player_name, existing.player_gender = player_name, player_gender
            if not has_messages(conn, existing.id):  # re-init after a reset: say the opening again
                _add_message(conn, existing.id, None, "npc", opening, state.state, ts, state)
            return existing, False
        sid = "sess_" + new_id("x")[2:]
        conn.execute(
            "INSERT INTO npc_sessions(id, user_id, persona_id, user_session_id, machine_id,"
            " player_name, player_gender, state, version, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,0,?,?)",
            (sid, user_id, persona_id, user_session_id, machine_id, player_name, player_gender,
             json.dumps(state.to_json()), ts, ts),
        )
        _add_message(conn, sid, None, "npc", opening, state.state, ts, state)
    created = get_session(conn, user_id, persona_id, user_session_id, machine_id)
    assert created is not None
    return created, True


def opening_message(conn: sqlite3.Connection, session_id: str) -> str | None:
    row = conn.execute(
        "SELECT content FROM npc_messages WHERE session_id = ? AND role = 'npc' AND turn_id IS NULL"
        " ORDER BY seq LIMIT 1",
        (session_id,),
    ).fetchone()
    return row["content"] if row else None


def has_messages(conn: sqlite3.Connection, session_id: str) -> bool:
    return conn.execute("SELECT 1 FROM npc_messages WHERE session_id = ? LIMIT 1", (session_id,)).fetchone() is not None


def _add_message(
    conn: sqlite3.Connection, session_id: str, turn_id: str | None, role: str, content: str, state: str, ts: str,
    snapshot: SessionState | None = None,
) -> None:
    conn.execute(
        "INSERT INTO npc_messages(session_id, turn_id, role, content, state, created_at, snapshot)"
        " VALUES (?,?,?,?,?,?,?)",
        (session_id, turn_id, role, content, state, ts,
         json.dumps(snapshot.to_json()) if snapshot is not None else None),
    )


def record_turn(
    conn: sqlite3.Connection,
    session: Session,
    *,
    turn_id: str,
    player_message: str,
    npc_message: str,
    new_state: SessionState,
    unlocks: list[tuple[str, str]],
    unlocked_by: str,
    prompt: dict[str, Any] | None,
) -> list[str]:
    """Write one turn atomically; returns the machines newly unlocked by it.

    Raises :class:`StaleSession` if the session changed since it was read.
    """
    with transaction(conn):
        ts = now()
        cur = conn.execute(
            "UPDATE npc_sessions SET state = ?, version = version + 1, updated_at = ?"
            " WHERE id = ? AND version = ?",
            (json.dumps(new_state.to_json()), ts, session.id, session.version),
        )
        if cur.rowcount != 1:
            raise StaleSession(session.id)
        _add_message(conn, session.id, turn_id, "player", player_message, session.state.state, ts)
        _add_message(conn, session.id, turn_id, "npc", npc_message, new_state.state, now(), new_state)
        newly: list[str] = []
        for machine_id, outcome in unlocks:
            c = conn.execute(
                "INSERT OR IGNORE INTO npc_unlocks(user_id, persona_id, user_session_id, machine_id,"
                " unlocked_by, outcome, created_at) VALUES (?,?,?,?,?,?,?)",
                (session.user_id, session.persona_id, session.user_session_id, machine_id,
                 unlocked_by, outcome, ts),
            )
            if c.rowcount == 1:
                newly.append(machine_id)
        if prompt is not None:
            conn.execute(
                "INSERT INTO npc_turns(turn_id, session_id, user_id, prompt, created_at) VALUES (?,?,?,?,?)",
                (turn_id, session.id, session.user_id, json.dumps(prompt, ensure_ascii=False), ts),
            )
    session.version += 1
    session.state = new_state
    return newly


def history(conn: sqlite3.Connection, session_id: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The session's messages, oldest first (the last ``limit`` if given)."""
    if limit is None:
        rows = conn.execute(
            "SELECT role, content, created_at, state, turn_id FROM npc_messages WHERE session_id = ? ORDER BY seq",
            (session_id,),
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT * FROM (SELECT seq, role, content, created_at, state, turn_id FROM npc_messages"
            " WHERE session_id = ? ORDER BY seq DESC LIMIT ?) ORDER BY seq",
            (session_id, limit),
        ).fetchall()
    return [{"role": r["role"], "content": r["content"], "created_at": r["created_at"], "state": r["state"],
             "turn_id": r["turn_id"]} for r in rows]


class ForkError(Exception):
    """A fork that cannot be made: ``status`` (400, 409) and a message naming the field."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def fork_session(
    conn: sqlite3.Connection, source: Session, *, new_user_session_id: str, at: int,
    initial: SessionState,
) -> tuple[Session, int]:
    """A new session ``new_user_session_id`` whose first ``at`` turns are ``source``'s (local
    extension): the opening and the first ``at`` player/NPC exchanges are copied (turn ids kept),
    its state is ``source``'s as it stood after turn ``at`` (the snapshot kept with that NPC
    message; ``initial`` for 0), and the unlocks of ``source``'s user_session_id that the fork
    has earned too are copied. Returns the new session and how many turns ``source`` has."""
    with transaction(conn):
        if get_session(conn, source.user_id, source.persona_id, new_user_session_id, source.machine_id):
            raise ForkError(409, f"as: session {new_user_session_id!r} exists already for persona "
                            f"{source.persona_id!r}, machine {source.machine_id!r}; choose another name "
                            "or reset it", "new_user_session_id")
        rows = conn.execute(
            "SELECT seq, turn_id, role, content, state, created_at, snapshot FROM npc_messages"
            " WHERE session_id = ? ORDER BY seq", (source.id,),
        ).fetchall()
        turns = sum(1 for r in rows if r["role"] == "player")
        if at > turns:
            raise ForkError(400, f"at: the session has {turns} turn(s); at must be 0–{turns}", "at")
        keep: list[sqlite3.Row] = []
        seen = 0
        for r in rows:
            if r["role"] == "player":
                if seen == at:
                    break
                seen += 1
            keep.append(r)
        if at == turns:
            state = source.state
        elif at == 0:
            state = initial
        else:
            last = keep[-1] if keep else None
            if last is None or last["role"] != "npc" or not last["snapshot"]:
                raise ForkError(409, f"at: turn {at} was played before this backend kept the state of "
                                f"each turn; fork at the last turn ({turns}) or at 0", "at")
            state = SessionState.from_json(json.loads(last["snapshot"]))
        ts = now()
        sid = "sess_" + new_id("x")[2:]
        conn.execute(
            "INSERT INTO npc_sessions(id, user_id, persona_id, user_session_id, machine_id,"
            " player_name, player_gender, state, version, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,0,?,?)",
            (sid, source.user_id, source.persona_id, new_user_session_id, source.machine_id,
             source.player_name, source.player_gender, json.dumps(state.to_json()), ts, ts),
        )
        for r in keep:
            conn.execute(
                "INSERT INTO npc_messages(session_id, turn_id, role, content, state, created_at, snapshot)"
                " VALUES (?,?,?,?,?,?,?)",
                (sid, r["turn_id"], r["role"], r["content"], r["state"], r["created_at"], r["snapshot"]),
            )
        for u in conn.execute(
            "SELECT machine_id, unlocked_by, outcome, created_at FROM npc_unlocks"
            " WHERE user_id = ? AND persona_id = ? AND user_session_id = ?",
            (source.user_id, source.persona_id, source.user_session_id),
        ).fetchall():
            if u["unlocked_by"] == source.machine_id and not state.completed:
                continue  # earned by a later turn than the fork keeps
            conn.execute(
                "INSERT OR IGNORE INTO npc_unlocks(user_id, persona_id, user_session_id, machine_id,"
                " unlocked_by, outcome, created_at) VALUES (?,?,?,?,?,?,?)",
                (source.user_id, source.persona_id, new_user_session_id, u["machine_id"],
                 u["unlocked_by"], u["outcome"], u["created_at"]),
            )
    created = get_session(conn, source.user_id, source.persona_id, new_user_session_id, source.machine_id)
    assert created is not None
    return created, turns


def reset_sessions(conn: sqlite3.Connection, sessions: list[Session], initial: dict[str, SessionState],
                   clear_unlocks: tuple[str, str, str] | None = None) -> None:
    """Clear the sessions' histories and put them back in their initial state."""
    with transaction(conn):
        ts = now()
        for s in sessions:
            conn.execute("DELETE FROM npc_messages WHERE session_id = ?", (s.id,))
            conn.execute(
                "UPDATE npc_sessions SET state = ?, version = version + 1, updated_at = ? WHERE id = ?",
                (json.dumps(initial[s.id].to_json()), ts, s.id),
            )
        if clear_unlocks is not None:
            conn.execute(
                "DELETE FROM npc_unlocks WHERE user_id = ? AND persona_id = ? AND user_session_id = ?",
                clear_unlocks,
            )


def unlocked(conn: sqlite3.Connection, user_id: str, persona_id: str, user_session_id: str) -> dict[str, dict[str, str]]:
    rows = conn.execute(
        "SELECT machine_id, unlocked_by, outcome, created_at FROM npc_unlocks"
        " WHERE user_id = ? AND persona_id = ? AND user_session_id = ?",
        (user_id, persona_id, user_session_id),
    ).fetchall()
    return {r["machine_id"]: {"unlocked_by": r["unlocked_by"], "outcome": r["outcome"],
                              "created_at": r["created_at"]} for r in rows}


def turn_prompt(conn: sqlite3.Connection, user_id: str, turn_id: str) -> dict[str, Any] | None:
    """The prompt stored for an NPC turn of this user (for ``/local/prompts/{turn_id}``)."""
    row = conn.execute(
        "SELECT prompt FROM npc_turns WHERE turn_id = ? AND user_id = ?", (turn_id, user_id)
    ).fetchone()
    return json.loads(row["prompt"]) if row else None


def count_messages(conn: sqlite3.Connection, user_id: str | None = None) -> int:
    """Messages stored across sessions (benchmarks count lost/duplicated turns with it)."""
    if user_id is None:
        return int(conn.execute("SELECT COUNT(*) FROM npc_messages").fetchone()[0])
    return int(conn.execute(
        "SELECT COUNT(*) FROM npc_messages m JOIN npc_sessions s ON s.id = m.session_id WHERE s.user_id = ?",
        (user_id,),
    ).fetchone()[0])
