"""`phantom scratchpad get|set|edit` — the companion's (or a conversation's) scratchpad.

``edit`` never loses an edit: the scratchpad is fetched, opened in ``$VISUAL``/``$EDITOR``
(fallback ``sensible-editor``, ``nano``, ``vi``), saved with the version that was read, and on a
conflict (someone else saved in between) shows a diff and offers re-edit / overwrite / abort.
Until a write succeeds the user's text is kept in ``state_dir()/recovery/``; ``edit --recover``
reopens it.

Start-up rule: typer + stdlib only at module level.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from phantom_cli.cli.common import (
    EXIT_CONFLICT,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    JqOpt,
    JsonOpt,
    fail,
    get_client,
    group_app,
    handle_errors,
    output_mode,
    stdin_is_tty,
)

app = group_app("scratchpad")

EXIT_ABORTED = 1  # the user chose not to save (documented in `edit --help`)
FALLBACK_EDITORS = ("sensible-editor", "nano", "vi")
MAX_CONFLICT_ROUNDS = 20

CompanionOpt = Annotated[
    str | None,
    typer.Option("--companion", "-c", metavar="ID", help="Companion id (type companion)."),
]
TypeOpt = Annotated[
    str | None,
    typer.Option(
        "--type",
        "-t",
        metavar="companion|conversation",
        help="Which scratchpad (default: conversation when only --conversation is given, "
        "else companion).",
    ),
]
ConversationOpt = Annotated[
    str | None,
    typer.Option("--conversation", metavar="ID", help="Conversation id (type conversation)."),
]


def _target(companion: str | None, type_: str | None, conversation: str | None) -> dict[str, Any]:
    if type_ is None:
        type_ = "conversation" if conversation and not companion else "companion"
    if type_ not in ("companion", "conversation"):
        fail(f"--type: expected companion or conversation, got {type_!r}")
    if type_ == "companion" and not companion:
        fail(
            "--companion: required for the companion scratchpad",
            hint="e.g. phantom scratchpad get --companion luna "
            "(or --type conversation --conversation ID)",
        )
    if type_ == "conversation" and not conversation:
        fail("--conversation: required when --type is conversation")
    if type_ == "companion" and conversation:
        # Never ignore it silently: the user may believe they wrote the conversation's pad.
        fail(
            "--conversation: not used by the companion scratchpad (one per companion)",
            hint="pass --type conversation for the conversation's scratchpad, "
            "or drop --conversation",
        )
    return {"companion_id": companion, "type": type_, "conversation_id": conversation}


def _label(target: dict[str, Any]) -> str:
    if target["type"] == "conversation":
        return f"conversation {target['conversation_id']}"
    return f"companion {target['companion_id']}"


def _note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- get / set


@app.command(
    "get",
    epilog="Example: phantom scratchpad get --companion luna --max-words 200 --hint 'work'",
)
@handle_errors
def get(
    ctx: typer.Context,
    companion: CompanionOpt = None,
    type_: TypeOpt = None,
    conversation: ConversationOpt = None,
    max_words: int | None = typer.Option(
        None, "--max-words", min=1, max=10000, help="Return at most N words (1–10000)."
    ),
    hint: str | None = typer.Option(
        None, "--hint", metavar="TEXT", help="What to focus on when trimming (1–500 chars)."
    ),
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Print the scratchpad's text (version and date on stderr)."""
    from phantom_cli.cli.output import humanize_time, visible

    out = output_mode(ctx, json_, jq)
    target = _target(companion, type_, conversation)
    if hint is not None and max_words is None:
        # The hint only steers trimming: without --max-words it would be dropped silently.
        fail(
            "--hint: only used with --max-words (it says what to keep when trimming)",
            hint="e.g. phantom scratchpad get --companion luna --max-words 200 --hint 'work'",
        )
    sp = get_client(ctx).scratchpad.get(**target, max_words=max_words, hint=hint)
    if out.json:
        out.item(sp)
        return
    from phantom_cli.cli.output import to_data

    text = visible(sp.content, keep_newlines=True)
    sys.stdout.write(text + ("" if not text or text.endswith("\n") else "\n"))
    sys.stdout.flush()
    if sp.version == 0:
        when = "never written"
    else:
        when = "updated " + (humanize_time(sp.updated_at) if sp.updated_at else "never")
    note = f"{_label(target)} · version {sp.version} · {when}"
    data = to_data(sp)
    if data.get("condensed"):
        note += (
            f" · condensed to {data.get('word_count', '?')} of "
            f"{data.get('original_word_count', '?')} words (the stored text is unchanged)"
        )
    _note(note)


