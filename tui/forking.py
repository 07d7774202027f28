""""Fork here": a new conversation whose first N turns are the current one's (docs/transcripts.md).

The chat screen decides N (the selected message's turn, or all of them) and opens what
:func:`fork_conversation` returns; the work itself is the conversation core's
(``phantom_cli.conversation.branches``), shared with `phantom transcripts fork`.
"""

from __future__ import annotations

from typing import Any

from phantom_cli.conversation import CompanionChat, InstanceChat, NpcSession
from phantom_cli.conversation.branches import BranchError, fork_companion, fork_instance, fork_npc
from phantom_cli.conversation.transcripts import Transcript

from .context import AppContext
from .conversations import CompanionConversation, InstanceConversation, NpcConversation

MAX_TRIES = 50


def _name(base: str, k: int) -> str:
    suffix = f"-fork{k}"
    return base[: 128 - len(suffix)] + suffix


def fork_turns(roles: list[str], selected: int | None) -> int:
    """How many turns a fork at message ``selected`` (an index in ``roles``, the roles of every
    message shown, oldest first; None: the last one) keeps: up to and including the selected
    reply's turn; at a user message, the turns before it (to say something else there)."""
    if not roles:
        return 0
    i = len(roles) - 1 if selected is None else max(0, min(selected, len(roles) - 1))
    users = sum(1 for r in roles[: i + 1] if r == "user")
    return users - 1 if roles[i] == "user" else users


async def fork_conversation(ctx: AppContext, conv: Any, at: int) -> Any:
    """Fork ``conv`` at turn ``at``; the new conversation (not opened yet). BranchError when it
    cannot be forked (an NPC session on the hosted API, say)."""
    from phantom_cli.client.errors import ConflictError

    user = ctx.player.name
    if isinstance(conv, CompanionChat):
        k = 1
        while Transcript(_name(conv.chat_id, k)).events() and k < MAX_TRIES:
            k += 1
        new_id = _name(conv.chat_id, k)
        fork_companion(conv.chat_id, at, new_id, user)
        return CompanionConversation(ctx, conv.persona, new_id, options=conv.options,
                                     transcript=Transcript(new_id))
    if isinstance(conv, NpcSession):
        for k in range(1, MAX_TRIES + 1):
            new_id = _name(conv.session_id, k)
            try:
                await fork_npc(ctx.client, conv.persona_id, conv.session_id, at, new_id,
                               conv.machine_id, user)
            except ConflictError as e:
                if "exists already" in str(e):
                    continue  # that name is taken: the next one
                raise
            new = NpcConversation(ctx, conv.persona_id, machine_id=conv.machine_id,
                                  title=conv.title)
            new.session_id = new_id
            return new
        raise BranchError("no free name for the forked session")
    if isinstance(conv, InstanceChat):
        log = await fork_instance(ctx.client, conv.instance_id, at, user)
        return InstanceConversation(ctx, log.id, conv.title)
    raise BranchError(f"a {getattr(conv, 'kind', 'conversation')} cannot be forked")
