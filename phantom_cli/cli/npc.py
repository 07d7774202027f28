"""`phantom npc init|say|history|reset` — talk to an NPC driven by a state machine (seed 001).

The persona defaults to the profile's ``npc_persona``; the player's name and gender come from
the flags or the profile (``player_name``, ``player_gender``). The ``user_session_id`` defaults to
one derived from the profile and its player name, so ``init`` and later ``say`` calls meet in the
same session without repeating ``--session``.

Start-up rule: typer + stdlib only at module level.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from phantom_cli.cli.common import (
    EXIT_CONFLICT,
    EXIT_NOT_FOUND,
    JqOpt,
    JsonOpt,
    fail,
    get_async_client,
    get_client,
    get_settings,
    group_app,
    handle_errors,
    output_mode,
    stdin_is_tty,
    stdin_text,
)

app = group_app("npc")

SessionOpt = Annotated[
    str | None,
    typer.Option(
        "--session",
        "-s",
        metavar="ID",
        help="user_session_id (default: derived from the profile and its player name).",
    ),
]
MachineOpt = Annotated[
    str | None,
    typer.Option("--machine", "-m", metavar="ID", help="Target this state machine."),
]
PersonaArg = Annotated[
    str | None,
    typer.Argument(
        metavar="[PERSONA_ID]", help="NPC persona id (default: the profile's npc_persona)."
    ),
]


def _note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _persona(ctx: typer.Context, persona_id: str | None) -> str:
    if persona_id:
        return persona_id
    value = get_settings(ctx).get("npc_persona")
    if not value:
        fail(
            "no NPC persona: give PERSONA_ID",
            hint="or set one: phantom config set npc_persona abc123",
        )
    return str(value)


class _LazyClient:
    """The sync client, built only when a hint needs it (``_known_npcs`` after a 404)."""

    def __init__(self, ctx: typer.Context) -> None:
        self._ctx = ctx

    def __getattr__(self, name: str) -> Any:
        return getattr(get_client(self._ctx), name)


def _session(ctx: typer.Context, session: str | None) -> str:
    if session:
        return session
    from phantom_cli.conversation.identity import default_session_id

    eff = get_settings(ctx)
    return default_session_id(eff.profile_name, eff.get("player_name"))


def _fmt_score(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def turn_summary(data: dict[str, Any]) -> list[str]:
    """The stderr lines after an NPC reply: state, score (delta), decision, redirects, outcome."""
    from phantom_cli.cli.output import visible

    parts = [f"state: {visible(data.get('current_state'))}"]
    score = f"score: {_fmt_score(data.get('score'))}"
    delta = data.get("score_delta")
    if isinstance(delta, int | float) and not isinstance(delta, bool):
        score += f" ({'+' if delta >= 0 else ''}{_fmt_score(float(delta))})"
    parts.append(score)
    parts.append(f"decision: {visible(data.get('decision') or '—')}")
    if data.get("redirect_count") is not None:
        parts.append(f"redirects: {data['redirect_count']}")
    parts.append(f"outcome: {visible(data.get('outcome') or '—')}")
    lines = [" · ".join(parts)]
    second = [f"machine completed: {'yes' if data.get('machine_completed') else 'no'}"]
    unlocked = data.get("unlocked_machines") or []
    if unlocked:
        second.append("unlocked: " + ", ".join(visible(m) for m in unlocked))
    if data.get("follow_up"):
        second.append("the NPC expects a reply")
    lines.append(" · ".join(second))
    return lines


def _flags(session: str | None, machine: str | None) -> str:
    """The ``--session``/``--machine`` flags the user gave, to repeat in a hint."""
    import shlex

    out = ""
    if session:
        out += f" --session {shlex.quote(session)}"
    if machine:
        out += f" --machine {shlex.quote(machine)}"
    return out


def _known_npcs(client: Any) -> str | None:
    """``abc123, npc_ironbridge`` from the local backend's NPC list; None when unavailable."""
    from phantom_cli.client.errors import PhantomError

    try:
        ids = [n.id for n in client.local.npcs().data]
    except PhantomError:
        return None
    return ", ".join(ids) if ids else None


