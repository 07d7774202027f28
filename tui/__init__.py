"""phantom_cli.tui — the Textual app of `phantom chat` and `phantom playground`.

Imported only inside the commands (start-up rule); the heavy imports live in the modules.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import AppContext


def chat_source(ctx: AppContext, *, npc: str | None = None, persona: Path | None = None,
                instance: str | None = None, activity: str | None = None) -> Any:
    """The conversation a direct-entry flag names, or ``None`` for the home screen."""
    from .conversations import InstanceConversation, NpcConversation

    if npc:
        return NpcConversation(ctx, npc)
    if persona is not None:
        from .home import persona_conversation

        return persona_conversation(ctx, persona)
    if instance:
        return InstanceConversation(ctx, instance)
    if activity:
        async def create() -> Any:
            return await InstanceConversation.create(ctx, activity)

        return create
    return None


def run_chat(ctx: AppContext, **entry: Any) -> None:
    from .app import PhantomApp

    source = chat_source(ctx, **entry)
    PhantomApp(ctx, start="chat" if source is not None else "home", source=source).run()


def run_playground(ctx: AppContext, persona: Any = None) -> None:
    from .app import PhantomApp

    PhantomApp(ctx, start="playground", source=persona).run()
