"""`phantom companion say|transcript` — companion chat turns from a persona file (seed 000).

The persona is stateless on the wire, so it comes from a file (TOML, JSON or YAML; see
``phantom_cli.personafile``). The conversation is kept locally per chat_id
(``phantom_cli.conversation.transcripts``): each ``say`` sends the recent turns plus the new message, so
consecutive calls continue the conversation.

Start-up rule: typer + stdlib only at module level.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from phantom_cli.cli.common import (
    EXIT_API,
    EXIT_USAGE,
    JqOpt,
    JsonOpt,
    fail,
    get_async_client,
    get_settings,
    group_app,
    handle_errors,
    output_mode,
    stdin_is_tty,
    stdin_text,
)

app = group_app("companion")

PersonaOpt = Annotated[
    Path | None,
    typer.Option(
        "--persona",
        "-P",
        metavar="FILE",
        help="Persona file: .toml, .json, .yaml/.yml (default: profile companion_persona_file); "
        "luna.toml and bram.yaml are shipped examples.",
    ),
]
ChatIdOpt = Annotated[
    str | None,
    typer.Option(
        "--chat-id",
        metavar="ID",
        help="Conversation id (default: derived from the persona's name).",
    ),
]


def _note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _warn(message: str) -> None:
    from phantom_cli.cli.output import visible

    _note(f"warning: {visible(message)}")


def _shipped(path: Path) -> Path:
    """``path``, or the shipped example of that bare name (``luna.toml``, ``bram.yaml``) when no
    such file exists here: the examples in the help then work from any directory."""
    if path.exists() or path.parent != Path("."):
        return path
    from phantom_cli.personafile import example_personas

    for example in example_personas():
        if example.name == path.name:
            return example
    return path


def _persona_path(ctx: typer.Context, persona: Path | None) -> Path:
    if persona is not None:
        return _shipped(persona)
    value = get_settings(ctx).get("companion_persona_file")
    if value:
        return _shipped(Path(str(value)).expanduser())
    from phantom_cli.personafile import example_personas

    examples = ", ".join(str(p) for p in example_personas())
    fail(
        "no persona file: pass --persona FILE",
        hint=f"or set one: phantom config set companion_persona_file FILE (examples: {examples})",
    )


def _load(ctx: typer.Context, persona: Path | None) -> Any:
    from phantom_cli.personafile import PersonaFileError, load_persona

    path = _persona_path(ctx, persona)
    try:
        return load_persona(path, warn=_warn)
    except PersonaFileError as e:
        problems = "; ".join(f"{f}: {m}" if f else m for f, m in e.problems)
        fail(f"persona file {e.path}: {problems}", code=EXIT_USAGE)


def _chat_id(chat_id: str | None, persona: Any) -> str:
    from phantom_cli.conversation.transcripts import chat_id_for

    return chat_id or chat_id_for(persona.name)


def flags_summary(resp: dict[str, Any]) -> list[str]:
    """The stderr lines after a reply: moderation flags and memory figures."""
    from phantom_cli.cli.output import visible

    lines: list[str] = []
    mod = resp.get("moderation") or {}
    reason = mod.get("reason")
    why = f": {visible(reason)}" if reason else ""
    if mod.get("inbound_prohibited"):
        lines.append(f"⚑ refused{why}")
    if mod.get("outbound_filtered"):
        lines.append(f"⚑ filtered (reply replaced by a safe fallback){why}")
    mem = resp.get("memory") or {}
    parts = [
        f"{mem.get('retrieved_count', 0)} retrieved",
        "profile used" if mem.get("profile_used") else "no profile",
        "extraction queued" if resp.get("extraction_enqueued") else "no extraction",
    ]
    lines.append("memory: " + ", ".join(parts))
    return lines


def _read_text(text: str | None) -> str:
    if text is not None:
        return text
    data = stdin_text()
    if data:
        return data
    fail("no message: give TEXT (or pipe it on standard input)")


@app.command(
    "say",
    epilog="Examples: phantom companion say --persona luna.toml 'Morning! Remember my "
    "presentation?'  ·  phantom companion say -P luna.toml --chat-id user-42 --no-extract 'hi'"
    "  ·  echo 'hi' | phantom companion say -P bram.yaml --json | jq -r .reply",
)
@handle_errors
def say(
    ctx: typer.Context,
    text: str | None = typer.Argument(None, help="Your message (or standard input)."),
    persona: PersonaOpt = None,
    chat_id: ChatIdOpt = None,
    temperature: float | None = typer.Option(
        None, "--temperature", min=0, max=2, help="0–2 (server default 0.8)."
    ),
    max_tokens: int | None = typer.Option(
        None, "--max-tokens", min=1, max=32000, help="1–32000 (default: the model's limit)."
    ),
    model: str | None = typer.Option(None, "--model", help="Override the generation model."),
    no_extract: bool = typer.Option(
        False, "--no-extract", help="Skip memory write-back for this turn (retrieval still runs)."
    ),
    stream: bool | None = typer.Option(
        None,
        "--stream/--no-stream",
        help="Print the reply as it arrives (default: when stdout is a terminal).",
    ),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """One companion turn; continues the local transcript of the chat id.

    Prints the reply on stdout; moderation flags and memory figures on stderr (all of it with
    --json). A failed turn is kept as unanswered and is not sent again as context; retrying the
    same text does not duplicate it: running the same command again reuses the send's
    Idempotency-Key, so the server replays the reply it generated.
    """
    from phantom_cli.conversation import CompanionChat, run_turn

    out = output_mode(ctx, json_, jq)
    message = _read_text(text)
    who = _load(ctx, persona)
    conv = CompanionChat(
        None,
        who,
        _chat_id(chat_id, who),
        options={
            "model": model,
            "temperature": temperature,
            "max_tokens": max_tokens,
            "extract_memory": False if no_extract else None,
        },
    )
    conv.request(message)  # validated before connecting; InvalidInputError names the field
    assert conv.transcript is not None
    if conv.transcript.skipped_lines:
        _warn(f"{conv.transcript.path}: skipped {conv.transcript.skipped_lines} unreadable line(s)")

    use_stream = (not out.json) and (bool(out.tty) if stream is None else stream)
    streamed = ""

    from phantom_cli import pending

    sent: list[str] = []

    def chunk(piece: str) -> None:
        nonlocal streamed
        out.write_chunk(piece)
        streamed += piece

    def send(client: Any) -> Any:
        # a failed or interrupted turn, run again, reuses its Idempotency-Key (no second exchange)
        key, token = pending.begin(str(client.base_url), f"companion:{use_stream}",
                                   conv.request(message).to_wire())
        sent.append(token)
        return conv.bind(client).send(message, stream=use_stream, idempotency_key=key)

    try:
        done = run_turn(lambda: get_async_client(ctx), send, on_delta=chunk)
    except BaseException:
        if streamed:
            sys.stdout.write("\n")
            sys.stdout.flush()
        raise
    resp = done.response
    if resp is None:  # pragma: no cover - the client raises on a stream without `done`
        fail("the stream ended without a final response", code=EXIT_API)
    pending.finish(sent[0])

    from phantom_cli.cli.npc import _print_line
    from phantom_cli.cli.output import to_data

    if out.json:
        out.item(resp)
        return
    if use_stream:
        if streamed and streamed != resp.reply:
            sys.stdout.write("\n")
            _note("⚑ the streamed text was replaced by the final reply:")
            streamed = ""
        if not streamed:
            out.write_chunk(resp.reply)
            streamed = resp.reply
        if not streamed.endswith("\n"):
            sys.stdout.write("\n")
        sys.stdout.flush()
    else:
        _print_line(resp.reply)
    for line in flags_summary(to_data(resp)):
        _note(line)


@app.command(
    "transcript",
    epilog="Examples: phantom companion transcript --persona luna.toml  ·  "
    "phantom companion transcript --chat-id user-42 --json  ·  "
    "phantom companion transcript --chat-id user-42 --clear --yes  ·  "
    "phantom companion transcript --list",
)
@handle_errors
def transcript(
    ctx: typer.Context,
    persona: PersonaOpt = None,
    chat_id: ChatIdOpt = None,
    clear: bool = typer.Option(False, "--clear", help="Delete this chat id's local transcript."),
    yes: bool = typer.Option(False, "--yes", "-y", help="With --clear: do not ask."),
    list_: bool = typer.Option(False, "--list", help="List every local transcript."),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Show (or --clear) the local transcript of a chat id."""
    from phantom_cli.cli.output import visible
    from phantom_cli.conversation.transcripts import Transcript, list_transcripts

    out = output_mode(ctx, json_, jq)
    if list_:
        items = [{"chat_id": cid, "turns": n, "path": str(p)} for cid, p, n in list_transcripts()]
        if out.json:
            out.emit_json(items)
            return
        if not items:
            from phantom_cli.conversation.transcripts import transcripts_dir

            _note(f"no transcripts yet ({transcripts_dir()})")
            return
        from phantom_cli.cli.output import col

        out.rows(
            items,
            [
                col("CHAT ID", "chat_id", "id", 40),
                col("TURNS", "turns", "num", 6),
                col("FILE", "path", "text", 80),
            ],
        )
        return

    name: str | None = None
    if chat_id is None:
        who = _load(ctx, persona)
        name = who.name
        chat_id = _chat_id(None, who)
    elif persona is not None:
        name = _load(ctx, persona).name
    t = Transcript(chat_id)

    if clear:
        if not yes:
            if not stdin_is_tty():
                fail(
                    "refusing to clear without confirmation (standard input is not a terminal)",
                    hint="pass --yes",
                )
            if not typer.confirm(
                f"Delete the local transcript of {chat_id!r}?", default=False, err=True
            ):
                _note("not cleared")
                raise typer.Exit(1)
        n = t.clear()
        if out.json:
            out.emit_json({"chat_id": chat_id, "cleared": True, "turns": n})
        else:
            _note(f"cleared {n} turn{'s' if n != 1 else ''} of {visible(chat_id)}")
        return

    turns = t.turns()
    if out.json:
        out.emit_json(
            {"chat_id": chat_id, "path": str(t.path), "turns": [x.to_json() for x in turns]}
        )
        return
    if not turns:
        _note(f"no transcript for {visible(chat_id)} yet ({t.path})")
        return
    if name is None:  # no persona file given: the name the turns were sent with
        name = next((x.persona for x in reversed(turns) if x.persona), "companion")
    label = visible(name)
    for x in turns:
        if not x.greeting:
            sys.stdout.write(f"you: {visible(x.user, keep_newlines=True)}\n")
        if x.answered:
            flag = " ⚑ refused" if x.refused else ""
            sys.stdout.write(f"{label}:{flag} {visible(x.reply, keep_newlines=True)}\n")
        else:
            err = f" ({visible(x.errors[-1])})" if x.errors else ""
            sys.stdout.write(f"  (no reply{err})\n")
    sys.stdout.flush()
    _note(
        f"{len(turns)} turn{'s' if len(turns) != 1 else ''} · chat id {visible(chat_id)} · {t.path}"
    )
