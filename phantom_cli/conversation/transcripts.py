"""Local transcripts: one JSON-lines file per conversation in ``state_dir()/transcripts/``.

The format is documented in docs/transcripts.md (keep the two in step). In short: companion
chats live here whole (``<chat_id file>.jsonl``); NPC sessions and activity instances are kept by
the server, and their local file (``npc/…``, ``instance/…``) holds only what the server cannot:
where the conversation was forked from, and the alternatives (swipes) of its messages.

``phantom companion say`` keeps the conversation here so consecutive calls continue it: each call
sends the rolling window of recent answered turns plus the new user message (≤ 100 messages,
the last one the user's, and ≤ ``MAX_WINDOW_BYTES`` of encoded text: a guard that never trims a
window the documented limits allow, and keeps the body under the local backend's 16 MiB cap).

The file is an append-only event log, one JSON object a line, each appended with a single
``O_APPEND`` write under an exclusive lock and fsynced:

- ``{"event": "user", "id", "parent", "chat_id", "content", "persona", "at"}`` — written
  *before* the request, so the user's text is never lost; ``parent`` is the turn it follows
  (``null`` for the first), so edits and forks keep the tree of branches;
- ``{"event": "greeting", "id", "parent", "chat_id", "content", "persona", "at"}`` — a message
  of the companion with no user message before it (an imported greeting);
- ``{"event": "reply", "id", "content", "at", "moderation", "memory", "extraction_enqueued"}`` —
  written only after a successful response: only then is the user turn answered. Every reply
  of a turn is kept as one of its alternatives (``swipes``) and becomes the chosen one;
- ``{"event": "swipe", "id", "swipe_id", "at"}`` — another alternative becomes the chosen one;
- ``{"event": "failed", "id", "error", "at"}`` — the request failed; the turn stays unanswered.
- ``{"event": "retracted", "id", "at"}`` — the user replaced the turn (a regenerated reply, an
  edited message): it is no longer shown or sent as context; the file keeps it.
- ``{"event": "fork", "id", "kind", "from", "from_kind", "at_turn", "parent", "at"}`` — the
  first line of a forked conversation: it continues ``from`` after its first ``at_turn`` turns
  (``parent``: the id of the last turn they share).

Files written before ``parent`` existed are read as a chain (each turn's parent is the turn
before it that was not retracted at the time). Unanswered turns are never sent as context.
Retrying the same text after a failure reuses the pending user turn instead of writing a
duplicate. Exchanges whose user message was refused by inbound moderation are kept in the file
but not sent as context again. A torn last line (a crash mid-write) is skipped when reading and
never glued to the next append.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import re
import secrets
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:  # POSIX advisory locks; elsewhere single O_APPEND writes are the only guard
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

MAX_WINDOW = 100  # seed 000: 1–100 messages per request
MAX_CONTENT = 16000  # seed 000: content 1–16000 chars
# UTF-8 JSON bytes of the messages' contents in one request. The client refuses (or trims) only what
# the documented limits refuse: the largest documented window, 100 messages of 16,000 characters,
# is 9.6 MB even if every character is escaped as \uXXXX, so this budget never trims it. It stays
# as a guard below the local backend's 16 MiB body cap (the rest is room for the persona).
MAX_WINDOW_BYTES = 12_000_000
_CHAT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_turn_id() -> str:
    return "t_" + secrets.token_hex(8)


def transcripts_dir() -> Path:
    from phantom_cli.config.paths import state_dir

    return Path(state_dir()) / "transcripts"


def safe_file_name(chat_id: str) -> str:
    """A file name for ``chat_id``: a readable part plus a hash, so distinct ids never collide.

    ``:`` and ``@`` (allowed in a chat_id, awkward on some file systems) become ``_``; the hash of
    the exact id keeps ``a:b`` and ``a_b`` apart.
    """
    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", chat_id)[:80].strip(".") or "chat"
    digest = hashlib.sha256(chat_id.encode("utf-8")).hexdigest()[:12]
    return f"{readable}-{digest}.jsonl"


def chat_id_for(name: str, prefix: str = "") -> str:
    """A valid chat_id derived from a persona name: ``Luna`` → ``luna``; ``月`` → ``companion-…``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9_.@-]+", "-", ascii_name.lower()).strip("-_.@")
    slug = re.sub(r"-{2,}", "-", slug)
    if not slug:
        slug = "companion-" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    out = f"{prefix}{slug}"[:128]
    if not _CHAT_ID_RE.match(out):  # pragma: no cover - the slug above always matches
        out = "companion-" + hashlib.sha256(out.encode("utf-8")).hexdigest()[:12]
    return out


