"""Helpers every command shares: global state, the client, the error handler, shared options.

    from phantom_cli.cli.common import handle_errors, get_client, output_mode, JsonOpt, JqOpt

    @app.command()
    @handle_errors
    def get(ctx: typer.Context, id: str, json_: JsonOpt = False, jq: JqOpt = None) -> None:
        out = output_mode(ctx, json_, jq)
        out.item(get_client(ctx).skins.get(id))

Exit codes (stable, documented in docs/cli.md): 0 ok, 1 API/server error, 2 usage or bad
input, 3 network / backend unreachable, 4 auth (401/402/403), 5 not found, 6 conflict,
130 interrupted.

Start-up rule: typer + stdlib only at module level.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from phantom_cli.cli.output import OutputMode
    from phantom_cli.client import AsyncPhantom, Phantom
    from phantom_cli.client._core_sync import APIClient
    from phantom_cli.config import Effective

EXIT_OK = 0
EXIT_API = 1
EXIT_USAGE = 2
EXIT_NETWORK = 3
EXIT_AUTH = 4
EXIT_NOT_FOUND = 5
EXIT_CONFLICT = 6
EXIT_INTERRUPTED = 130

F = TypeVar("F", bound=Callable[..., Any])



def group_app(name: str) -> typer.Typer:
    """The Typer app of the command group ``name``: no arguments shows its help (summary and
    examples from ``_help``), plain-text help (no Rich markup)."""
    from phantom_cli.cli import _help

    return typer.Typer(
        no_args_is_help=True,
        rich_markup_mode=None,
        help=_help.group_help(name),
        epilog=_help.examples(name),
    )


# --------------------------------------------------------------------------- shared options

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the full objects as JSON.")]
JqOpt = Annotated[
    str | None,
    typer.Option(
        "--jq",
        metavar="EXPR",
        help="Filter the JSON output with a jq expression (a list is the page object: "
        "'.data[].id').",
    ),
]
LimitOpt = Annotated[
    int | None,
    typer.Option(
        "--limit", "-L", min=1, max=100, help="Items per page (1–100, server default 20)."
    ),
]
CursorOpt = Annotated[
    str | None, typer.Option("--cursor", help="Start from this cursor (printed after a page).")
]
AllOpt = Annotated[
    bool,
    typer.Option("--all", help="Walk every page lazily (NDJSON with --json), in constant memory."),
]


# --------------------------------------------------------------------------- global state


@dataclass
class State:
    """Global options of one invocation (set by the root callback in main.py)."""

    profile: str | None = None
    base_url: str | None = None
    debug: bool = False
    no_color: bool = False
    _effective: Any = None
    _client: Any = None
    _transport: Any = None
    _secrets: set[str] = field(default_factory=set)


def get_state(ctx: typer.Context | None) -> State:
    """The invocation's :class:`State` (a default one when a command runs on its own)."""
    if ctx is None:
        return State()
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    if ctx.obj is not root.obj:
        ctx.obj = root.obj
    return root.obj


def get_settings(ctx: typer.Context | None, **overrides: Any) -> Effective:
    """Effective settings for this invocation (flags > env > profile > defaults)."""
    from phantom_cli.config import resolve

    state = get_state(ctx)
    if state._effective is None or overrides:
        eff = resolve(profile=state.profile, base_url=state.base_url, overrides=overrides or None)
        if overrides:
            return eff
        state._effective = eff
    return state._effective


def redact(text: str, state: State | None = None) -> str:
    """Replace any known secret in ``text`` with ``***`` (and URL passwords: ``user:***@``)."""
    from phantom_cli.config.settings import redact_credentials

    for secret in state._secrets if state else ():
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return redact_credentials(text)


def _debug_line(state: State, text: str) -> None:
    from phantom_cli.cli.output import visible

    print(f"debug: {visible(redact(text, state))}", file=sys.stderr, flush=True)


def make_debug_hook(state: State) -> Callable[..., None]:
    """The client's ``debug_hook``: one stderr line per HTTP exchange, key redacted."""

    def hook(*args: Any, **kwargs: Any) -> None:
        if len(args) >= 4 and isinstance(args[0], str):
            method, url, status, elapsed = args[:4]
            headers = args[4] if len(args) > 4 and isinstance(args[4], dict) else {}
            line = f"{method} {url} -> {status if status is not None else 'no answer'} ({float(elapsed):.0f} ms)"
            rid = {k.lower(): v for k, v in headers.items()}.get("x-request-id")
            if rid:
                line += f" request-id={rid}"
        else:
            line = " ".join(str(a) for a in args)
            if kwargs:
                line += " " + " ".join(f"{k}={v}" for k, v in kwargs.items())
        _debug_line(state, line)

    return hook


