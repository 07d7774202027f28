"""`phantom keys` — mint, list and revoke API keys of the local backend (local only).

Start-up rule: typer + stdlib at module level.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from phantom_cli.cli import _help
from phantom_cli.cli.common import handle_errors
from phantom_cli.client import paths

app = typer.Typer(
    no_args_is_help=True,
    help=_help.group_help("keys"),
    epilog=_help.examples("keys"),
)

KEYS_PATH = f"{paths.LOCAL_ADMIN}/keys"


def _client(ctx: typer.Context) -> Any:
    from phantom_cli.cli.common import get_client, get_settings

    eff = get_settings(ctx)
    if eff.backend != "local":
        typer.echo(f"error: profile {eff.profile_name!r} uses the hosted API; keys are managed "
                   "there\nhint: this command works with the local backend only", err=True)
        raise typer.Exit(2)
    return get_client(ctx)


def _call(ctx: typer.Context, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """The JSON answer; API errors propagate to ``handle_errors`` (message + exit code)."""
    return _client(ctx).request(method, path, json=body).json()


@app.command(epilog="Examples: phantom keys create --user alice --scope chat:companion --name laptop; "
                     "phantom keys create --user ops --scope admin --scope skins")
@handle_errors
def create(
    ctx: typer.Context,
    user: Annotated[str, typer.Option("--user", help="Owner of the key (created if new).")] = "local",
    scope: Annotated[list[str] | None, typer.Option(
        "--scope", help="A scope (repeat). None = every scope but admin; 'admin' only when named, and only a "
                        "key with admin can grant it. A key grants only scopes it holds.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="A label for the key.")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the key record as JSON.")] = False,
) -> None:
    """Mint a key (needs the admin scope). The secret is printed once (stdout); it is not stored in clear."""
    rec = _call(ctx, "POST", KEYS_PATH, {"user": user, "scopes": scope or None, "name": name})
    if json_:
        typer.echo(json.dumps(rec))
        return
    typer.echo(rec["key"])
    typer.echo(f"key {rec['id']} for user {rec['user']!r}, scopes: {', '.join(rec['scopes'])}", err=True)


@app.command("list", epilog="Examples: phantom keys list; phantom keys list --json")
@handle_errors
def list_(
    ctx: typer.Context,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List keys with their user and scopes (never the secrets; needs the admin scope)."""
    from phantom_cli.cli.output import visible

    data = _call(ctx, "GET", KEYS_PATH)["data"]
    if json_:
        typer.echo(json.dumps(data))
        return
    rows = [("ID", "USER", "PREFIX", "STATE", "SCOPES")]
    for k in data:
        state = f"revoked {k['revoked_at']}" if k.get("revoked_at") else "active"
        rows.append((visible(str(k["id"])), visible(str(k["user"])), visible(str(k["prefix"])) + "…", state,
                     visible(",".join(map(str, k["scopes"])))))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4])


@app.command(epilog="Example: phantom keys revoke key_123")
@handle_errors
def revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The key id (from `keys list`).")],
    force: Annotated[
        bool, typer.Option("--force", help="Also revoke the key this CLI itself uses.")
    ] = False,
) -> None:
    """Revoke a key (needs the admin scope): it stops working at once."""
    from urllib.parse import quote

    from phantom_cli.cli.common import fail
    from phantom_cli.connect import read_local_key

    if not force:
        own = read_local_key()
        mine = [
            k for k in _call(ctx, "GET", KEYS_PATH)["data"]
            if k.get("id") == key_id and own and k.get("prefix") and own.startswith(k["prefix"])
        ]
        if mine:
            fail(
                f"{key_id} is the local backend's own key (data/backend/api_key): revoking it "
                "locks this CLI out",
                "pass --force to revoke it anyway; then 'phantom serve stop' (the next start "
                "makes a new local key)",
            )
    rec = _call(ctx, "DELETE", f"{KEYS_PATH}/{quote(key_id, safe='')}")
    typer.echo(f"revoked {rec['id']}")
