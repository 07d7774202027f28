"""What the TUI needs to know about where it runs: the client, the profile, the backend kind.

The screens take an :class:`AppContext`, never settings or files directly. Its client is always
an :class:`~phantom_cli.client.AsyncPhantom` (tests point one at ``httpx.MockTransport`` or at a
live local server).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phantom_cli.conversation.identity import Player, default_session_id, os_user

if TYPE_CHECKING:
    from phantom_cli.client import AsyncPhantom

_SESSION_SAFE = re.compile(r"[^A-Za-z0-9_.:@-]")


@dataclass
class AppContext:
    client: AsyncPhantom
    backend: str = "local"  # "local" | "hosted"
    profile: str = "default"
    npc_persona: str = "abc123"
    player_name: str = "Player"
    player_gender: str = "non-binary"
    companion_persona_file: Path | None = None
    persona_dirs: list[Path] = field(default_factory=list)
    engine: str | None = None  # filled from local.info() on the local backend
    user_session_id: str | None = None
    # re-point the client at the local server after it went away (idle exit, `serve stop`):
    # blocking, may start the server; True when retrying makes sense. None: not applicable.
    reconnect: Callable[[AsyncPhantom], bool] | None = None

    @property
    def player(self) -> Player:
        """The player of NPC sessions (the profile's name and gender)."""
        return Player(self.player_name, self.player_gender)

    async def try_reconnect(self, exc: BaseException) -> bool:
        """After a connection error (not a timeout, not a cut stream): start/find the local
        server again and re-point the client; True when the failed call is worth one retry."""
        from .errors import is_connection_error

        if self.reconnect is None or not is_connection_error(exc):
            return False
        import asyncio

        try:
            return bool(await asyncio.to_thread(self.reconnect, self.client))
        except Exception:  # the server cannot be started: the original error is shown
            return False

    @property
    def session_id(self) -> str:
        """The NPC ``user_session_id`` the TUI uses for this profile (stable: reopening resumes)."""
        if self.user_session_id:
            return self.user_session_id
        return _SESSION_SAFE.sub("-", f"tui-{self.profile}")[:128]

    async def aclose(self) -> None:
        await self.client.aclose()


def persona_search_dirs() -> list[Path]:
    """Folders whose persona files the home screen lists: the user's ``config_dir()/personas``."""
    try:
        from phantom_cli.config import config_dir

        return [Path(config_dir()) / "personas"]
    except Exception:  # config unavailable: nothing to list from disk
        return []


def persona_files(ctx: AppContext) -> list[Path]:
    """Persona files to offer: the profile's, the user's folder, then the shipped examples."""
    from phantom_cli.personafile import FORMATS, example_personas

    found: list[Path] = []
    if ctx.companion_persona_file is not None:
        found.append(ctx.companion_persona_file)
    for folder in ctx.persona_dirs:
        if folder.is_dir():
            found.extend(sorted(p for p in folder.iterdir() if p.suffix.lower() in FORMATS))
    try:
        found.extend(example_personas())
    except OSError:
        pass
    seen: set[Path] = set()
    out = []
    for p in found:
        key = p.resolve() if p.exists() else p
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def build_context(profile: str | None = None, base_url: str | None = None) -> AppContext:
    """The context for the effective settings: resolves the profile and connects (may start
    the local backend)."""
    from phantom_cli.config import resolve

    from phantom_cli.connect import connect_async, refresh

    eff = resolve(profile=profile, base_url=base_url, api_key=None)

    def get(key: str, default: Any = None) -> Any:
        try:
            value = eff.get(key)
        except Exception:
            return default
        return default if value in (None, "") else value

    # the same player and NPC session as `phantom npc`: a conversation started in either
    # continues in the other (the profile's player_name, else the OS user)
    client = connect_async(eff)
    persona_file = get("companion_persona_file")
    profile_name = str(getattr(eff, "profile_name", "default") or "default")
    return AppContext(
        client=client,
        backend=str(getattr(eff, "backend", "local") or "local"),
        profile=profile_name,
        npc_persona=str(get("npc_persona", "abc123")),
        player_name=str(get("player_name") or os_user() or "Player"),
        player_gender=str(get("player_gender", "non-binary")),
        companion_persona_file=Path(persona_file).expanduser() if persona_file else None,
        persona_dirs=persona_search_dirs(),
        user_session_id=default_session_id(profile_name, get("player_name")),
        reconnect=lambda client: refresh(client, eff),
    )
