"""`phantom keys` — mint, list and revoke API keys of the local backend (local only).

Start-up rule: typer + stdlib at module level.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

app = typer.Typer(no_args_is_help=True, help="API keys of the local backend (local extension).")

KEYS_PATH = "/api/v1/local/admin/keys"


def _client(ctx: typer.Context) -> Any:
    from phantom_cli.cli.common import get_client, get_settings

    eff = get_settings(ctx)
    if eff.backend != "local":
        typer.echo(f"phantom keys: profile {eff.profile_name!r} uses the hosted API; keys are managed "
                   "there. This command works with the local backend only.", err=True)
        raise typer.Exit(2)
    return get_client(ctx)


def _call(ctx: typer.Context, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    from phantom_cli.cli.common import EXIT_API, EXIT_AUTH, EXIT_NOT_FOUND, EXIT_USAGE

    resp = _client(ctx).request(method, path, json=body)
    if resp.status_code >= 400:
        try:
            msg = resp.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            msg = resp.text[:200]
        from phantom_cli.cli.output import visible

        typer.echo(f"phantom keys: {resp.status_code}: {visible(msg)}", err=True)
        code = {400: EXIT_USAGE, 401: EXIT_AUTH, 403: EXIT_AUTH, 404: EXIT_NOT_FOUND}.get(resp.status_code, EXIT_API)
        raise typer.Exit(code)
    return resp.json()


@app.command()
def create(
    ctx: typer.Context,
    user: Annotated[str, typer.Option("--user", help="Owner of the key (created if new).")] = "local",
    scope: Annotated[list[str] | None, typer.Option("--scope", help="A scope (repeat); none = full scope.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="A label for the key.")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the key record as JSON.")] = False,
) -> None:
    """Mint a key. The secret is printed once (stdout); it is not stored in clear."""
    rec = _call(ctx, "POST", KEYS_PATH, {"user": user, "scopes": scope or None, "name": name})
    if json_:
        typer.echo(json.dumps(rec))
        return
    typer.echo(rec["key"])
    typer.echo(f"key {rec['id']} for user {rec['user']!r}, scopes: {', '.join(rec['scopes'])}", err=True)


@app.command("list")
def list_(
    ctx: typer.Context,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List keys (never the secrets)."""
    from phantom_cli.cli.output import visible

    data = _call(ctx, "GET", KEYS_PATH)["data"]
    if json_:
        typer.echo(json.dumps(data))
        return
    for k in data:
        state = f"revoked {k['revoked_at']}" if k.get("revoked_at") else "active"
        typer.echo(f"{k['id']}  {visible(k['user'])}  {k['prefix']}…  {','.join(k['scopes'])}  {state}")


@app.command()
def revoke(ctx: typer.Context, key_id: Annotated[str, typer.Argument(help="The key id (from `keys list`).")]) -> None:
    """Revoke a key: it stops working at once."""
    from urllib.parse import quote

    rec = _call(ctx, "DELETE", f"{KEYS_PATH}/{quote(key_id, safe='')}")
    typer.echo(f"revoked {rec['id']}")
