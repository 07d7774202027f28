"""Forks, export, import and the tree of branches, for every kind of conversation.

One implementation for the CLI (``phantom transcripts …``, ``phantom npc fork``) and the TUI
("fork here"). Knows the async client; never Typer, Rich or Textual. docs/transcripts.md
describes the files and formats; what a fork means for each kind:

- companion chat: a new chat_id whose local transcript starts with a ``fork`` line and a copy of
  the first N turns (same turn ids, every alternative kept). The server keeps memories per
  chat_id: the new chat starts with none (the copied turns travel as context, as always; memories
  the original extracted are not copied — some come from turns after the fork point).
- NPC session: the local backend's ``POST /local/npcs/{persona}/fork`` copies the session's
  opening, first N turns and its state as of turn N (local extension; the hosted API has none).
- activity instance: a new instance of the same activity, the first N turns' messages copied with
  the messages API (new message ids; their alternatives go to the new instance's side file).

``--at N`` counts turns (a user message and its reply); the opening/greeting is always kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .portable import Entry, Log, build_tree, now_iso, shared_entries
from .transcripts import Transcript, list_transcripts, new_turn_id

if TYPE_CHECKING:
    from phantom_cli.client import AsyncPhantom


class BranchError(ValueError):
    """A fork/export/import that cannot be done: ``field`` names the input at fault; ``code``:
    "usage", "not_found", "conflict" or "unavailable" (the CLI maps it to an exit code)."""

    def __init__(self, message: str, *, field: str | None = None, code: str = "usage",
                 hint: str | None = None) -> None:
        super().__init__(message)
        self.field, self.code, self.hint = field, code, hint


@dataclass(frozen=True)
class Ref:
    """Which conversation: its kind and id (NPC: the user_session_id, with persona/machine)."""

    kind: str
    id: str
    persona: str | None = None
    machine: str | None = None

    @property
    def label(self) -> str:
        if self.kind == "npc":
            return f"NPC session {self.id} ({self.persona})"
        return f"{'companion chat' if self.kind == 'companion' else 'instance'} {self.id}"


def npc_key(persona: str, user_session_id: str, machine: str | None) -> str:
    """The name of an NPC session's local side file."""
    return f"{persona}:{machine or '-'}:{user_session_id}"


def side_file(ref: Ref) -> Transcript:
    """The local file of ``ref`` (the whole chat for a companion; the side file otherwise)."""
    if ref.kind == "companion":
        return Transcript(ref.id)
    if ref.kind == "npc":
        return Transcript(npc_key(ref.persona or "", ref.id, ref.machine), kind="npc")
    return Transcript(ref.id, kind="instance")


# --------------------------------------------------------------------------- resolving an id


async def resolve(client: AsyncPhantom | None, ident: str, kind: str | None = None,
                  persona: str | None = None, machine: str | None = None) -> Ref:
    """Which conversation ``ident`` names: a companion chat_id (a local transcript), an NPC
    user_session_id (a session on the server for ``persona``, or for any NPC the local backend
    knows), or an activity instance id. More than one: BranchError asking for ``--kind``."""
    from phantom_cli.client.errors import NotFoundError, PhantomError

    found: list[Ref] = []
    if kind in (None, "companion") and Transcript(ident).events():
        found.append(Ref("companion", ident))
    if kind in (None, "instance") and client is not None:
        try:
            await client.instances.get(ident)
            found.append(Ref("instance", ident))
        except (NotFoundError, PhantomError):
            pass
    if kind in (None, "npc") and client is not None:
        personas: list[str] = []
        if persona:
            personas = [persona]
        elif getattr(client, "backend", "local") == "local":
            try:
                npcs = await client.local.npcs(user_session_id=ident)
                personas = [n.id for n in npcs.data
                            if any(mc.player and mc.player.session_id for mc in n.machines)]
            except PhantomError:
                personas = []
        for pid in personas:
            try:
                await client.npc.history(pid, user_session_id=ident, machine_id=machine)
                found.append(Ref("npc", ident, pid, machine))
            except (NotFoundError, PhantomError):
                continue
    if not found:
        what = kind or "companion chat, NPC session or instance"
        raise BranchError(f"no {what} {ident!r}", field="ID", code="not_found",
                          hint="companion chats: phantom companion transcript --list; "
                               "instances: phantom instances list; NPC sessions: --persona P")
    if len(found) > 1:
        names = ", ".join(r.label for r in found)
        kinds = sorted({r.kind for r in found})
        hint = ("pass --kind " + "|".join(kinds)) if len(kinds) > 1 else "pass --persona"
        raise BranchError(f"{ident!r} is ambiguous: {names}", field="ID", hint=hint)
    return found[0]


