"""Conversations as data: export (md, jsonl, SillyTavern), import (SillyTavern) and the tree.

Standard library only. A :class:`Log` is any conversation — a companion chat (from its local
transcript), an NPC session or an activity instance (from the server, see ``branches``) — as a
list of :class:`Entry` records: one user message and the reply to it, the reply being the
chosen one of its alternatives (``swipes``/``swipe_id``, as SillyTavern keeps them). An entry
without a user message is a greeting. docs/transcripts.md documents every format here.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

KINDS = ("companion", "npc", "instance")
FORMATS = ("md", "jsonl", "sillytavern")
JSONL_FORMAT = "phantom-transcript/1"
MAX_CONTENT = 16000  # seed 000 / the messages API: content 1–16000 characters


@dataclass
class Entry:
    """One turn: the user's message (None for a greeting) and the chosen reply (None: none)."""

    id: str
    user: str | None
    reply: str | None
    swipes: list[str] = field(default_factory=list)
    swipe_id: int = 0
    at: str | None = None  # when the user's message (or the greeting) was written
    replied_at: str | None = None
    swipe_at: list[str] = field(default_factory=list)
    state: str | None = None  # NPC: the state after the turn
    parent: str | None = None
    retracted: bool = False

    @property
    def greeting(self) -> bool:
        return self.user is None

    def alternatives(self) -> list[str]:
        """The reply's alternatives (at least the chosen reply itself, when there is one)."""
        if self.swipes:
            return list(self.swipes)
        return [self.reply] if self.reply is not None else []


@dataclass
class Log:
    """A whole conversation: what it is, who speaks, its turns; ``fork``: where it branched."""

    kind: str
    id: str
    title: str  # the character's name
    user_name: str
    entries: list[Entry] = field(default_factory=list)
    created_at: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    fork: dict[str, Any] | None = None

    @property
    def turns(self) -> int:
        """How many turns (user messages) it has: what ``--at N`` counts."""
        return sum(1 for e in self.entries if not e.greeting)


def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def shared_entries(entries: list[Entry], at: int) -> int:
    """How many of ``entries`` a fork at turn ``at`` keeps: every entry up to and including
    the ``at``-th user turn (greetings before it included; at 0 the leading greetings)."""
    seen = 0
    for i, e in enumerate(entries):
        if not e.greeting:
            if seen == at:
                return i
            seen += 1
    return len(entries)


# --------------------------------------------------------------------------- export


def _messages(log: Log) -> Iterable[dict[str, Any]]:
    """One dict a message (user then reply), with ids and parent ids."""
    parent: str | None = None
    for e in log.entries:
        if e.user is not None:
            mid = f"{e.id}:user"
            yield {"id": mid, "turn": e.id, "parent": parent, "role": "user",
                   "name": log.user_name, "content": e.user, "at": e.at}
            parent = mid
        if e.reply is not None:
            mid = f"{e.id}:reply"
            msg: dict[str, Any] = {"id": mid, "turn": e.id, "parent": parent,
                                   "role": "assistant", "name": log.title, "content": e.reply,
                                   "swipes": e.alternatives(), "swipe_id": e.swipe_id,
                                   "at": e.replied_at or e.at}
            if e.greeting:
                msg["greeting"] = True
            if e.state:
                msg["state"] = e.state
            yield msg
            parent = mid


def _header(log: Log) -> dict[str, Any]:
    head: dict[str, Any] = {"format": JSONL_FORMAT, "kind": log.kind, "id": log.id,
                            "title": log.title, "user_name": log.user_name,
                            "created_at": log.created_at, "exported_at": now_iso(),
                            "turns": log.turns}
    if log.meta:
        head["meta"] = log.meta
    if log.fork:
        head["forked_from"] = log.fork
    return head


def to_jsonl(log: Log) -> str:
    """phantom's own JSON Lines: a header line, then one message a line (ids, parents)."""
    lines = [_header(log), *_messages(log)]
    return "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines)