@app.command(
    "set",
    epilog="Examples: phantom scratchpad set --companion luna 'Prefers tea.'  ·  "
    "cat notes.md | phantom scratchpad set --companion luna  ·  "
    "phantom scratchpad set --companion luna --file notes.md --version 4",
)
@handle_errors
def set_(
    ctx: typer.Context,
    text: str | None = typer.Argument(
        None, help="The new text. Omit to read --file or standard input."
    ),
    file: Path | None = typer.Option(
        None, "--file", "-f", metavar="PATH", help="Read the text from a file ('-' = stdin)."
    ),
    version: int | None = typer.Option(
        None,
        "--version",
        min=0,
        help="The version you are replacing (409 if it is not current). "
        "Default: fetch the current version (last writer wins).",
    ),
    companion: CompanionOpt = None,
    type_: TypeOpt = None,
    conversation: ConversationOpt = None,
    json_: JsonOpt = False,
    jq: JqOpt = None,
) -> None:
    """Replace the scratchpad's text."""
    out = output_mode(ctx, json_, jq)
    target = _target(companion, type_, conversation)
    if text is not None and file is not None:
        fail("give the text as an argument or with --file, not both")
    if file is not None:
        if str(file) == "-":
            content = sys.stdin.read()
        else:
            try:
                content = file.read_text(encoding="utf-8")
            except OSError as e:
                fail(f"--file: cannot read {file}: {e.strerror or e}")
            except UnicodeDecodeError:
                fail(f"--file: {file} is not UTF-8 text")
    elif text is not None:
        content = text
    elif not stdin_is_tty():
        content = sys.stdin.read()
    else:
        fail("no text: give it as an argument, with --file, or on standard input")
    client = get_client(ctx)
    if version is None:
        version = client.scratchpad.get(**target).version
    sp = client.scratchpad.update(content=content, version=version, **target)
    if out.json:
        out.item(sp)
    else:
        _note(f"saved {_label(target)} scratchpad: version {sp.version}")


# --------------------------------------------------------------------------- the editor


class EditorError(Exception):
    """No editor could be found, or it failed."""


def editor_command(environ: dict[str, str] | None = None) -> list[str]:
    """``$VISUAL`` / ``$EDITOR`` (may carry arguments), else the first fallback found."""
    env = os.environ if environ is None else environ
    for var in ("VISUAL", "EDITOR"):
        value = env.get(var, "").strip()
        if value:
            try:
                argv = shlex.split(value)
            except ValueError as e:
                raise EditorError(f"${var} cannot be parsed ({e}): {value!r}") from None
            if argv:
                return argv
    for name in FALLBACK_EDITORS:
        found = shutil.which(name)
        if found:
            return [found]
    raise EditorError(
        "no editor found: set $VISUAL or $EDITOR (e.g. export EDITOR=nano), "
        f"or install one of {', '.join(FALLBACK_EDITORS)}"
    )


def to_file_text(content: str) -> str:
    """Text as written for the editor: ending with a newline, as editors expect."""
    return content + "\n" if content and not content.endswith("\n") else content


def from_file_text(text: str, original: str) -> str:
    """Undo :func:`to_file_text`: drop the final newline an editor keeps or adds."""
    if not original.endswith("\n") and text.endswith("\n"):
        return text[:-1]
    return text