# --------------------------------------------------------------------------- loading


def companion_log(chat_id: str, user_name: str, *, with_retracted: bool = False) -> Log:
    t = Transcript(chat_id)
    turns = t.all_turns() if with_retracted else t.turns()
    title = next((x.persona for x in reversed(turns) if x.persona), None) or chat_id
    entries = [
        Entry(id=x.id, user=None if x.greeting else x.user, reply=x.reply, swipes=list(x.swipes),
              swipe_id=x.swipe_id, at=x.at or None, replied_at=x.replied_at,
              swipe_at=list(x.swipe_at), parent=x.parent, retracted=x.retracted)
        for x in turns
    ]
    return Log("companion", chat_id, title, user_name, entries,
               created_at=turns[0].at if turns else None, fork=_fork_of(t))


def _fork_of(t: Transcript) -> dict[str, Any] | None:
    head = t.fork_header()
    if head is None:
        return None
    return {k: head.get(k) for k in ("from", "from_kind", "at_turn", "shared", "parent",
                                     "persona", "machine") if head.get(k) is not None}


async def npc_log(client: AsyncPhantom, ref: Ref, user_name: str) -> Log:
    hist = await client.npc.history(ref.persona or "", user_session_id=ref.id,
                                    machine_id=ref.machine)
    title = ref.persona or "NPC"
    if getattr(client, "backend", "local") == "local":
        from phantom_cli.client.errors import PhantomError

        try:
            title = (await client.local.npc(ref.persona or "")).name or title
        except PhantomError:
            pass
    entries: list[Entry] = []
    for i, msg in enumerate(hist.messages):
        tid = getattr(msg, "turn_id", None) or (msg.model_extra or {}).get("turn_id")
        if msg.role == "player":
            entries.append(Entry(id=tid or f"{ref.id}#{i}", user=msg.content, reply=None,
                                 at=msg.created_at))
        elif entries and not entries[-1].greeting and entries[-1].reply is None:
            e = entries[-1]
            e.reply, e.swipes, e.replied_at, e.state = msg.content, [msg.content], msg.created_at, msg.state
        else:
            entries.append(Entry(id=tid or f"{ref.id}#{i}", user=None, reply=msg.content,
                                 swipes=[msg.content], at=msg.created_at,
                                 replied_at=msg.created_at, state=msg.state))
    # the side file is named by the machine the server answered for (never None)
    side = side_file(Ref("npc", ref.id, ref.persona, hist.machine_id))
    log = Log("npc", ref.id, title, user_name, entries,
              created_at=entries[0].at if entries else None,
              meta={"persona": ref.persona, "machine": hist.machine_id,
                    "session_id": hist.session_id},
              fork=_fork_of(side))
    _apply_swipes(log, side)
    return log