def _not_found_hint(
    client: Any, pid: str, session: str | None, machine: str | None, message: str
) -> str:
    """What to do about a 404: unknown persona, unknown machine, or no session yet."""
    import shlex

    from phantom_cli.cli.output import visible

    if message.startswith("machine_id:"):
        return "check --machine: the message lists the persona's machines"
    if "NPC persona" in message and "not found" in message:
        known = _known_npcs(client)
        if known:
            return f"check the persona id; known NPC personas: {visible(known)}"
        return "check the persona id (the default is the profile's npc_persona)"
    return f"start the session first: phantom npc init {shlex.quote(pid)}{_flags(session, machine)}"


def _session_errors(
    pid: str,
    call: Any,
    *,
    client: Any = None,
    session: str | None = None,
    machine: str | None = None,
) -> Any:
    """Run ``call()``; a 404/409 gets a hint that fits it, repeating the user's flags.

    ``session`` is the ``--session`` the user gave (None: the derived default, not repeated).
    """
    import shlex

    from phantom_cli.client.errors import ConflictError, NotFoundError

    try:
        return call()
    except NotFoundError as e:
        fail(
            str(e),
            hint=_not_found_hint(client, pid, session, machine, e.message or ""),
            code=EXIT_NOT_FOUND,
        )
    except ConflictError as e:
        details = e.details if isinstance(e.details, dict) else {}
        if details.get("machine_completed") or "is completed" in (e.message or ""):
            hint: str | None = (
                f"the machine is completed: 'phantom npc reset {shlex.quote(pid)}"
                f"{_flags(session, machine)} --yes' starts over (or init another --machine)"
            )
        else:
            hint = None
        fail(str(e), hint=hint, code=EXIT_CONFLICT)


def _print_line(text: str) -> None:
    from phantom_cli.cli.output import visible

    shown = visible(text, keep_newlines=True)
    sys.stdout.write(shown + ("" if shown.endswith("\n") else "\n"))
    sys.stdout.flush()


