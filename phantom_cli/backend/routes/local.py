"""Local extensions: server info and key administration (embedded backend only)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from phantom_cli import __version__
from phantom_cli.client import models as m

from ..auth import check_grant, create_key, forget_keys, list_keys, normalize_scopes, revoke_key
from ..endpoints import Ctx, endpoint
from ..errors import not_found


class KeyCreate(m.RequestModel):
    user: str = Field(default="local", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
    scopes: list[str] | None = Field(default=None, max_length=20)
    name: str | None = Field(default=None, max_length=120)


class KeyInfo(m.ResponseModel):
    id: str
    user: str
    scopes: list[str]
    name: str | None = None
    prefix: str
    created_at: str
    revoked_at: str | None = None
    last_used_at: str | None = None


class NewKey(KeyInfo):
    key: str


class KeyList(m.ResponseModel):
    data: list[KeyInfo]


# The settings a profile can give the server (docs/architecture.md, "Settings"), reported back
# by /local/info so a user (and the tests) can see what a running server actually uses.
INFO_SETTINGS = (
    "engine", "engine_base_url", "engine_model", "engine_api_key_env", "llama_model_path",
    "idle_timeout", "faults", "memory_cadence", "vector_store", "seed", "moderation_policy",
    "engine_embedding_model", "scripted_pace",
)  # fmt: skip


def _public_url(url: str | None) -> str | None:
    """A URL without user:password@ (never show credentials)."""
    if not url:
        return url
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit(parts._replace(netloc=netloc))
    return url


@endpoint("GET", "/api/v1/local/info", scope=None, response=m.ServerInfo,
          summary="Local backend: engine, version, user, settings (local extension)")
async def info(ctx: Ctx) -> m.ServerInfo:
    s = ctx.settings
    settings = {k: getattr(s, k, None) for k in INFO_SETTINGS}
    settings["engine_base_url"] = _public_url(settings["engine_base_url"])
    settings["engine_api_key_set"] = bool(s.engine_api_key)
    return m.ServerInfo(backend="local", version=__version__, engine=s.engine, engine_model=s.engine_model,
                        user=ctx.user.name, vector_store=s.vector_store, settings=settings)


@endpoint("POST", "/api/v1/local/admin/keys", scope="admin", body=KeyCreate, response=NewKey, status=201,
          summary="Mint an API key: no scopes = every scope but admin; a key grants only scopes it holds"
                  " (local extension)", errors=(400, 403))
async def create(ctx: Ctx) -> Any:
    b: KeyCreate = ctx.body
    scopes = normalize_scopes(b.scopes)
    check_grant(ctx.user, b.user, scopes)
    key, rec = create_key(ctx.db, b.user, scopes, b.name)
    return NewKey(key=key, **rec)


@endpoint("GET", "/api/v1/local/admin/keys", scope="admin", response=KeyList,
          summary="List API keys (never the secrets; local extension)")
async def keys(ctx: Ctx) -> Any:
    return KeyList(data=[KeyInfo(**k) for k in list_keys(ctx.db)])


@endpoint("DELETE", "/api/v1/local/admin/keys/{id}", scope="admin", response=KeyInfo,
          summary="Revoke an API key (local extension)", errors=(404,))
async def revoke(ctx: Ctx) -> Any:
    kid = ctx.params["id"]
    if not revoke_key(ctx.db, kid):
        raise not_found("active key", kid)
    forget_keys(ctx.app.state)
    return next(KeyInfo(**k) for k in list_keys(ctx.db) if k["id"] == kid)


routes = [info, create, keys, revoke]