async def instance_log(client: AsyncPhantom, instance_id: str, user_name: str) -> Log:
    from .core import InstanceChat

    chat = InstanceChat(client, instance_id)
    inst = await client.instances.get(instance_id)
    messages = await chat.messages()
    entries: list[Entry] = []
    for msg in messages:
        if msg.role == "system":
            continue
        if msg.role == "user":
            entries.append(Entry(id=msg.id, user=msg.content, reply=None, at=msg.created_at))
        elif entries and not entries[-1].greeting and entries[-1].reply is None:
            e = entries[-1]
            e.reply, e.swipes, e.replied_at = msg.content, [msg.content], msg.created_at
            e.state = None
            e.parent = msg.id  # the assistant message's id (for the swipes of the side file)
        else:
            entries.append(Entry(id=msg.id, user=None, reply=msg.content, swipes=[msg.content],
                                 at=msg.created_at, replied_at=msg.created_at, parent=msg.id))
    if inst.snapshot_first_message and not (entries and entries[0].greeting):
        # the activity's opening message is shown first but not stored (as the chat shows it)
        first = inst.snapshot_first_message
        entries.insert(0, Entry(id=f"{instance_id}#greeting", user=None, reply=first,
                                swipes=[first], at=inst.created_at, replied_at=inst.created_at))
    side = side_file(Ref("instance", instance_id))
    log = Log("instance", instance_id, inst.snapshot_title or instance_id, user_name, entries,
              created_at=inst.created_at, meta={"activity_id": inst.activity_id},
              fork=_fork_of(side))
    _apply_swipes(log, side, by_reply_id=True)
    for e in log.entries:
        e.parent = None
    return log


def _apply_swipes(log: Log, side: Transcript, *, by_reply_id: bool = False) -> None:
    """Put the alternatives kept in a side file (``swipes`` events) on their entries, when the
    server's text is still one of them."""
    records: dict[str, dict[str, Any]] = {}
    for ev in side.events():
        if ev.get("event") == "swipes" and isinstance(ev.get("swipes"), list):
            records[ev["id"]] = ev
    if not records:
        return
    for e in log.entries:
        key = e.parent if by_reply_id else e.id
        ev = records.get(key or "")
        if ev is None or e.reply is None:
            continue
        swipes = [x for x in ev["swipes"] if isinstance(x, str)]
        if e.reply in swipes:
            e.swipes, e.swipe_id = swipes, swipes.index(e.reply)
            at = ev.get("swipe_at")
            if isinstance(at, list) and len(at) == len(swipes):
                e.swipe_at = [str(x) for x in at]


async def load(client: AsyncPhantom | None, ref: Ref, user_name: str,
               *, with_retracted: bool = False) -> Log:
    if ref.kind == "companion":
        return companion_log(ref.id, user_name, with_retracted=with_retracted)
    if client is None:  # pragma: no cover - callers connect first
        raise BranchError("a client is needed for server-kept conversations")
    if ref.kind == "npc":
        return await npc_log(client, ref, user_name)
    return await instance_log(client, ref.id, user_name)


# --------------------------------------------------------------------------- forks


def _check_at(at: int | None, log: Log) -> int:
    n = log.turns
    if at is None:
        return n
    if at < 0 or at > n:
        raise BranchError(f"--at: {log.id!r} has {n} turn{'s' if n != 1 else ''}; "
                          f"--at must be 0–{n}", field="--at")
    return at


def _header(kind: str, new_id: str, source: Log, at: int, shared: int,
            extra: dict[str, Any] | None = None) -> dict[str, Any]:
    head: dict[str, Any] = {
        "event": "fork", "id": new_turn_id(), "kind": kind, "chat_id": new_id,
        "from": source.id, "from_kind": source.kind, "at_turn": at, "shared": shared,
        "parent": source.entries[shared - 1].id if shared else None,
    }
    head.update(extra or {})
    head["at"] = now_iso()
    return head