def get_client(ctx: typer.Context | None, **overrides: Any) -> Phantom:
    """A ready :class:`Phantom` client for this invocation (built once, reused)."""
    state = get_state(ctx)
    if state._client is not None and not overrides:
        return state._client
    client = _open(ctx, "connect", overrides)
    if not overrides:
        state._client = client
    return client


def get_async_client(ctx: typer.Context | None) -> AsyncPhantom:
    """A new :class:`AsyncPhantom` for this invocation (the conversation core runs on it; the
    caller closes it). Same settings, key and ``--debug`` hook as :func:`get_client`."""
    return _open(ctx, "connect_async", {})


def get_transport(ctx: typer.Context | None) -> APIClient:
    """The client's transport alone — requests, retries, error mapping, raw JSON pages — without
    the typed resources and their pydantic models (~150 ms of start-up). For commands that print
    pages as the server sent them (:func:`list_or_stream`); a :class:`Phantom` already built is
    reused."""
    state = get_state(ctx)
    if state._client is not None:
        return state._client  # a Phantom is an APIClient
    if state._transport is None:
        state._transport = _open(ctx, "connect_transport", {})
    return state._transport


def _open(ctx: typer.Context | None, factory: str, overrides: dict[str, Any]) -> Any:
    from phantom_cli import connect

    state = get_state(ctx)
    eff = get_settings(ctx, **overrides)
    hook = make_debug_hook(state) if state.debug else None
    if eff._api_key:
        state._secrets.add(eff._api_key)
    client = getattr(connect, factory)(eff, debug_hook=hook)
    key = getattr(client, "_api_key", None)
    if isinstance(key, str) and key:
        state._secrets.add(key)  # e.g. the local backend's key read by connect()
    if state.debug:
        _debug_line(
            state,
            f"profile={eff.profile_name} ({eff.sources.get('profile')}) backend={eff.backend} "
            f"base_url={client.base_url}",
        )
    return client


def output_mode(
    ctx: typer.Context | None, json_: bool = False, jq: str | None = None
) -> OutputMode:
    """The :class:`~phantom_cli.cli.output.OutputMode` for this command's flags."""
    from phantom_cli.cli.output import OutputMode

    state = get_state(ctx)
    return OutputMode(json=json_, jq=jq, no_color=state.no_color)


def list_or_stream(
    ctx: typer.Context | None,
    out: OutputMode,
    path: str,
    columns: list[Any],
    what: str,
    limit: int | None,
    cursor: str | None,
    all_: bool,
    *,
    path_params: dict[str, str] | None = None,
    wire: dict[str, str] | None = None,
    **filters: Any,
) -> None:
    """One page or, with ``--all``, every page lazily, of the list endpoint ``path`` (a
    :mod:`phantom_cli.client.paths` template filled with ``path_params``).

    Pages are fetched by the client's transport alone and printed as the server sent them —
    JSON exactly as it came (fields this version does not know included), rows and tables from
    the same objects — without the typed resources and their pydantic models, which would cost
    more start-up than the whole command (benchmarks/startup.py). The server validates the
    query (a refusal names the field: exit 2); ``--limit`` is bounded by its option. ``wire``
    renames a filter to its query parameter where the two differ (``relation_type`` →
    ``relationType``); ``None`` filters are left out.
    """
    from phantom_cli.client._validate import fill

    if all_ and cursor:
        fail("--cursor and --all cannot be combined (--all starts from the first page)")
    query = {(wire or {}).get(k, k): v for k, v in filters.items()}
    url = fill(path, **(path_params or {}))
    transport = get_transport(ctx)
    if all_:
        out.stream(transport.iter_json(url, {"limit": limit, **query}), columns)
    else:
        page = transport.list_json(url, {"limit": limit, "cursor": cursor, **query})
        out.page(page, columns, what)


# --------------------------------------------------------------------------- errors