def encoded_size(content: str) -> int:
    """Bytes ``content`` takes in a JSON request body (UTF-8, escapes included, + framing)."""
    # surrogatepass: a lone surrogate (undecodable argv) is refused later by validation, by field
    return len(json.dumps(content, ensure_ascii=False).encode("utf-8", "surrogatepass")) + 32


def recent(
    msgs: list[dict[str, str]], limit: int = MAX_WINDOW - 1, max_bytes: int = MAX_WINDOW_BYTES
) -> list[dict[str, str]]:
    """The newest of ``msgs``: at most ``limit`` of them weighing at most ``max_bytes``
    (encoded); the oldest are dropped first."""
    if limit <= 0:
        return []
    kept: list[dict[str, str]] = []
    budget = max_bytes
    for msg in reversed(msgs[-limit:]):
        budget -= encoded_size(msg["content"])
        if budget < 0:
            break
        kept.append(msg)
    kept.reverse()
    return kept


def fit_window(
    history: list[dict[str, str]],
    text: str,
    limit: int = MAX_WINDOW,
    max_bytes: int = MAX_WINDOW_BYTES,
) -> list[dict[str, str]]:
    """A request's message window: the newest of ``history`` plus the user's ``text`` (always
    kept), at most ``limit`` messages and ``max_bytes`` of content. Shared by
    `phantom companion say` and the TUI, so both stay under the server's limits."""
    room = max(max_bytes - encoded_size(text), 0)
    return [*recent(history, limit - 1, room), {"role": "user", "content": text}]


@dataclass
class Turn:
    """One user message and, if it was answered, the reply (the chosen one of its ``swipes``).

    A ``greeting`` turn is a message of the companion with no user message (``user`` is "").
    """

    id: str
    user: str
    at: str
    reply: str | None = None
    replied_at: str | None = None
    errors: list[str] = field(default_factory=list)
    moderation: dict[str, Any] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)
    extraction_enqueued: bool | None = None
    persona: str | None = None  # the companion's name when the turn was sent (display only)
    parent: str | None = None  # the turn this one follows (None: the first)
    swipes: list[str] = field(default_factory=list)  # every reply it got, oldest first
    swipe_id: int = 0  # which of ``swipes`` is ``reply``
    swipe_at: list[str] = field(default_factory=list)  # when each alternative came
    greeting: bool = False
    retracted: bool = False

    @property
    def answered(self) -> bool:
        return self.reply is not None

    @property
    def refused(self) -> bool:
        return bool(self.moderation.get("inbound_prohibited"))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "parent": self.parent,
            "user": self.user,
            "at": self.at,
            "reply": self.reply,
            "replied_at": self.replied_at,
            "answered": self.answered,
            "swipes": list(self.swipes),
            "swipe_id": self.swipe_id,
            "greeting": self.greeting,
            "errors": self.errors,
            "moderation": self.moderation,
            "memory": self.memory,
            "extraction_enqueued": self.extraction_enqueued,
            "persona": self.persona,
        }


