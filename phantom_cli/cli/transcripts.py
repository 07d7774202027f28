"""`phantom transcripts fork|tree|export|import` — conversations as files and branches.

Works on every kind of conversation: a companion chat (its chat_id: the local transcript), an
NPC session (its user_session_id; the persona from --persona, else found on the local backend)
and an activity instance (its id). When an id names more than one, --kind chooses. The formats
and files are documented in docs/transcripts.md.

Start-up rule: typer + stdlib only at module level.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from phantom_cli.cli.common import (
    EXIT_API,
    EXIT_CONFLICT,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    JqOpt,
    JsonOpt,
    fail,
    get_async_client,
    get_settings,
    group_app,
    handle_errors,
    output_mode,
)

app = group_app("transcripts")

KindOpt = Annotated[
    str | None,
    typer.Option(
        "--kind",
        "-k",
        metavar="companion|npc|instance",
        help="What ID names, when it could be more than one.",
    ),
]
PersonaOpt = Annotated[
    str | None,
    typer.Option(
        "--persona",
        metavar="ID",
        help="NPC persona of the session (default: found on the local backend, else the "
        "profile's npc_persona).",
    ),
]
MachineOpt = Annotated[
    str | None,
    typer.Option("--machine", "-m", metavar="ID", help="NPC: the state machine."),
]

_CODES = {"usage": EXIT_USAGE, "not_found": EXIT_NOT_FOUND, "conflict": EXIT_CONFLICT,
          "unavailable": EXIT_API}


def _note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _user_name(ctx: typer.Context) -> str:
    from phantom_cli.conversation.identity import Player

    return Player.resolve(get_settings(ctx).get("player_name")).name


def _kind(kind: str | None) -> str | None:
    from phantom_cli.conversation.portable import KINDS

    if kind is not None and kind not in KINDS:
        fail(f"--kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    return kind


def run(ctx: typer.Context, work: Any, *, needs_client: bool = True) -> Any:
    """Run ``work(client)`` (a coroutine function) on a fresh event loop; BranchError becomes
    a clear error with its exit code."""
    import asyncio

    from phantom_cli.conversation.branches import BranchError

    async def main() -> Any:
        client = get_async_client(ctx) if needs_client else None
        try:
            return await work(client)
        finally:
            if client is not None:
                await client.aclose()

    try:
        return asyncio.run(main())
    except BranchError as e:
        fail(str(e), hint=e.hint, code=_CODES.get(e.code, EXIT_USAGE))


async def _resolve(client: Any, ctx: typer.Context, ident: str, kind: str | None,
                   persona: str | None, machine: str | None) -> Any:
    from phantom_cli.conversation.branches import resolve

    if persona is None and getattr(client, "backend", "local") != "local":
        persona = get_settings(ctx).get("npc_persona")  # hosted: no NPC list to search
    return await resolve(client, ident, kind, persona, machine)


def _on_conversation(ctx: typer.Context, ident: str, kind: str | None, persona: str | None,
                     machine: str | None, name: str, fn: Any) -> Any:
    """``await fn(client, ref, name)`` for the conversation ``ident`` names (see ``run``)."""

    async def work(client: Any) -> Any:
        ref = await _resolve(client, ctx, ident, _kind(kind), persona, machine)
        return await fn(client, ref, name)

    return run(ctx, work, needs_client=kind != "companion")


# --------------------------------------------------------------------------- fork


def _fork_report(out: Any, log: Any, source: str, at: int) -> None:
    from phantom_cli.cli.output import visible

    if out.json:
        out.emit_json({"kind": log.kind, "id": log.id, "from": source, "at": at,
                       "turns": log.turns, "meta": log.meta})
        return
    print(visible(log.id))
    _note(f"forked {log.kind} {visible(source)} at turn {at} → {visible(log.id)} "
          f"({log.turns} turn{'s' if log.turns != 1 else ''})")


def do_fork(ctx: typer.Context, ident: str, at: int | None, new: str | None, kind: str | None,
            persona: str | None, machine: str | None, out: Any) -> None:
    from phantom_cli.conversation import branches

    name = _user_name(ctx)

    async def work(client: Any) -> Any:
        ref = await _resolve(client, ctx, ident, kind, persona, machine)
        if ref.kind == "companion":
            if not new:
                fail("--as: give the new chat_id (phantom transcripts fork ID --at N --as NEW)")
            return branches.fork_companion(ref.id, at, new, name)
        if ref.kind == "npc":
            if not new:
                fail("--as: give the new NPC session id (user_session_id)")
            return await branches.fork_npc(client, ref.persona or "", ref.id, at, new,
                                           ref.machine, name)
        if new:
            _note("note: --as is ignored for an instance (the server names the new instance)")
        return await branches.fork_instance(client, ref.id, at, name)

    log = run(ctx, work, needs_client=kind != "companion")
    fork = log.fork or {}
    _fork_report(out, log, ident, int(fork.get("at_turn", at or 0)))


@app.command(
    "fork",
    epilog="Examples: phantom transcripts fork luna --at 2 --as luna-alt  ·  "
    "phantom transcripts fork inst_123 --at 3  ·  "
    "phantom transcripts fork cli-default-ana --kind npc --persona abc123 --at 1 --as try2",
)
@handle_errors
def fork(
    ctx: typer.Context,
    ident: str = typer.Argument(..., metavar="ID", help="chat_id, NPC session id or instance id."),
    at: int | None = typer.Option(
        None, "--at", metavar="N", help="Keep the first N turns (default: all of them)."
    ),
    new: str | None = typer.Option(
        None, "--as", metavar="NEW", help="The new chat_id / NPC session id (instances: none)."
    ),
    kind: KindOpt = None,
    persona: PersonaOpt = None,
    machine: MachineOpt = None,
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Fork a conversation at turn N: a new one whose first N turns are the original's.

    Companion chat: a new chat_id (local transcript; the server's memories are not copied).
    NPC session: a new session with the state as of turn N (local backend only). Instance: a
    new instance of the same activity with the first N turns' messages. Prints the new id.
    """
    out = output_mode(ctx, json_, jq)
    do_fork(ctx, ident, at, new, _kind(kind), persona, machine, out)


