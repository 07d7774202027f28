"""The API's enumerated values (spec/api.md), stdlib only.

``models.py`` builds its ``Literal`` types from these tuples, and the CLI validates its options
against the same tuples without importing pydantic (start-up budget): one list of values, the
same check everywhere (``phantom skins list --gender robot`` and ``phantom personas create
--gender robot`` are refused alike, and the embedded backend refuses them with a 400).
"""

from __future__ import annotations

ROLES = ("user", "assistant")
PLAYER_GENDERS = ("female", "male", "non-binary")
INSTANCE_STATUSES = ("active", "archived")
MESSAGE_ROLES = ("user", "assistant", "system")
MEDIUMS = ("text", "voice", "image", "video")
MEDIA_TYPES = ("image", "video", "other")
RELATION_TYPES = ("generated", "favorited", "uploaded", "unlocked")
SCRATCHPAD_TYPES = ("companion", "conversation")
NSFW_LEVELS = ("none", "suggestive", "explicit")
GENERATION_MODES = ("llm",)
FIRST_FRAME_SOURCES = ("generate", "skin_reference")
JOB_STATUSES = ("queued", "running", "succeeded", "failed")
STYLES = ("anime", "realistic")  # (decided) skins and persona style_preference
SKIN_GENDERS = PLAYER_GENDERS  # (decided) the skins' genders are the players'


def is_blank(text: str | None) -> bool:
    """True for a value made only of whitespace (a name must have a visible character)."""
    return text is not None and not text.strip()