def run_editor(text: str) -> str:
    """Open the editor on ``text`` in a private temp file; return what the user saved.

    A missing editor, one that cannot start or exits non-zero raises :class:`EditorError`
    (like git: a failed editor means "do not use the result").
    """
    argv = editor_command()
    fd, name = tempfile.mkstemp(prefix="phantom-scratchpad-", suffix=".md")
    path = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(to_file_text(text))
        try:
            proc = subprocess.run([*argv, str(path)], check=False)
        except FileNotFoundError:
            raise EditorError(f"editor not found: {argv[0]!r} (check $VISUAL / $EDITOR)") from None
        except OSError as e:
            raise EditorError(f"cannot start the editor {argv[0]!r}: {e.strerror or e}") from None
        if proc.returncode != 0:
            raise EditorError(f"the editor {argv[0]!r} exited with status {proc.returncode}")
        try:
            edited = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise EditorError("the edited file is not UTF-8 text") from None
        return from_file_text(edited, text)
    finally:
        path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- recovery files


def recovery_dir() -> Path:
    from phantom_cli.config.paths import ensure_dir, state_dir

    return ensure_dir(Path(state_dir()) / "recovery")


def _atomic_write(path: Path, text: str) -> None:
    """``text`` to ``path`` through a temp file and a rename, mode 0600 (recovery files)."""
    from phantom_cli.config.settings import atomic_write

    atomic_write(path, text.encode("utf-8"), mode=0o600)