# --------------------------------------------------------------------------- tree


def _short(text: str | None, width: int = 60) -> str:
    from phantom_cli.cli.output import visible

    one = " ".join(visible(text or "").split())
    return one if len(one) <= width else one[: width - 1] + "…"


def _label(node: Any, title: str, user: str) -> list[str]:
    lines = []
    if node.user is not None:
        lines.append(f"{user}: {_short(node.user)}")
    if node.reply is not None:
        extra = f" ({node.swipe_id + 1}/{node.swipes})" if node.swipes > 1 else ""
        state = f" [{_short(node.state, 24)}]" if node.state else ""
        lines.append(f"{title}{extra}{state}: {_short(node.reply)}")
    elif node.user is not None:
        lines.append(f"{title}: (no reply)")
    if node.retracted:
        lines[0] = "(replaced) " + lines[0]
    if node.heads:
        lines.append("◆ " + ", ".join(_short(h, 40) for h in node.heads))
    return lines


def _segments(node: Any) -> tuple[list[Any], list[Any]]:
    """A run of turns without a branch from ``node`` on, and the children where it splits."""
    run_ = [node]
    while len(run_[-1].children) == 1 and not run_[-1].heads:
        run_.append(run_[-1].children[0])
    return run_, run_[-1].children


def _plain(nodes: list[Any], title: str, user: str, prefix: str = "") -> list[str]:
    out: list[str] = []
    for i, node in enumerate(nodes):
        last = i == len(nodes) - 1
        run_, kids = _segments(node)
        branch = len(nodes) > 1 or prefix
        head = ("└─ " if last else "├─ ") if branch else ""
        cont = ("   " if last else "│  ") if branch else ""
        first = True
        for n in run_:
            for line in _label(n, title, user):
                out.append(prefix + (head if first else cont) + line)
                first = False
        out += _plain(kids, title, user, prefix + cont)
    return out


