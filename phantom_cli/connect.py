"""Effective settings → a ready client (docs/architecture.md, "Connect").

An explicit base URL (flag or env) is used as is, even with the local profile. Otherwise, for
the ``local`` profile, the background server is started if needed (with the profile's engine
settings) and its key is read from ``data_dir()/backend/api_key``.

Start-up rule: stdlib only at module level (the CLI imports this lazily anyway).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from phantom_cli.client import AsyncPhantom, Phantom
    from phantom_cli.client._core_sync import APIClient
    from phantom_cli.config import Effective

_OPTION_KEYS = (
    "engine", "engine_base_url", "engine_model", "engine_api_key_env", "llama_model_path",
    "idle_timeout", "faults", "memory_cadence", "vector_store", "seed", "moderation_policy",
    "engine_embedding_model", "scripted_pace",
)  # fmt: skip
_PATH_KEYS = ("llama_model_path", "moderation_policy")


def server_options(eff: Effective) -> dict[str, Any]:
    """The profile's local-backend settings, as ``runtime.ensure_server`` takes them.

    File paths are made absolute here: the background server does not run in this directory.
    """
    opts = {k: eff.get(k) for k in _OPTION_KEYS if eff.get(k) not in (None, "")}
    for key in _PATH_KEYS:
        if key in opts:
            opts[key] = str(Path(str(opts[key])).expanduser().absolute())
    return opts


def local_key_file() -> Path:
    from phantom_cli.config import local_api_key_file

    return local_api_key_file()


def read_local_key() -> str | None:
    try:
        key = local_key_file().read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return key or None


def target(eff: Effective) -> tuple[str, str | None]:
    """``(base_url, api_key)`` for the effective settings, starting the local server if needed.

    A hosted profile without any key (flag, ``PHANTOM_API_KEY``, keyring) raises
    :class:`~phantom_cli.client.errors.MissingAPIKeyError` before anything is sent.
    """
    if eff.backend != "local" and not eff.api_key:
        from phantom_cli.client.errors import MissingAPIKeyError

        raise MissingAPIKeyError(eff.profile_name)
    if eff.base_url:
        key = eff.api_key
        if key is None and eff.backend == "local":
            key = read_local_key()
        return eff.base_url, key
    if eff.backend != "local":
        from phantom_cli.config import HOSTED_BASE_URL

        return HOSTED_BASE_URL, eff.api_key
    from phantom_cli.backend import runtime

    try:
        info = runtime.ensure_server(server_options(eff))
    except runtime.RuntimeErrorBackend as exc:
        from phantom_cli.client.errors import APIConnectionError

        raise APIConnectionError(f"could not start the local backend: {exc}") from None
    key = eff.api_key or read_local_key()
    return str(info["base_url"]), key


def _kwargs(eff: Effective, debug_hook: Any) -> dict[str, Any]:
    base_url, key = target(eff)
    return {
        "base_url": base_url,
        "api_key": key,
        "timeout": eff.timeout(),
        "max_retries": int(eff.get("max_retries", 2)),
        "debug_hook": debug_hook,
    }


def connect(eff: Effective, debug_hook: Any = None) -> Phantom:
    from phantom_cli.client import Phantom

    return Phantom(**_kwargs(eff, debug_hook))


def connect_transport(eff: Effective, debug_hook: Any = None) -> APIClient:
    """The transport of :func:`connect` without the typed resources (no pydantic): requests,
    retries, error mapping and raw JSON pages, for printing what the server sent."""
    from phantom_cli.client._core_sync import APIClient

    return APIClient(**_kwargs(eff, debug_hook))


def connect_async(eff: Effective, debug_hook: Any = None) -> AsyncPhantom:
    from phantom_cli.client import AsyncPhantom

    return AsyncPhantom(**_kwargs(eff, debug_hook))


def refresh(client: Phantom | AsyncPhantom, eff: Effective) -> bool:
    """Point ``client`` at the local server again after it went away (idle exit, `serve stop`).

    Only for the ``local`` profile with an automatic base URL: the server is started again if
    needed (new port, maybe a new key) and the client is updated in place. Returns True when the
    client now points somewhere new, i.e. retrying the failed call makes sense. Blocking (it may
    spawn the server): an async caller runs it in a worker thread.
    """
    if eff.base_url or eff.backend != "local":
        return False
    base_url, key = target(eff)
    base_url = base_url.rstrip("/")
    changed = base_url != client.base_url or key != getattr(client, "_api_key", None)
    client.base_url = base_url
    client._api_key = key  # noqa: SLF001 - the client reads it for every request
    return changed