def fork_companion(chat_id: str, at: int | None, new_chat_id: str, user_name: str = "") -> Log:
    """A new companion chat ``new_chat_id`` with the first ``at`` turns of ``chat_id``."""
    from .transcripts import _CHAT_ID_RE

    if not _CHAT_ID_RE.match(new_chat_id):
        raise BranchError(f"--as: {new_chat_id!r} is not a valid chat_id (letters, digits, "
                          "_ . : @ -; 1–128 characters, starting with a letter or digit)",
                          field="--as")
    source = companion_log(chat_id, user_name)
    if not source.entries:
        raise BranchError(f"no companion chat {chat_id!r}", field="ID", code="not_found")
    at = _check_at(at, source)
    target = Transcript(new_chat_id)
    if target.events():
        raise BranchError(f"--as: companion chat {new_chat_id!r} exists already", field="--as",
                          code="conflict", hint="choose another name")
    shared = shared_entries(source.entries, at)
    keep = {e.id for e in source.entries[:shared]}
    src = Transcript(chat_id)
    events: list[dict[str, Any]] = [_header("companion", new_chat_id, source, at, shared)]
    prev: str | None = None
    for ev in src.events():
        if ev.get("id") not in keep or ev.get("event") in ("retracted", "fork"):
            continue
        ev = dict(ev)
        if ev.get("event") in ("user", "greeting"):
            ev["chat_id"], ev["parent"] = new_chat_id, prev
            prev = ev["id"]
        events.append(ev)
    target.write_events(events)
    return companion_log(new_chat_id, user_name)


async def fork_npc(client: AsyncPhantom, persona: str, session: str, at: int | None,
                   new_session: str, machine: str | None = None, user_name: str = "") -> Log:
    """A new NPC session ``new_session`` with the first ``at`` turns of ``session`` and its
    state as of then (local backend only)."""
    from phantom_cli.client.errors import NotFoundError

    if getattr(client, "backend", "local") != "local":
        raise BranchError("forking an NPC session is not available on the hosted API (it is a "
                          "local backend extension)", code="unavailable")
    ref = Ref("npc", session, persona, machine)
    source = await npc_log(client, ref, user_name)
    at = _check_at(at, source)
    try:
        resp = await client.local.npc_fork(persona, user_session_id=session,
                                           new_user_session_id=new_session, at=at,
                                           machine_id=machine)
    except NotFoundError as e:
        if "npcs/" in str(e) and "fork" in str(e):  # pragma: no cover - an older local server
            raise BranchError("this server cannot fork NPC sessions", code="unavailable") from e
        raise
    shared = shared_entries(source.entries, at)
    side = side_file(Ref("npc", new_session, persona, resp.machine_id))
    side.write_events([_header("npc", npc_key(persona, new_session, resp.machine_id), source, at,
                               shared, {"persona": persona, "machine": resp.machine_id})])
    _copy_swipes(side_file(Ref("npc", session, persona, resp.machine_id)), side,
                 {e.id: e.id for e in source.entries[:shared]})
    return await npc_log(client, Ref("npc", new_session, persona, machine), user_name)


def _copy_swipes(src: Transcript, dst: Transcript, ids: dict[str, str]) -> None:
    """Copy the ``swipes`` records of ``ids`` (old id → new id) from one side file to another."""
    out = []
    for ev in src.events():
        if ev.get("event") == "swipes" and ev.get("id") in ids:
            out.append({**ev, "id": ids[ev["id"]]})
    if out:
        dst.write_events(out)


async def fork_instance(client: AsyncPhantom, instance_id: str, at: int | None,
                        user_name: str = "") -> Log:
    """A new instance of the same activity with the first ``at`` turns' messages copied."""
    source = await instance_log(client, instance_id, user_name)
    at = _check_at(at, source)
    shared = shared_entries(source.entries, at)
    src_messages = [m for m in await _messages(client, instance_id) if m.role != "system"]
    # the messages of the first `shared` entries: everything before the (at+1)-th user message
    copy: list[Any] = []
    users = 0
    for m in src_messages:
        if m.role == "user":
            if users == at:
                break
            users += 1
        copy.append(m)
    inst = await client.instances.create(source.meta["activity_id"])
    new_ids: dict[str, str] = {}
    try:
        copy = await _reuse_greeting(client, inst.id, copy, new_ids)
        for m in copy:
            made = await client.instances.messages.create(inst.id, content=m.content,
                                                          role=m.role)
            new_ids[m.id] = made.id
    except BaseException:
        try:
            await client.instances.archive(inst.id)
        finally:
            raise
    side = side_file(Ref("instance", inst.id))
    side.write_events([_header("instance", inst.id, source, at, shared,
                               {"activity_id": source.meta["activity_id"]})])
    _copy_swipes(side_file(Ref("instance", instance_id)), side, new_ids)
    return await instance_log(client, inst.id, user_name)