@dataclass
class Recovery:
    """One edit's unsaved text: ``<prefix>-<time>-<pid>-<rand>.txt`` + ``.json`` (its base).

    Every ``edit`` run gets its own file, so two processes editing the same scratchpad never
    overwrite or delete each other's recovery text; ``--recover`` reopens the newest one.
    """

    key: str
    directory: Path

    @staticmethod
    def prefix(target: dict[str, Any]) -> str:
        ident = json.dumps(target, sort_keys=True)
        label = "-".join(str(v) for v in target.values() if v)
        label = re.sub(r"[^A-Za-z0-9_.-]", "_", label)[:60].strip(".") or "scratchpad"
        digest = hashlib.sha256(ident.encode("utf-8")).hexdigest()[:10]
        return f"scratchpad-{label}-{digest}"

    @classmethod
    def new(cls, target: dict[str, Any], directory: Path | None = None) -> Recovery:
        stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S")
        unique = f"{stamp}-{os.getpid()}-{secrets.token_hex(3)}"
        return cls(f"{cls.prefix(target)}-{unique}", directory or recovery_dir())

    @classmethod
    def existing(cls, target: dict[str, Any], directory: Path | None = None) -> list[Recovery]:
        """The unsaved edits of ``target``, newest first."""
        base = directory or recovery_dir()
        found = [(p.stat().st_mtime, p.name) for p in base.glob(f"{cls.prefix(target)}-*.txt")]
        return [cls(name[: -len(".txt")], base) for _, name in sorted(found, reverse=True)]

    @property
    def text_path(self) -> Path:
        return self.directory / f"{self.key}.txt"

    @property
    def meta_path(self) -> Path:
        return self.directory / f"{self.key}.json"

    def exists(self) -> bool:
        return self.text_path.is_file()

    def save(self, text: str, *, base_version: int, base_content: str, target: dict) -> Path:
        """Keep ``text`` with the version and content it was based on (atomic, 0600)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "target": target,
            "base_version": base_version,
            "base_content": base_content,
            "saved_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        }
        _atomic_write(self.meta_path, json.dumps(meta, ensure_ascii=False, indent=2) + "\n")
        _atomic_write(self.text_path, text)
        return self.text_path

    def load(self) -> tuple[str, dict[str, Any]]:
        text = self.text_path.read_text(encoding="utf-8")
        try:
            meta = json.loads(self.meta_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            meta = {}
        return text, meta if isinstance(meta, dict) else {}

    def discard(self) -> None:
        self.text_path.unlink(missing_ok=True)
        self.meta_path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- edit


def unified_diff(server: str, mine: str, server_version: int) -> list[str]:
    """Diff lines between the server's current text and the user's edit."""
    return list(
        difflib.unified_diff(
            server.splitlines(),
            mine.splitlines(),
            fromfile=f"server (version {server_version})",
            tofile="your edit",
            lineterm="",
        )
    )


def _show_diff(lines: list[str], color: bool) -> None:
    from phantom_cli.cli.output import visible

    for line in lines:
        shown = visible(line)
        if color:
            fg = None
            if line.startswith(("+++", "---")):
                fg = "bright_white"
            elif line.startswith("+"):
                fg = "green"
            elif line.startswith("-"):
                fg = "red"
            elif line.startswith("@@"):
                fg = "cyan"
            shown = typer.style(shown, fg=fg) if fg else shown
        typer.echo(shown, err=True)


_CHOICES = {
    "r": "re-edit",
    "re-edit": "re-edit",
    "e": "re-edit",
    "o": "overwrite",
    "overwrite": "overwrite",
    "a": "abort",
    "abort": "abort",
    "q": "abort",
}


def _ask_conflict() -> str:
    """Ask on stdin (works piped too); end of input means abort."""
    import click

    while True:
        try:
            answer = click.prompt(
                "[r]e-edit your text, [o]verwrite the server's version, or [a]bort?",
                default="a",
                err=True,
                show_default=True,
            )
        except click.Abort:
            return "abort"
        choice = _CHOICES.get(str(answer).strip().lower())
        if choice:
            return choice
        _note("please answer r, o or a")


class _Editing:
    """State of one ``scratchpad edit`` run."""

    def __init__(
        self, ctx: typer.Context, target: dict[str, Any], on_conflict: str | None, allow_empty: bool
    ) -> None:
        self.ctx = ctx
        self.client = get_client(ctx)
        self.target = target
        self.on_conflict = on_conflict
        self.allow_empty = allow_empty
        self.recovery = Recovery.new(target)
        self.color = sys.stderr.isatty() and not os.environ.get("NO_COLOR")

    def edit(self, text: str) -> str:
        try:
            return run_editor(text)
        except EditorError as e:
            kept = (
                f"; your earlier edit is kept in {self.recovery.text_path}"
                if self.recovery.exists()
                else ""
            )
            code = EXIT_USAGE if "no editor found" in str(e) else EXIT_ABORTED
            fail(f"{e}; nothing saved{kept}", code=code)

    def keep(self, text: str, base_version: int, base_content: str) -> None:
        path = self.recovery.save(
            text, base_version=base_version, base_content=base_content, target=self.target
        )
        _note(f"your edit is kept in {path} until it is saved")

    def check_empty(self, text: str, base_content: str) -> None:
        """An emptied scratchpad is saved only after a yes (refused without a terminal)."""
        if text.strip() or not base_content.strip() or self.allow_empty:
            return
        if not stdin_is_tty():
            self.recovery.discard()
            fail(
                "the edit empties the scratchpad; refusing to save it without confirmation "
                "(standard input is not a terminal); nothing saved",
                hint="pass --allow-empty to save an empty scratchpad",
            )
        if not typer.confirm(
            "The scratchpad is now empty. Save an empty scratchpad?", default=False, err=True
        ):
            self.recovery.discard()
            _note("nothing saved")
            raise typer.Exit(EXIT_ABORTED)

    def save(self, text: str, version: int) -> Any:
        """Save ``text`` against ``version``; on 409 run the conflict flow until done."""
        from phantom_cli.client.errors import ConflictError

        for _ in range(MAX_CONFLICT_ROUNDS):
            try:
                sp = self.client.scratchpad.update(content=text, version=version, **self.target)
            except ConflictError:
                current = self.client.scratchpad.get(**self.target)
                if current.content == text:
                    self.recovery.discard()
                    _note(f"the server already has this text (version {current.version})")
                    return current
                _note(
                    f"conflict: the scratchpad changed on the server since you opened it "
                    f"(now version {current.version}); server → your edit:"
                )
                _show_diff(unified_diff(current.content, text, current.version), self.color)
                choice = self.on_conflict or _ask_conflict()
                if choice == "abort":
                    fail(
                        f"aborted: nothing saved; your edit is kept in {self.recovery.text_path}",
                        hint="'phantom scratchpad edit --recover' reopens it",
                        code=EXIT_CONFLICT,
                    )
                if choice == "re-edit":
                    text = self.edit(text)
                    if text == current.content:
                        self.recovery.discard()
                        _note("no changes left against the server's version; nothing written")
                        return current
                    self.keep(text, current.version, current.content)
                    self.check_empty(text, current.content)
                version = current.version
                continue
            self.recovery.discard()
            _note(f"saved {_label(self.target)} scratchpad: version {sp.version}")
            return sp
        fail(
            f"the scratchpad kept changing ({MAX_CONFLICT_ROUNDS} conflicts); nothing saved; "
            f"your edit is kept in {self.recovery.text_path}",
            code=EXIT_CONFLICT,
        )


@app.command(
    "edit",
    epilog="Examples: phantom scratchpad edit --companion luna  ·  "
    "EDITOR='code --wait' phantom scratchpad edit --type conversation --conversation c-42  ·  "
    "phantom scratchpad edit --companion luna --recover.  "
    "Exit codes: 0 saved or no changes, 1 you aborted or the editor failed, "
    "2 bad input or an empty save refused, 6 conflict aborted (your text is kept).",
)
@handle_errors
def edit(
    ctx: typer.Context,
    companion: CompanionOpt = None,
    type_: TypeOpt = None,
    conversation: ConversationOpt = None,
    recover: bool = typer.Option(
        False, "--recover", help="Reopen the edit kept in the recovery file and save it."
    ),
    on_conflict: str | None = typer.Option(
        None,
        "--on-conflict",
        metavar="re-edit|overwrite|abort",
        help="What to do on a conflict without asking (default: ask on stdin).",
    ),
    allow_empty: bool = typer.Option(
        False, "--allow-empty", help="Save an emptied scratchpad without asking."
    ),
    json_: JsonOpt = False,
) -> None:
    """Edit the scratchpad in $VISUAL / $EDITOR; never loses your edit.

    Saves with the version it read; if someone saved in between, shows a diff and asks:
    re-edit, overwrite or abort. Your text stays in a recovery file until it is saved.
    """
    out = output_mode(ctx, json_, None)
    target = _target(companion, type_, conversation)
    if on_conflict is not None:
        if on_conflict not in ("re-edit", "overwrite", "abort"):
            fail(f"--on-conflict: expected re-edit, overwrite or abort, got {on_conflict!r}")
    run = _Editing(ctx, target, on_conflict, allow_empty)
    rec = run.recovery

    earlier = Recovery.existing(target)
    if recover:
        if not earlier:
            fail(
                f"no unsaved edit of the {_label(target)} scratchpad",
                hint=f"recovery files live in {recovery_dir()}",
                code=EXIT_NOT_FOUND,
            )
        rec = run.recovery = earlier[0]
        text, meta = rec.load()
        base_version, base_content = meta.get("base_version"), meta.get("base_content")
        if not isinstance(base_version, int) or not isinstance(base_content, str):
            current = run.client.scratchpad.get(**target)
            base_version, base_content = current.version, current.content
        _note(f"reopening your edit from {rec.text_path} (based on version {base_version})")
        if len(earlier) > 1:
            _note(
                f"{len(earlier) - 1} older unsaved edit(s): "
                + ", ".join(str(r.text_path) for r in earlier[1:])
            )
        edited = run.edit(text)
    else:
        sp = run.client.scratchpad.get(**target)
        base_version, base_content = sp.version, sp.content
        if earlier:
            _note(
                f"note: an earlier unsaved edit is kept in {earlier[0].text_path} "
                "('phantom scratchpad edit --recover' reopens it)"
            )
        edited = run.edit(base_content)
        if edited == base_content:
            _note("no changes; nothing written")
            if out.json:
                out.item(sp)
            return

    if edited == base_content:
        rec.discard()
        _note("no changes against the version you started from; nothing written")
        return
    run.keep(edited, base_version, base_content)
    run.check_empty(edited, base_content)
    saved = run.save(edited, base_version)
    if out.json:
        out.item(saved)
