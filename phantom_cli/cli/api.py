"""`phantom api METHOD PATH` — a raw, authenticated passthrough to any API path (like gh api)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from phantom_cli.cli.common import (
    exit_for_status,
    fail,
    get_client,
    handle_errors,
    output_mode,
)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_BODY_METHODS = ("POST", "PUT", "PATCH")


def _read_text(source: str, flag: str) -> str:
    """The text of file ``source`` ('-' = stdin); an unreadable file is a usage error."""
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"{flag}: cannot read {source!r}: {exc.strerror or exc}")
    except UnicodeDecodeError:
        fail(f"{flag}: {source!r} is not UTF-8 text")


def _typed(text: str) -> Any:
    """-F value: true/false/null, integers and numbers become JSON values; @file reads a file."""
    if text.startswith("@"):
        return _read_text(text[1:], "-F")
    if text in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[text]
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _fields(raw: list[str], typed: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for items, convert in ((raw, False), (typed, True)):
        for item in items:
            key, sep, value = item.partition("=")
            if not sep or not key:
                fail(f"field {item!r}: expected key=value", "example: -f name=Ash -F featured=true")
            out[key] = _typed(value) if convert else value
    return out


def _read_input(source: str) -> Any:
    text = _read_text(source, "--input")
    try:
        return json.loads(text)
    except ValueError as exc:
        fail(f"--input: {source!r} is not valid JSON: {exc}")


@handle_errors
def api(
    ctx: typer.Context,
    method: str = typer.Argument(..., metavar="METHOD", help="GET, POST, PUT, PATCH, DELETE."),
    path: str = typer.Argument(..., metavar="PATH", help="API path, e.g. /api/v1/skins."),
    field: list[str] = typer.Option(
        [], "--field", "-f", metavar="KEY=VALUE", help="String field (body, or query for GET)."
    ),
    typed_field: list[str] = typer.Option(
        [],
        "--typed-field",
        "-F",
        metavar="KEY=VALUE",
        help="Typed field: true/false/null/numbers as JSON; @FILE reads a file.",
    ),
    input_: str | None = typer.Option(
        None, "--input", metavar="FILE", help="JSON request body from a file ('-' = stdin)."
    ),
    include: bool = typer.Option(
        False, "--include", "-i", help="Print status and headers (stderr)."
    ),
    jq: str | None = typer.Option(None, "--jq", metavar="EXPR", help="Filter the JSON response."),
) -> None:
    """Call any API path with your key and print the response JSON.

    -f/-F fields build a JSON body for POST/PUT/PATCH, or query parameters for GET/DELETE.

    \b
    Examples:
      phantom api GET /api/v1/skins -f limit=5
      phantom api POST /api/v1/personas -f name=Ash -F is_default=true
      echo '{"content":"hi"}' | phantom api POST /api/v1/activity-instances/ID/messages --input -
    """
    from phantom_cli.cli.output import dumps_json, visible

    method = method.upper()
    if method not in METHODS:
        fail(f"method {method!r} is not one of {', '.join(METHODS)}")
    if "://" in path or path.startswith("//"):
        fail("give a path such as /api/v1/skins, not a URL", "use --base-url to pick the server")
    if not path.startswith("/"):
        path = "/" + path
    fields = _fields(field, typed_field)
    out = output_mode(ctx, False, jq)
    params: dict[str, Any] | None = None
    body: Any = None
    if input_ is not None:
        body = _read_input(input_)
        if fields:
            params = fields
    elif fields:
        if method in _BODY_METHODS:
            body = fields
        else:
            params = fields
    client = get_client(ctx)
    response = client.request(method, path, params=params, json=body, raise_for_status=False)
    if include:
        print(f"HTTP {response.status_code} {visible(response.reason_phrase)}", file=sys.stderr)
        for name, value in response.headers.items():
            print(f"{visible(name)}: {visible(value)}", file=sys.stderr)
    text = response.text
    if text:
        try:
            data = response.json()
        except ValueError:
            sys.stdout.write(
                visible(text, keep_newlines=True) + ("" if text.endswith("\n") else "\n")
            )
        else:
            if jq and response.is_success:
                out.emit_json(data)
            else:
                sys.stdout.write(dumps_json(data) + "\n")
    sys.stdout.flush()
    if not response.is_success:
        message = f"{method} {path} → HTTP {response.status_code}"
        print(f"error: {visible(message)}", file=sys.stderr)
        raise typer.Exit(exit_for_status(response.status_code))