@app.command(
    "init",
    epilog="Example: phantom npc init abc123 --player-name Alex --player-gender non-binary",
)
@handle_errors
def init(
    ctx: typer.Context,
    persona_id: PersonaArg = None,
    session: SessionOpt = None,
    player_name: str | None = typer.Option(
        None, "--player-name", metavar="NAME", help="Your name (default: profile player_name)."
    ),
    player_gender: str | None = typer.Option(
        None,
        "--player-gender",
        metavar="female|male|non-binary",
        help="Your gender (default: profile player_gender, else non-binary).",
    ),
    machine: MachineOpt = None,
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Start (or resume) a session: prints the NPC's opening line.

    An existing session is resumed as it is (history, state, outcome): 'reset' starts over.
    """
    out = output_mode(ctx, json_, jq)
    eff = get_settings(ctx)
    pid = _persona(ctx, persona_id)
    sid = _session(ctx, session)
    from phantom_cli.conversation.identity import Player

    player = Player.resolve(player_name or eff.get("player_name"),
                            player_gender or eff.get("player_gender"))
    name, gender = player.name, player.gender
    client = get_client(ctx)
    resp = _session_errors(
        pid,
        lambda: client.npc.init_session(
            pid, user_session_id=sid, player_name=name, player_gender=gender, machine_id=machine
        ),
        client=client,
        session=session,
        machine=machine,
    )
    if out.json:
        out.item(resp)
        return
    from phantom_cli.cli.output import visible

    _print_line(resp.message)
    _note(
        f"session {visible(resp.session_id)} · machine {visible(resp.machine_id)} · "
        f"player {visible(resp.player_name)} ({visible(resp.player_gender)}) · "
        f"--session {visible(sid)}"
    )
    resumed = _resumed_note(client, pid, sid, session, machine)
    if resumed:
        _note(resumed)


def _resumed_note(
    client: Any, pid: str, sid: str, session: str | None, machine: str | None
) -> str | None:
    """When init met an existing session with turns, say so (init does not start over).

    QA: `npc init` on a finished session printed the opening line as if it began anew, and the
    next `say` got a 409.
    """
    import shlex

    from phantom_cli.cli.output import visible
    from phantom_cli.client.errors import PhantomError

    try:
        hist = client.npc.history(pid, user_session_id=sid, machine_id=machine)
    except PhantomError:
        return None
    messages = hist.messages
    if len(messages) <= 1:
        return None
    state = messages[-1].state or "?"
    return (
        f"resumed: this session already has {len(messages)} messages (state {visible(state)}); "
        f"'phantom npc reset {shlex.quote(pid)}{_flags(session, machine)} --yes' starts over"
    )


@app.command(
    "say",
    epilog="Examples: phantom npc say abc123 'I heard you have something rare for sale.'  ·  "
    "phantom npc say 'How much?'   (persona from the profile)  ·  "
    "phantom npc say abc123 'Deal.' --json | jq .score",
)
@handle_errors
def say(
    ctx: typer.Context,
    args: list[str] = typer.Argument(  # noqa: B006 - typer needs a list default
        ...,
        metavar="[PERSONA_ID] TEXT",
        help="The persona (optional) and your message (piped on standard input after PERSONA_ID).",
    ),
    session: SessionOpt = None,
    machine: MachineOpt = None,
    stream: bool | None = typer.Option(
        None,
        "--stream/--no-stream",
        help="Print the reply as it arrives (default: when stdout is a terminal).",
    ),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Send a message; prints the NPC's line (state, score, decision, outcome on stderr).

    If it fails or is interrupted, run the same command again: it reuses the send's
    Idempotency-Key, so the server replays the turn it played instead of a second one.
    """
    if len(args) == 1:
        persona_id, text = None, args[0]
        if text == get_settings(ctx).get("npc_persona"):
            # `npc say abc123` with the message forgotten: never send the persona id as the
            # player's line (it would spend a redirect). Piped text is the message.
            persona_id, text = text, stdin_text()
            if not text:
                fail(
                    f"no message: {persona_id!r} is the NPC persona id, not a message",
                    hint=f"phantom npc say {persona_id} 'hello there' (or pipe the message)",
                )
    elif len(args) == 2:
        persona_id, text = args
    else:
        fail(
            f"expected [PERSONA_ID] TEXT, got {len(args)} arguments",
            hint="quote the message: phantom npc say abc123 'hello there'",
        )
    out = output_mode(ctx, json_, jq)
    pid = _persona(ctx, persona_id)
    sid = _session(ctx, session)
    use_stream = (not out.json) and (bool(out.tty) if stream is None else stream)
    from phantom_cli import pending
    from phantom_cli.conversation import NpcSession, run_turn

    wrote = ""
    sent: list[str] = []

    def chunk(piece: str) -> None:
        nonlocal wrote
        out.write_chunk(piece)
        wrote += piece

    def send(client: Any) -> Any:
        # a failed or interrupted send, run again, reuses its Idempotency-Key (no second turn)
        key, token = pending.begin(str(client.base_url), f"npc:{pid}:{machine}:{use_stream}",
                                   {"message": text, "user_session_id": sid})
        sent.append(token)
        return NpcSession(client, pid, sid, machine).send(
            text, stream=use_stream, idempotency_key=key
        )

    def play() -> Any:
        return run_turn(lambda: get_async_client(ctx), send, on_delta=chunk).response

    resp = _session_errors(pid, play, client=_LazyClient(ctx), session=session, machine=machine)
    if sent:
        pending.finish(sent[-1])
    if resp is None:  # pragma: no cover - the client raises on a stream without `done`
        fail("the stream ended without a final response", code=1)
    if use_stream:
        if not wrote:
            out.write_chunk(resp.message)
            wrote = resp.message
        if not wrote.endswith("\n"):
            sys.stdout.write("\n")
            sys.stdout.flush()
    else:
        if out.json:
            out.item(resp)
            return
        _print_line(resp.message)
    from phantom_cli.cli.output import to_data

    data = to_data(resp)
    for line in turn_summary(data):
        _note(line)
    for unlocked in data.get("unlocked_machines") or []:
        import shlex

        from phantom_cli.cli.output import visible

        _note(
            f"play it: phantom npc init {shlex.quote(pid)}"
            f"{_flags(session, None)} --machine {visible(shlex.quote(str(unlocked)))}"
        )


def _history_columns() -> list:
    from phantom_cli.cli.output import col

    return [
        col("WHEN", "created_at", "date", 16),
        col("WHO", "role", "text", 6),
        col("STATE", "state", "text", 18),
        col("MESSAGE", "content", "text", 100),
    ]


@app.command("history", epilog="Example: phantom npc history abc123 --json | jq '.messages[-1]'")
@handle_errors
def history(
    ctx: typer.Context,
    persona_id: PersonaArg = None,
    session: SessionOpt = None,
    machine: MachineOpt = None,
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Show the session's messages (table at a terminal, tab-separated when piped)."""
    out = output_mode(ctx, json_, jq)
    pid = _persona(ctx, persona_id)
    sid = _session(ctx, session)
    client = get_client(ctx)
    hist = _session_errors(
        pid,
        lambda: client.npc.history(pid, user_session_id=sid, machine_id=machine),
        client=client,
        session=session,
        machine=machine,
    )
    if out.json:
        out.item(hist)
        return
    from phantom_cli.cli.output import to_data, visible

    data = to_data(hist)
    messages = data.get("messages", [])
    if not out.tty:
        out.rows(messages, _history_columns(), header=False)
        return
    if messages:
        _history_table(out, messages)
    else:  # no bare table header for an empty session (e.g. just reset)
        _note(f"no messages yet: 'phantom npc say {visible(pid)} TEXT' talks to the NPC")
    n = len(messages)
    _note(
        f"{n} message{'s' if n != 1 else ''} · session {visible(data.get('session_id'))} "
        f"· machine {visible(data.get('machine_id'))}"
    )


def _history_table(out: Any, messages: list[dict[str, Any]]) -> None:
    """A table for a person: short fixed columns, the message wrapped (never cut)."""
    from rich.table import Table
    from rich.text import Text

    from phantom_cli.cli.output import humanize_time, visible

    table = Table(box=None, pad_edge=False, header_style="bold", expand=False)
    table.add_column("WHEN", no_wrap=True, style="dim")
    table.add_column("WHO", no_wrap=True)
    table.add_column("STATE", no_wrap=True, max_width=16, overflow="ellipsis", style="cyan")
    table.add_column("MESSAGE", overflow="fold", ratio=1)
    for m in messages:
        who = m.get("role", "")
        table.add_row(
            Text(humanize_time(m.get("created_at"))),
            Text(visible(who), style="bold" if who == "npc" else ""),
            Text(visible(m.get("state") or "")),
            Text(visible(m.get("content", ""), keep_newlines=True)),
        )
    out.console().print(table)


@app.command("reset", epilog="Example: phantom npc reset abc123 --yes")
@handle_errors
def reset(
    ctx: typer.Context,
    persona_id: PersonaArg = None,
    session: SessionOpt = None,
    machine: MachineOpt = None,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Clear the session's history and return the machine to its first state."""
    out = output_mode(ctx, json_, jq)
    pid = _persona(ctx, persona_id)
    sid = _session(ctx, session)
    if not yes:
        if not stdin_is_tty():
            fail(
                "refusing to reset without confirmation (standard input is not a terminal)",
                hint="pass --yes",
            )
        what = f"machine {machine}" if machine else "all machines"
        if not typer.confirm(
            f"Reset session {sid!r} with {pid} ({what})? History is deleted.",
            default=False,
            err=True,
        ):
            _note("not reset")
            raise typer.Exit(1)
    client = get_client(ctx)
    resp = _session_errors(
        pid,
        lambda: client.npc.reset(pid, user_session_id=sid, machine_id=machine),
        client=client,
        session=session,
        machine=machine,
    )
    if out.json:
        out.item(resp)
        return
    from phantom_cli.cli.output import visible

    _note(f"reset session {visible(resp.session_id)} ({visible(pid)})")


@app.command(
    "fork",
    epilog="Examples: phantom npc fork abc123 --at 2 --as try-again  ·  "
    "phantom npc fork abc123 --session s1 --at 0 --as s1-fresh --json",
)
@handle_errors
def fork(
    ctx: typer.Context,
    persona_id: PersonaArg = None,
    session: SessionOpt = None,
    at: int | None = typer.Option(
        None, "--at", metavar="N", help="Keep the first N turns (default: all of them)."
    ),
    new: str = typer.Option(..., "--as", metavar="NEW", help="The new session id."),
    machine: MachineOpt = None,
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Fork a session at turn N: a new session NEW with its first N turns and its state then.

    A local backend extension (the hosted API cannot fork). The original is not changed; play
    the fork with --session NEW. 'phantom transcripts tree SESSION' shows the branches.
    """
    from phantom_cli.cli.transcripts import do_fork

    out = output_mode(ctx, json_, jq)
    pid = _persona(ctx, persona_id)
    sid = _session(ctx, session)
    do_fork(ctx, sid, at, new, "npc", pid, machine, out)


def _register_tools() -> None:
    from phantom_cli.cli import npctools  # typer + stdlib at module level, like this module

    npctools.register(app)


_register_tools()