def _st_date(iso: str | None) -> str:
    """SillyTavern's ``create_date`` style: ``2026-12-03@19h05m09s``."""
    when = _parse_iso(iso) or _dt.datetime.now(_dt.UTC)
    return when.strftime("%Y-%m-%d@%Hh%Mm%Ss")


def _parse_iso(value: Any) -> _dt.datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:  # SillyTavern also writes epoch milliseconds
            return _dt.datetime.fromtimestamp(value / 1000, _dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value:
        return None
    try:
        when = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=_dt.UTC)


def _iso(value: Any) -> str | None:
    when = _parse_iso(value)
    if when is None:
        return value if isinstance(value, str) and value else None
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_sillytavern(log: Log) -> str:
    """SillyTavern's chat .jsonl: a metadata line (user_name, character_name, create_date,
    chat_metadata), then one message a line (name, is_user, is_system, send_date, mes, extra,
    and for the character's messages swipes, swipe_id, swipe_info)."""
    meta: dict[str, Any] = {"phantom": {"kind": log.kind, "id": log.id, **log.meta}}
    if log.fork:
        meta["phantom"]["forked_from"] = log.fork
    lines: list[dict[str, Any]] = [{
        "user_name": log.user_name,
        "character_name": log.title,
        "create_date": _st_date(log.created_at),
        "chat_metadata": meta,
    }]
    for e in log.entries:
        if e.user is not None:
            lines.append({"name": log.user_name, "is_user": True, "is_system": False,
                          "send_date": e.at or now_iso(), "mes": e.user, "extra": {}})
        if e.reply is not None:
            swipes = e.alternatives()
            dates = [*e.swipe_at, *([e.replied_at or e.at or now_iso()] * len(swipes))]
            lines.append({
                "name": log.title, "is_user": False, "is_system": False,
                "send_date": e.replied_at or e.at or now_iso(), "mes": e.reply, "extra": {},
                "swipes": swipes, "swipe_id": e.swipe_id,
                "swipe_info": [{"send_date": d, "extra": {}} for d in dates[: len(swipes)]],
            })
    return "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines)


def to_markdown(log: Log) -> str:
    """A readable document: a title, then each message under its speaker's name; the other
    alternatives of a reply follow it as a list."""
    what = {"companion": "companion chat", "npc": "NPC session", "instance": "instance"}[log.kind]
    out = [f"# {log.title}", "", f"*{what} `{log.id}` · exported {now_iso()}*"]
    if log.fork:
        out.append(f"*forked from `{log.fork.get('from')}` at turn {log.fork.get('at_turn')}*")
    out.append("")
    for e in log.entries:
        if e.user is not None:
            out += [f"**{log.user_name}:** {e.user}", ""]
        if e.reply is not None:
            swipes = e.alternatives()
            count = f" *({e.swipe_id + 1}/{len(swipes)})*" if len(swipes) > 1 else ""
            state = f" *[{e.state}]*" if e.state else ""
            out += [f"**{log.title}:**{count}{state} {e.reply}", ""]
            for i, alt in enumerate(swipes):
                if i != e.swipe_id:
                    out.append(f"> alternative {i + 1}: {alt}")
            if len(swipes) > 1:
                out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def render(log: Log, fmt: str) -> str:
    if fmt == "md":
        return to_markdown(log)
    if fmt == "jsonl":
        return to_jsonl(log)
    if fmt == "sillytavern":
        return to_sillytavern(log)
    raise ValueError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")


# --------------------------------------------------------------------------- import