class CLIError(Exception):
    """An expected failure raised by a command: message, hint and exit code."""

    def __init__(self, message: str, hint: str | None = None, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


def fail(message: str, hint: str | None = None, code: int = EXIT_USAGE) -> NoReturn:
    raise CLIError(message, hint, code)


def _classify(exc: BaseException, state: State) -> tuple[str, str | None, int] | None:
    """(message, hint, exit code) for an expected failure; None for an unexpected one."""
    if isinstance(exc, CLIError):
        return exc.message, exc.hint, exc.code
    from phantom_cli.cli.output import JqError

    if isinstance(exc, JqError):
        return str(exc), "see https://jqlang.org/manual/", EXIT_USAGE
    from phantom_cli.config import ConfigError

    if isinstance(exc, ConfigError):
        return str(exc), "see 'phantom config path' and 'phantom config list'", EXIT_USAGE
    try:
        from phantom_cli.client import errors as E
    except ImportError:  # pragma: no cover - client not installed
        return None
    if isinstance(exc, E.InvalidInputError):
        return str(exc), None, EXIT_USAGE
    if isinstance(exc, E.StreamInterruptedError):
        hint = (
            "the partial reply is above; run the command again to retry"
            if getattr(exc, "partial", "")
            else "nothing of the reply arrived; run the command again to retry"
        )
        return f"the stream was interrupted: {exc.message}", hint, EXIT_NETWORK
    if isinstance(exc, E.MissingAPIKeyError):
        return (
            exc.message,
            f"set PHANTOM_API_KEY, or run 'phantom -p {exc.profile} auth login' to store a key",
            EXIT_AUTH,
        )
    if isinstance(exc, E.APIConnectionError):
        return _connection_error(exc, state, timeout=isinstance(exc, E.APITimeoutError))
    if isinstance(exc, E.APIStatusError):
        hint: str | None = None
        if isinstance(exc, E.AuthenticationError):
            hint = _auth_hint(state)
        elif isinstance(exc, E.PaymentRequiredError):
            hint = "insufficient credit: top up your Phantom account"
        elif isinstance(exc, E.PermissionDeniedError):
            hint = "the API key lacks the scope for this call"
        elif isinstance(exc, E.NotFoundError):
            hint = "check the id ('list' shows what exists)"
        elif isinstance(exc, E.BadRequestError):
            hint = "the server refused the input"
        elif isinstance(exc, E.RateLimitError):
            hint = "rate limited after retries: wait and try again"
        elif isinstance(exc, E.ServiceUnavailableError):
            hint = "the service is unavailable after retries: try again later"
        return str(exc), hint, exit_for_status(exc.status)
    if isinstance(exc, E.PhantomError):
        return str(exc), None, EXIT_API
    from phantom_cli.config.settings import storage_problem

    disk = storage_problem(exc)
    if disk is not None:  # a full disk or a read-only PHANTOM_HOME: say what and where
        return (
            disk,
            "free some space, or point PHANTOM_HOME at a writable folder ('phantom config path')",
            EXIT_NETWORK,
        )
    # the local backend's start-up failures (phantom_cli.connect) are OSError/RuntimeError
    # subclasses with a message for a person
    if type(exc).__name__ in ("BackendError", "BackendStartError", "ServerStartError"):
        return str(exc), "see 'phantom serve --help' and the server log", EXIT_NETWORK
    return None


def exit_for_status(status: int) -> int:
    """The exit code of an API error answer: 400 → 2, 401/402/403 → 4, 404 → 5, 409 → 6,
    anything else (429/5xx after retries, other 4xx) → 1."""
    if status in (401, 402, 403):
        return EXIT_AUTH
    return {400: EXIT_USAGE, 404: EXIT_NOT_FOUND, 409: EXIT_CONFLICT}.get(status, EXIT_API)


def _auth_hint(state: State) -> str:
    """Where a refused key came from decides the way out."""
    eff = state._effective
    own_local_key = (
        eff is not None
        and eff.backend == "local"
        and eff.sources.get("api_key") not in ("flag", "env")
        and eff.sources.get("base_url") not in ("flag", "env")
    )
    if own_local_key:
        return (
            "the local backend refused its own key (revoked?): 'phantom serve stop' — a new "
            "local key is made at the next start"
        )
    return "run 'phantom auth login' (or set PHANTOM_API_KEY)"


def _connection_error(exc: Any, state: State, timeout: bool) -> tuple[str, str | None, int]:
    """One statement of where the server was expected, and a hint naming where that came from."""
    eff = state._effective
    client = state._client or state._transport
    base = getattr(client, "base_url", None) or (eff.base_url if eff is not None else None)
    base = str(base).rstrip("/") if base else None
    import re

    message = exc.message
    # the client says "GET /path: could not reach URL: detail" / "GET /path: timed out … (URL)"
    m = re.match(r"(?s)(\S+ \S+): could not reach (\S+): (.*)$", message)
    t = re.match(r"(?s)(\S+ \S+): (timed out[^(]*?)\s*\((\S+)\)$", message)
    if m:
        message = f"cannot reach the server at {m.group(2)} ({m.group(1)}): {m.group(3)}"
    elif t:
        message = f"{t.group(2)} (server at {t.group(3)}, {t.group(1)})"
    elif not base or base not in message:
        where = base or getattr(exc, "url", None)
        what = "timed out" if timeout else "cannot reach the server"
        message = f"{what}{f' at {where}' if where else ''}: {message}"
    source = eff.sources.get("base_url") if eff is not None else None
    if eff is None:
        hint = "is the server running? check --base-url / PHANTOM_BASE_URL"
    elif source == "flag":
        hint = "is the server running? check the --base-url you passed"
    elif source == "env":
        hint = "is the server running? check PHANTOM_BASE_URL (unset it to use the profile's URL)"
    elif source == "profile":
        name = eff.profile_name
        hint = (
            f"is the server running? the URL comes from profile '{name}': change it with "
            f"'phantom -p {name} config set base_url URL'"
        )
    elif eff.backend == "local":
        hint = (
            "the local backend did not answer: see 'phantom serve status' and 'phantom serve logs'"
        )
    else:
        hint = (
            f"the hosted API did not answer; check your network (profile '{eff.profile_name}' "
            "uses the default URL)"
        )
    return message, hint, EXIT_NETWORK


def report_error(exc: BaseException, state: State) -> int:
    """Print one clear line (plus a hint) on stderr for ``exc``; return the exit code."""
    from phantom_cli.cli.output import visible

    classified = _classify(exc, state)
    if state.debug:
        print(redact("".join(traceback.format_exception(exc)), state), file=sys.stderr)
    if classified is None:
        message = f"unexpected error: {type(exc).__name__}: {exc}"
        hint = None if state.debug else "run again with --debug for the traceback"
        code = EXIT_API
    else:
        message, hint, code = classified
    print(f"error: {visible(redact(message, state))}", file=sys.stderr)
    if hint:
        print(f"hint: {visible(redact(hint, state))}", file=sys.stderr)
    sys.stderr.flush()
    return code


def _is_click_exception(exc: BaseException) -> bool:
    """Typer 0.29 vendors click (typer._click); accept either one's ClickException."""
    return any(
        cls.__name__ == "ClickException" and cls.__module__.endswith("exceptions")
        for cls in type(exc).__mro__
    )


def handle_errors(fn: F) -> F:
    """Decorator: expected failures → one stderr line + hint + a stable exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except BrokenPipeError:
            # the reader went away (| head): exit quietly like other Unix tools
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            except (OSError, ValueError):
                pass
            raise typer.Exit(EXIT_OK) from None
        except Exception as exc:
            if _is_click_exception(exc):
                raise  # usage errors: typer prints them and exits 2
            ctx = next((a for a in (*args, *kwargs.values()) if hasattr(a, "find_root")), None)
            state = get_state(ctx) if ctx is not None else State()
            raise typer.Exit(report_error(exc, state)) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def flag_names(mapping: dict[str, str]) -> Iterator[None]:
    """Name the flag the user typed, not the wire field, in a client-side validation error.

    ``with flag_names({"style_preference": "--style"}): client.personas.create(...)``
    """
    try:
        yield
    except Exception as exc:
        from phantom_cli.client.errors import InvalidInputError

        if not isinstance(exc, InvalidInputError):
            raise
        renamed = [(_rename(field, mapping), msg) for field, msg in exc.errors]
        if renamed == exc.errors:
            raise
        raise InvalidInputError(renamed) from None


def _rename(field: str, mapping: dict[str, str]) -> str:
    head, sep, rest = field.partition(".")
    return mapping.get(field) or (mapping[head] + sep + rest if head in mapping else field)


def parse_bool(value: str | None, name: str) -> bool | None:
    """``true/false/yes/no`` text of a filter flag → bool (None when not given)."""
    from phantom_cli.config.booleans import parse_bool as _parse

    if value is None:
        return None
    try:
        return _parse(value)
    except ValueError:
        fail(f"{name}: expected true or false, got {value!r}")


# --------------------------------------------------------------------------- standard input


def stdin_is_tty() -> bool:
    """Is standard input a terminal? False when it is closed (``0<&-``: ``sys.stdin`` is None)."""
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def stdin_text() -> str:
    """The text piped on standard input ('' at a terminal, when nothing was piped or standard
    input is closed); its one trailing newline is dropped. Not UTF-8: a usage error."""
    if stdin_is_tty():
        return ""
    try:
        data = sys.stdin.read()
    except UnicodeDecodeError as e:
        fail(f"standard input is not UTF-8 text ({e.reason} at byte {e.start})")
    except (OSError, ValueError, AttributeError):  # closed (sys.stdin is None when fd 0 is)
        return ""
    return data[:-1] if data.endswith("\n") else data
