"""The TUI's conversations: the conversation core (``phantom_cli.conversation``) bound to the
app's context.

Everything a turn does (record, stream, stop, retry, edit, the NPC path) lives in the core and
is shared with the CLI; this module only builds the core's objects from an :class:`AppContext`
(client, player, NPC session id) and re-exports the names the screens use. Titles are cleaned
where they are rendered (``sanitize.plain``), never here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from phantom_cli.client.models import CompanionPersona
from phantom_cli.conversation import (
    CompanionChat,
    Conversation,
    Delta,
    Done,
    InstanceChat,
    NpcSession,
    Turn,
)
from phantom_cli.conversation.transcripts import Transcript

from .context import AppContext

__all__ = [
    "CompanionConversation",
    "Conversation",
    "Delta",
    "Done",
    "InstanceConversation",
    "NpcConversation",
    "Turn",
    "machine_states",
]


class CompanionConversation(CompanionChat):
    """A companion chat of the app. ``transcript=None`` keeps none (the playground's way);
    the home screen passes the persona's shared transcript."""

    def __init__(
        self,
        ctx: AppContext,
        persona: CompanionPersona | Mapping[str, Any],
        chat_id: str,
        *,
        options: Mapping[str, Any] | None = None,
        source: str | None = None,
        transcript: Transcript | None = None,
    ) -> None:
        super().__init__(
            ctx.client,
            persona,
            chat_id,
            player=ctx.player,
            options=options,
            source=source,
            transcript=transcript if transcript is not None else False,
        )
        self.ctx = ctx


class NpcConversation(NpcSession):
    """An NPC session of the app: the profile's player and NPC session id (the CLI's too)."""

    def __init__(
        self,
        ctx: AppContext,
        persona_id: str,
        *,
        machine_id: str | None = None,
        title: str | None = None,
    ) -> None:
        super().__init__(
            ctx.client,
            persona_id,
            ctx.session_id,
            machine_id,
            ctx.player,
            title=title,
            profile=ctx.profile,
        )
        self.ctx = ctx


class InstanceConversation(InstanceChat):
    def __init__(self, ctx: AppContext, instance_id: str, title: str | None = None) -> None:
        super().__init__(ctx.client, instance_id, title)
        self.ctx = ctx

    @classmethod
    async def create(cls, ctx: AppContext, activity_id: str) -> InstanceConversation:  # type: ignore[override]
        inst = await ctx.client.instances.create(activity_id)
        conv = cls(ctx, inst.id, inst.snapshot_title)
        conv.instance = inst
        return conv


def machine_states(conv: NpcSession) -> list[str]:
    """The state names of the session's machine (empty when unknown: the hosted API)."""
    return conv.states
