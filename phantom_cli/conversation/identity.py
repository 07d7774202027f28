"""Who is talking: the player's identity and the default NPC session id.

Standard library only (the CLI imports it on its start-up path). The CLI (`phantom npc …`) and
the TUI derive the same ``user_session_id`` from the same profile and player name, so a
conversation started in one continues in the other.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import Literal

PlayerGender = Literal["female", "male", "non-binary"]
DEFAULT_PLAYER_NAME = "Player"
DEFAULT_PLAYER_GENDER: PlayerGender = "non-binary"


def os_user() -> str | None:
    """The login name of the OS user, or None when it cannot be told."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return None


@dataclass(frozen=True)
class Player:
    """The player of an NPC session (``player_name`` / ``player_gender`` of seed 001)."""

    name: str = DEFAULT_PLAYER_NAME
    gender: str = DEFAULT_PLAYER_GENDER

    @classmethod
    def resolve(cls, name: str | None = None, gender: str | None = None) -> Player:
        """The given name, else the OS user, else ``Player``; the given gender, else
        ``non-binary``. (Flags and profile values are passed in by the caller.)"""
        return cls(name or os_user() or DEFAULT_PLAYER_NAME, gender or DEFAULT_PLAYER_GENDER)


def default_session_id(profile: str, player_name: str | None = None) -> str:
    """``cli-<profile>-<player>``: a valid ``user_session_id``, stable for a profile and player
    (the OS user when no player name is set)."""
    from .transcripts import chat_id_for

    who = player_name or os_user() or "player"
    return chat_id_for(who, prefix=f"cli-{profile}-")