async def _reuse_greeting(client: AsyncPhantom, instance_id: str, copy: list[Any],
                          new_ids: dict[str, str]) -> list[Any]:
    """A new instance may start with its activity's greeting stored (the local backend stores
    it): the copy's leading greeting takes its place (its text updated when it differs) instead
    of being added after it. The messages still to create."""
    if not copy or copy[0].role != "assistant":
        return copy
    stored = [m for m in await _messages(client, instance_id) if m.role != "system"]
    if not stored or stored[0].role != "assistant":
        return copy
    first = copy[0]
    if stored[0].content != first.content:
        await client.instances.messages.update(instance_id, stored[0].id, content=first.content)
    new_ids[first.id] = stored[0].id
    return copy[1:]


async def _messages(client: AsyncPhantom, instance_id: str) -> list[Any]:
    from .core import InstanceChat

    return await InstanceChat(client, instance_id).messages()


# --------------------------------------------------------------------------- tree


async def family(client: AsyncPhantom | None, ref: Ref, user_name: str) -> list[Log]:
    """``ref``'s conversation with every fork of it and of its forks (and what it was forked
    from, up to the first), sources before forks."""
    logs: dict[str, Log] = {}

    async def get(r: Ref) -> Log | None:
        key = f"{r.kind}:{r.persona}:{r.id}"
        if key not in logs:
            try:
                logs[key] = await load(client, r, user_name, with_retracted=True)
            except Exception:  # noqa: BLE001 - a fork deleted on the server: left out
                return None
        return logs[key]

    root = ref
    seen = {root.id}
    while True:  # up to the first conversation
        log = await get(root)
        if log is None or not log.fork or not log.fork.get("from") or log.fork["from"] in seen:
            break
        root = Ref(root.kind, str(log.fork["from"]), root.persona, root.machine)
        seen.add(root.id)
    children = _forks_on_disk(ref.kind, ref.persona)
    ordered: list[Log] = []
    queue = [root]
    done: set[str] = set()
    while queue:
        r = queue.pop(0)
        if r.id in done:
            continue
        done.add(r.id)
        log = await get(r)
        if log is None:
            continue
        ordered.append(log)
        for child_id, head in children:
            if head.get("from") == r.id and child_id not in done:
                queue.append(Ref(r.kind, child_id, r.persona, head.get("machine") or r.machine))
    return ordered


def _forks_on_disk(kind: str, persona: str | None) -> list[tuple[str, dict[str, Any]]]:
    """``(id, fork header)`` of every local conversation of ``kind`` that is a fork."""
    from .transcripts import _read_events, fork_header, transcripts_dir

    out: list[tuple[str, dict[str, Any]]] = []
    if kind == "companion":
        for chat_id, path, _n in list_transcripts():
            head = fork_header(_read_events(path)[0])
            if head:
                out.append((chat_id, head))
        return out
    base = transcripts_dir() / kind
    if not base.is_dir():
        return out
    for path in sorted(base.glob("*.jsonl")):
        head = fork_header(_read_events(path)[0])
        if not head:
            continue
        if kind == "npc":
            if persona and head.get("persona") != persona:
                continue
            key = str(head.get("chat_id", ""))
            out.append((key.split(":", 2)[-1], head))
        else:
            out.append((str(head.get("chat_id")), head))
    return out