def _rich(nodes: list[Any], title: str, user: str, parent: Any) -> None:
    from rich.text import Text

    for node in nodes:
        run_, kids = _segments(node)
        text = Text()
        for n in run_:
            for line in _label(n, title, user):
                style = "bold" if line.startswith("◆") else ("dim" if n.retracted else "")
                text.append(line + "\n", style=style)
        text.rstrip()
        _rich(kids, title, user, parent.add(text))


@app.command(
    "tree",
    epilog="Examples: phantom transcripts tree luna  ·  phantom transcripts tree inst_123 --json"
    "  ·  phantom transcripts tree cli-default-ana --persona abc123",
)
@handle_errors
def tree(
    ctx: typer.Context,
    ident: str = typer.Argument(..., metavar="ID", help="chat_id, NPC session id or instance id."),
    kind: KindOpt = None,
    persona: PersonaOpt = None,
    machine: MachineOpt = None,
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Print the tree of branches: the conversation, its forks and replaced turns.

    Each box is a run of turns; where it splits, the branches follow; ◆ marks the last turn of
    a conversation (its id). A Rich tree at a terminal, plain text otherwise, JSON with --json.
    """
    from phantom_cli.conversation import branches

    out = output_mode(ctx, json_, jq)
    name = _user_name(ctx)
    data = _on_conversation(ctx, ident, kind, persona, machine, name, branches.tree)
    if out.json:
        out.emit_json({**data, "roots": [r.to_json() for r in data["roots"]]})
        return
    convs = data["conversations"]
    title = data["title"]
    from phantom_cli.cli.output import visible

    title, user = _short(title, 30), _short(name, 30)
    heading = (f"{data['kind']} {visible(ident)} · {len(convs)} conversation"
               f"{'s' if len(convs) != 1 else ''}")
    if out.tty:
        from rich.tree import Tree

        root = Tree(heading)
        _rich(data["roots"], title, user, root)
        out.console().print(root)
    else:
        sys.stdout.write(heading + "\n")
        for line in _plain(data["roots"], title, user):
            sys.stdout.write(line + "\n")
    for empty in data["empty"]:
        _note(f"{visible(empty)}: no turns of its own")


# --------------------------------------------------------------------------- export


@app.command(
    "export",
    epilog="Examples: phantom transcripts export luna --format md  ·  "
    "phantom transcripts export inst_123 --format sillytavern -o chat.jsonl  ·  "
    "phantom transcripts export cli-default-ana --kind npc --format jsonl",
)
@handle_errors
def export(
    ctx: typer.Context,
    ident: str = typer.Argument(..., metavar="ID", help="chat_id, NPC session id or instance id."),
    fmt: str = typer.Option(
        "md", "--format", "-f", metavar="md|jsonl|sillytavern", help="The file format."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", metavar="FILE", help="Write to FILE (default: standard output)."
    ),
    kind: KindOpt = None,
    persona: PersonaOpt = None,
    machine: MachineOpt = None,
) -> None:
    """Export a conversation: Markdown, phantom's JSON Lines, or SillyTavern's chat .jsonl.

    The chosen alternative of each reply is the message; every alternative is kept (md: listed
    under it; jsonl and sillytavern: swipes and swipe_id).
    """
    from phantom_cli.conversation import branches
    from phantom_cli.conversation.portable import FORMATS, render

    if fmt not in FORMATS:
        fail(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    log = _on_conversation(ctx, ident, kind, persona, machine, _user_name(ctx), branches.load)
    text = render(log, fmt)
    if output is not None:
        try:
            _write_file(output, text)
        except OSError as e:
            fail(f"--output: cannot write {output}: {e.strerror or e}")
        _note(f"wrote {log.kind} {ident} ({log.turns} turns, {fmt}) to {output}")
        return
    if fmt == "md":
        from phantom_cli.cli.output import visible

        text = visible(text, keep_newlines=True)
    else:
        from phantom_cli._text import json_safe

        text = json_safe(text)
    sys.stdout.write(text)
    sys.stdout.flush()


# --------------------------------------------------------------------------- import


@app.command(
    "import",
    epilog="Examples: phantom transcripts import chat.jsonl --as companion --chat-id luna-st  ·  "
    "phantom transcripts import chat.jsonl --as instance --activity act_luna",
)
@handle_errors
def import_(
    ctx: typer.Context,
    file: Path = typer.Argument(..., metavar="FILE", help="A SillyTavern chat .jsonl ('-': stdin)."),
    as_: str = typer.Option(..., "--as", metavar="companion|instance", help="What to make of it."),
    chat_id: str | None = typer.Option(
        None, "--chat-id", metavar="ID",
        help="companion: the new chat_id (default: from the character's name).",
    ),
    activity: str | None = typer.Option(
        None, "--activity", metavar="ID", help="instance: the activity to start an instance of."
    ),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Import a SillyTavern chat .jsonl as a companion chat or an instance, swipes included.

    The whole file is checked first (a problem names the line and the field); nothing is
    written unless all of it can be imported. System (narrator) messages are left out. To talk
    on in an imported companion chat: phantom companion say -P PERSONA --chat-id ID.
    """
    from phantom_cli.conversation import branches
    from phantom_cli.conversation.portable import ImportFormatError, parse_sillytavern

    out = output_mode(ctx, json_, jq)
    if as_ not in ("companion", "instance"):
        fail(f"--as: expected companion or instance, got {as_!r}")
    if as_ == "instance" and not activity:
        fail("--activity: an instance needs the activity to start (phantom activities list)")
    if as_ == "companion" and activity:
        fail("--activity is for --as instance")
    if str(file) == "-":
        text, source = sys.stdin.read(), "stdin"
    else:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            fail(f"FILE: cannot read {file}: {getattr(e, 'strerror', None) or e}")
        source = file.name
    try:
        parsed = parse_sillytavern(text, source=source)
    except ImportFormatError as e:
        shown = "; ".join(f"{w}: {m}" for w, m in e.problems[:5])
        more = f" (and {len(e.problems) - 5} more)" if len(e.problems) > 5 else ""
        fail(f"not a SillyTavern chat: {shown}{more}")
    log = parsed.log
    name = log.user_name
    if as_ == "companion":
        from phantom_cli.conversation.transcripts import chat_id_for

        target = chat_id or chat_id_for(log.title)
        made = run(ctx, lambda _c: _sync(branches.import_companion, log, target),
                   needs_client=False)
    else:
        made = run(ctx, lambda c: branches.import_instance(c, log, str(activity)))
    swipes = sum(len(e.alternatives()) for e in log.entries if len(e.alternatives()) > 1)
    if out.json:
        out.emit_json({"kind": made.kind, "id": made.id, "turns": made.turns,
                       "messages": sum((e.user is not None) + (e.reply is not None)
                                       for e in made.entries),
                       "skipped_system": parsed.skipped_system, "user_name": name,
                       "character_name": log.title})
        return
    from phantom_cli.cli.output import visible

    print(visible(made.id))
    extra = f", {swipes} alternatives kept" if swipes else ""
    skipped = (f"; {parsed.skipped_system} system message(s) left out"
               if parsed.skipped_system else "")
    _note(f"imported {made.turns} turns as {made.kind} {visible(made.id)}{extra}{skipped}")


def _write_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a temp file beside it, then rename)."""
    import os
    import tempfile

    parent = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


async def _sync(fn: Any, *args: Any) -> Any:
    return fn(*args)