class ImportFormatError(ValueError):
    """A SillyTavern file that cannot be imported: ``problems`` is ``[(where, message)]``."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{w}: {m}" for w, m in problems))


@dataclass
class Imported:
    """What a SillyTavern chat file holds, checked: the log, and what was left out."""

    log: Log
    skipped_system: int = 0


def parse_sillytavern(text: str, *, source: str = "file") -> Imported:
    """The chat of a SillyTavern .jsonl (its metadata line, then its messages).

    Every message is checked before anything is imported: a problem names the line and the
    field. System (narrator) messages have no place in a companion chat or an instance: they
    are left out and counted. Consecutive messages of one side become turns of their own (a
    user message without a reply; a reply without a user message)."""
    problems: list[tuple[str, str]] = []
    rows: list[tuple[int, dict[str, Any]]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append((f"{source}:{n}", f"not JSON ({e.msg})"))
            continue
        if not isinstance(obj, dict):
            problems.append((f"{source}:{n}", "expected a JSON object"))
            continue
        rows.append((n, obj))
    if problems:
        raise ImportFormatError(problems)
    if not rows:
        raise ImportFormatError([(source, "empty: no metadata line and no messages")])
    n0, head = rows[0]
    if "mes" in head or not ("user_name" in head or "character_name" in head
                             or "chat_metadata" in head):
        raise ImportFormatError([(f"{source}:{n0}", "the first line must be SillyTavern's "
                                  "metadata line (user_name, character_name, chat_metadata)")])
    user_name = head.get("user_name")
    char_name = head.get("character_name")
    entries: list[Entry] = []
    skipped = 0
    names: list[str] = []
    for n, msg in rows[1:]:
        where = f"{source}:{n}"
        mes = msg.get("mes")
        if not isinstance(mes, str):
            problems.append((f"{where}: mes", "expected a string"))
            continue
        if msg.get("is_system"):
            skipped += 1
            continue
        is_user = msg.get("is_user")
        if not isinstance(is_user, bool):
            problems.append((f"{where}: is_user", "expected true or false"))
            continue
        if not mes.strip():
            problems.append((f"{where}: mes", "empty message (1–16000 characters)"))
            continue
        if len(mes) > MAX_CONTENT:
            problems.append((f"{where}: mes", f"{len(mes)} characters (at most {MAX_CONTENT})"))
            continue
        when = _iso(msg.get("send_date"))
        if is_user:
            entries.append(Entry(id=f"st_{n}", user=mes, reply=None, at=when))
            if isinstance(msg.get("name"), str) and not user_name:
                user_name = msg["name"]
            continue
        if isinstance(msg.get("name"), str):
            names.append(msg["name"])
        swipes = msg.get("swipes")
        swipe_id = msg.get("swipe_id", 0)
        if swipes is None:
            swipes, swipe_id = [mes], 0
        if not isinstance(swipes, list) or not all(isinstance(x, str) for x in swipes):
            problems.append((f"{where}: swipes", "expected a list of strings"))
            continue
        if not swipes:
            swipes, swipe_id = [mes], 0
        if not isinstance(swipe_id, int) or isinstance(swipe_id, bool) or not (
            0 <= swipe_id < len(swipes)
        ):
            problems.append((f"{where}: swipe_id", f"expected 0–{len(swipes) - 1}"))
            continue
        bad = [i for i, x in enumerate(swipes) if not x.strip() or len(x) > MAX_CONTENT]
        if bad:
            problems.append((f"{where}: swipes[{bad[0]}]", "1–16000 characters"))
            continue
        if swipes[swipe_id] != mes:  # SillyTavern keeps mes = swipes[swipe_id]
            swipes = list(swipes)
            swipes[swipe_id] = mes
        info = msg.get("swipe_info")
        swipe_at = [
            _iso(i.get("send_date")) or when or ""
            for i in (info if isinstance(info, list) else [])
            if isinstance(i, dict)
        ]
        if len(swipe_at) != len(swipes):
            swipe_at = [when or ""] * len(swipes)
        last = entries[-1] if entries else None
        if last is not None and not last.greeting and last.reply is None:
            last.reply, last.swipes, last.swipe_id = mes, list(swipes), swipe_id
            last.replied_at, last.swipe_at = when, swipe_at
        else:
            entries.append(Entry(id=f"st_{n}", user=None, reply=mes, swipes=list(swipes),
                                 swipe_id=swipe_id, at=when, replied_at=when, swipe_at=swipe_at))
    if problems:
        raise ImportFormatError(problems)
    if not entries:
        raise ImportFormatError([(source, "no messages to import")])
    title = char_name if isinstance(char_name, str) and char_name else (
        names[0] if names else "character")
    log = Log(kind="companion", id="", title=title,
              user_name=user_name if isinstance(user_name, str) and user_name else "User",
              entries=entries, created_at=_iso(head.get("create_date")))
    meta = head.get("chat_metadata")
    if isinstance(meta, dict):
        log.meta = {"chat_metadata": meta}
    return Imported(log, skipped)


# --------------------------------------------------------------------------- tree


@dataclass
class Node:
    """A turn in the tree of branches: children are the turns that follow it (more than one:
    a branch); ``heads``: the conversations whose last turn it is."""

    id: str
    user: str | None
    reply: str | None
    swipes: int = 1
    swipe_id: int = 0
    state: str | None = None
    retracted: bool = False
    conversations: list[str] = field(default_factory=list)
    heads: list[str] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "user": self.user, "reply": self.reply, "swipes": self.swipes,
            "swipe_id": self.swipe_id, "state": self.state, "retracted": self.retracted,
            "conversations": self.conversations, "heads": self.heads,
            "children": [c.to_json() for c in self.children],
        }


def build_tree(logs: list[Log]) -> tuple[list[Node], list[str]]:
    """The tree of ``logs`` (a conversation and its forks): its root nodes, and the ids of
    conversations with no turn of their own (they end where they were forked).

    A fork shares its first ``fork["shared"]`` entries with its source (companion forks keep
    the same turn ids; server-kept ones are matched by position): its own entries hang under
    ``fork["parent"]``. Retracted turns (an edit, a regenerated turn) are branches too."""
    nodes: dict[str, Node] = {}
    order: list[str] = []
    parent_of: dict[str, str | None] = {}
    empty: list[str] = []

    def add(e: Entry, parent: str | None, conv: str) -> None:
        node = nodes.get(e.id)
        if node is None:
            node = nodes[e.id] = Node(e.id, e.user, e.reply, max(len(e.alternatives()), 1),
                                      e.swipe_id, e.state, e.retracted)
            order.append(e.id)
            parent_of[e.id] = parent
        if conv not in node.conversations and not e.retracted:
            node.conversations.append(conv)

    at: dict[tuple[str, int], str] = {}  # (conversation, position of a live entry) → node

    for log in logs:
        fork = log.fork or {}
        skip = int(fork.get("shared") or 0) if fork else 0
        source = str(fork.get("from")) if fork else ""
        anchor: str | None = None
        if fork:
            anchor = fork.get("parent") if fork.get("parent") in nodes else None
            if anchor is None and skip:
                anchor = at.get((source, skip - 1))
        prev = last_live = anchor
        live = [e for e in log.entries if not e.retracted]
        for i, e in enumerate(live[:skip]):  # shared with the source: the source's nodes
            node_id = e.id if e.id in nodes else at.get((source, i))
            if node_id is not None:
                at[(log.id, i)] = node_id
                if log.id not in nodes[node_id].conversations:
                    nodes[node_id].conversations.append(log.id)
        pos = min(skip, len(live))
        seen_live = 0
        for e in log.entries:
            if not e.retracted:
                seen_live += 1
                if seen_live <= skip:
                    continue
            elif skip and seen_live < skip:
                continue
            # a recorded parent (companion turns: edits are branches) wins over the position
            add(e, e.parent if e.parent is not None and e.parent in nodes else prev, log.id)
            if not e.retracted:
                at[(log.id, pos)] = e.id
                pos += 1
                prev = last_live = e.id
        if last_live is not None and last_live in nodes:
            nodes[last_live].heads.append(log.id)
        else:
            empty.append(log.id)
    roots: list[Node] = []
    for nid in order:
        node = nodes[nid]
        parent = parent_of.get(nid)
        if parent is not None and parent in nodes and parent != nid:
            nodes[parent].children.append(node)
        else:
            roots.append(node)
    return roots, empty