async def tree(client: AsyncPhantom | None, ref: Ref, user_name: str) -> dict[str, Any]:
    logs = await family(client, ref, user_name)
    roots, empty = build_tree(logs)
    return {
        "kind": ref.kind,
        "id": ref.id,
        "persona": ref.persona,
        "title": logs[0].title if logs else ref.id,
        "conversations": [
            {"id": x.id, "turns": x.turns, "forked_from": x.fork} for x in logs
        ],
        "roots": roots,
        "empty": empty,
    }


# --------------------------------------------------------------------------- import


def import_companion(log: Log, chat_id: str) -> Log:
    """Write ``log`` (from ``portable.parse_sillytavern``) as the companion chat ``chat_id``."""
    from .transcripts import _CHAT_ID_RE

    if not _CHAT_ID_RE.match(chat_id):
        raise BranchError(f"--chat-id: {chat_id!r} is not a valid chat_id", field="--chat-id")
    target = Transcript(chat_id)
    if target.events():
        raise BranchError(f"--chat-id: companion chat {chat_id!r} exists already",
                          field="--chat-id", code="conflict",
                          hint="choose another --chat-id (or clear it: phantom companion "
                               f"transcript --chat-id {chat_id} --clear)")
    events: list[dict[str, Any]] = []
    prev: str | None = None
    for e in log.entries:
        tid = new_turn_id()
        kind = "greeting" if e.greeting else "user"
        first = e.alternatives()[0] if e.greeting else e.user
        alts = e.alternatives()
        dates = e.swipe_at if len(e.swipe_at) == len(alts) else [e.replied_at or e.at] * len(alts)
        when = (dates[0] if e.greeting and dates else e.at) or now_iso()
        events.append({"event": kind, "id": tid, "parent": prev, "chat_id": chat_id,
                       "content": first, "persona": log.title, "at": when})
        for i, alt in enumerate(alts):
            if e.greeting and i == 0:
                continue
            events.append({"event": "reply", "id": tid, "content": alt,
                           "at": dates[i] or now_iso(), "moderation": {}, "memory": {},
                           "extraction_enqueued": None})
        if alts and e.swipe_id != len(alts) - 1:
            events.append({"event": "swipe", "id": tid, "swipe_id": e.swipe_id,
                           "at": now_iso()})
        prev = tid
    target.write_events(events)
    return companion_log(chat_id, log.user_name)


async def import_instance(client: AsyncPhantom, log: Log, activity_id: str) -> Log:
    """A new instance of ``activity_id`` holding ``log``'s messages (the chosen alternative of
    each reply; every alternative is kept in the instance's side file)."""
    inst = await client.instances.create(activity_id)
    records: list[dict[str, Any]] = []
    try:
        stored = [m for m in await _messages(client, inst.id) if m.role != "system"]
        greeting = stored[0] if stored and stored[0].role == "assistant" else None
        for i, e in enumerate(log.entries):
            if e.user is not None:
                await client.instances.messages.create(inst.id, content=e.user, role="user")
            if e.reply is not None and i == 0 and e.greeting and greeting is not None:
                # the activity's stored greeting becomes the imported one
                if greeting.content != e.reply:
                    await client.instances.messages.update(inst.id, greeting.id, content=e.reply)
                made = greeting
            elif e.reply is not None:
                made = await client.instances.messages.create(inst.id, content=e.reply,
                                                              role="assistant")
            else:
                continue
            if len(e.alternatives()) > 1:
                records.append({"event": "swipes", "id": made.id,
                                "swipes": e.alternatives(), "swipe_id": e.swipe_id,
                                "swipe_at": e.swipe_at, "at": now_iso()})
    except BaseException:
        try:
            await client.instances.archive(inst.id)
        finally:
            raise
    if records:
        side_file(Ref("instance", inst.id)).write_events(records)
    return await instance_log(client, inst.id, log.user_name)