def _read_events(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The well-formed events of the file at ``path``, oldest first, and how many non-blank
    lines were not (a torn last line, say); no file is no events."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    out: list[dict[str, Any]] = []
    skipped = 0
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            skipped += 1
            continue
        if isinstance(ev, dict) and isinstance(ev.get("id"), str) and "event" in ev:
            out.append(ev)
        else:
            skipped += 1
    return out, skipped


def _all_turns(events: list[dict[str, Any]]) -> list[Turn]:
    """Every turn ``events`` make, in order, retracted ones included (``retracted`` set).

    A turn without a recorded ``parent`` (a file from before parents) follows the last turn
    that was not retracted when it was written."""
    by_id: dict[str, Turn] = {}
    order: list[Turn] = []
    live: list[str] = []  # the conversation as it stood, for files without parents
    for ev in events:
        kind, tid = ev.get("event"), ev["id"]
        if kind in ("user", "greeting") and isinstance(ev.get("content"), str) and tid not in by_id:
            parent = ev.get("parent") if "parent" in ev else (live[-1] if live else None)
            t = Turn(id=tid, user="" if kind == "greeting" else ev["content"],
                     at=str(ev.get("at", "")), parent=parent if isinstance(parent, str) else None)
            if isinstance(ev.get("persona"), str):
                t.persona = ev["persona"]
            if kind == "greeting":
                t.greeting = True
                t.reply, t.replied_at = ev["content"], t.at
                t.swipes, t.swipe_at = [ev["content"]], [t.at]
            by_id[tid] = t
            order.append(t)
            live.append(tid)
        elif kind == "reply" and tid in by_id and isinstance(ev.get("content"), str):
            t = by_id[tid]
            t.reply, t.replied_at = ev["content"], str(ev.get("at", ""))
            t.swipes.append(ev["content"])
            t.swipe_at.append(t.replied_at)
            t.swipe_id = len(t.swipes) - 1
            t.moderation = dict(ev.get("moderation") or {})
            t.memory = dict(ev.get("memory") or {})
            t.extraction_enqueued = ev.get("extraction_enqueued")
        elif kind == "swipe" and tid in by_id:
            t = by_id[tid]
            k = ev.get("swipe_id")
            if isinstance(k, int) and not isinstance(k, bool) and 0 <= k < len(t.swipes):
                t.swipe_id, t.reply, t.replied_at = k, t.swipes[k], t.swipe_at[k]
        elif kind == "failed" and tid in by_id:
            by_id[tid].errors.append(str(ev.get("error", "")))
        elif kind == "retracted" and tid in by_id:
            by_id[tid].retracted = True
            if tid in live:
                live.remove(tid)
    return order


def _turns_of(events: list[dict[str, Any]]) -> list[Turn]:
    """The turns ``events`` make, in order; retracted turns are left out."""
    return [t for t in _all_turns(events) if not t.retracted]


def fork_header(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The ``fork`` event of a file (its first line when the conversation is a fork)."""
    return next((ev for ev in events if ev.get("event") == "fork"), None)


class Transcript:
    """The local transcript of one chat_id."""

    def __init__(
        self, chat_id: str, root: str | os.PathLike[str] | None = None, *, kind: str = "companion"
    ) -> None:
        """``kind`` "companion" (the whole chat), or "npc" / "instance": the local side file of
        a server-kept conversation (``chat_id`` is then its user_session_id (with the persona,
        see ``npc_key``) or the instance id)."""
        self.chat_id = chat_id
        self.kind = kind
        base = Path(root) if root is not None else transcripts_dir()
        self.root = base if kind == "companion" else base / kind
        self.path = self.root / safe_file_name(chat_id)
        self.skipped_lines = 0

    def exists(self) -> bool:
        return self.path.exists()

    # ------------------------------------------------------------------ low level

    @contextlib.contextmanager
    def _locked(self) -> Iterator[int]:
        from phantom_cli.config.paths import private_dir

        private_dir(self.root)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _append(self, fd: int, event: dict[str, Any]) -> None:
        data = (json.dumps(event, ensure_ascii=False) + "\n").encode("utf-8")
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data  # never glue a new event onto a torn last line
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)

    def events(self) -> list[dict[str, Any]]:
        """Every well-formed event in the file, oldest first."""
        events, self.skipped_lines = _read_events(self.path)
        return events

    # ------------------------------------------------------------------ reading

    def turns(self) -> list[Turn]:
        """The turns in order; a turn is answered once a ``reply`` event names it. Retracted
        turns are left out."""
        return _turns_of(self.events())

    def all_turns(self) -> list[Turn]:
        """Every turn, retracted ones included (their ``retracted`` is set): the tree."""
        return _all_turns(self.events())

    def fork_header(self) -> dict[str, Any] | None:
        """Where this conversation was forked from (its ``fork`` event), or None."""
        return fork_header(self.events())

    def context(
        self, limit: int = MAX_WINDOW - 1, max_bytes: int = MAX_WINDOW_BYTES
    ) -> list[dict[str, str]]:
        """The most recent answered exchanges as messages: at most ``limit`` of them, whose
        contents weigh at most ``max_bytes`` (UTF-8 JSON); the oldest are dropped first."""
        msgs: list[dict[str, str]] = []
        for t in self.turns():
            if not t.answered or t.refused:
                continue
            pair = (("user", t.user), ("assistant", t.reply or ""))
            for role, content in pair[1:] if t.greeting else pair:
                if content:
                    msgs.append({"role": role, "content": content[:MAX_CONTENT]})
        return recent(msgs, limit, max_bytes)

    def window(
        self, text: str, limit: int = MAX_WINDOW, max_bytes: int = MAX_WINDOW_BYTES
    ) -> list[dict[str, str]]:
        """The messages to send for a new user ``text``: recent context + the text, at most
        ``limit`` messages and ``max_bytes`` of encoded content (the text always included)."""
        return fit_window(self.context(limit - 1, max_bytes), text, limit, max_bytes)

    # ------------------------------------------------------------------ writing

    def begin(self, text: str, persona: str | None = None) -> str:
        """Record the user's ``text`` before sending it; returns the turn id.

        ``persona`` (the companion's name) is kept so the transcript can be shown with it later
        without the persona file. If the last turn is unanswered and has the same text (a
        retry), it is reused: no duplicate user turn is written.
        """
        with self._locked() as fd:
            turns = self.turns()
            if turns and not turns[-1].answered and turns[-1].user == text:
                return turns[-1].id
            return self._new_turn(fd, turns, "user", text, persona)

    def answer(
        self,
        turn_id: str,
        reply: str,
        *,
        moderation: dict[str, Any] | None = None,
        memory: dict[str, Any] | None = None,
        extraction_enqueued: bool | None = None,
    ) -> None:
        """Record the reply to ``turn_id``: from now on the turn is answered."""
        with self._locked() as fd:
            self._append(
                fd,
                {
                    "event": "reply",
                    "id": turn_id,
                    "content": reply,
                    "at": _now(),
                    "moderation": moderation or {},
                    "memory": memory or {},
                    "extraction_enqueued": extraction_enqueued,
                },
            )

    def greet(self, text: str, persona: str | None = None) -> str:
        """Record a message of the companion with no user message before it (a greeting);
        returns its turn id. Alternatives are added with ``answer`` (swipes)."""
        with self._locked() as fd:
            turns = self.turns()
            return self._new_turn(fd, turns, "greeting", text, persona)

    def _new_turn(
        self, fd: int, turns: list[Turn], kind: str, text: str, persona: str | None
    ) -> str:
        """Append a new ``kind`` turn ("user" or "greeting") after the last of ``turns``;
        returns its id. The caller holds the lock (``fd``)."""
        tid = new_turn_id()
        event: dict[str, Any] = {
            "event": kind,
            "id": tid,
            "parent": turns[-1].id if turns else None,
            "chat_id": self.chat_id,
            "content": text,
        }
        if persona:
            event["persona"] = persona
        event["at"] = _now()
        self._append(fd, event)
        return tid

    def choose(self, turn_id: str, swipe_id: int) -> None:
        """Make alternative ``swipe_id`` (0-based) of ``turn_id``'s replies the chosen one: it
        is the one shown, sent as context and exported."""
        with self._locked() as fd:
            self._append(
                fd, {"event": "swipe", "id": turn_id, "swipe_id": int(swipe_id), "at": _now()}
            )

    def write_events(self, events: list[dict[str, Any]]) -> None:
        """Append ``events`` as they are (a fork's copied turns, an import), under one lock."""
        with self._locked() as fd:
            for ev in events:
                self._append(fd, ev)

    def retract(self, turn_id: str) -> None:
        """Take ``turn_id`` out of the conversation (it is replaced: a regenerated reply or an
        edited message is sent as a new turn). It is no longer shown or sent as context."""
        with self._locked() as fd:
            self._append(fd, {"event": "retracted", "id": turn_id, "at": _now()})

    def fail(self, turn_id: str, error: str) -> None:
        """Record that sending ``turn_id`` failed; the turn stays unanswered."""
        with self._locked() as fd:
            self._append(fd, {"event": "failed", "id": turn_id, "error": error, "at": _now()})

    def clear(self) -> int:
        """Delete the transcript; returns how many turns it had."""
        if not self.path.exists():
            return 0
        with self._locked():
            n = len(self.turns())
            self.path.unlink(missing_ok=True)
        return n


def list_transcripts(root: str | os.PathLike[str] | None = None) -> list[tuple[str, Path, int]]:
    """``(chat_id, path, turns)`` of every transcript on disk."""
    base = Path(root) if root is not None else transcripts_dir()
    out: list[tuple[str, Path, int]] = []
    if not base.is_dir():
        return out
    for p in sorted(base.glob("*.jsonl")):
        events, _ = _read_events(p)
        users = (
            ev
            for ev in events
            if ev["event"] in ("user", "greeting", "fork") and isinstance(ev.get("chat_id"), str)
        )
        chat_id = next((ev["chat_id"] for ev in users), None)
        if chat_id:
            out.append((str(chat_id), p, len(_turns_of(events))))  # as `transcript` counts
    return out
