"""The conversation core shared by the CLI, the TUI and the tools (scenario runner, inspector).

```python
from phantom_cli.conversation import (CompanionChat, NpcSession, InstanceChat, Delta, Done,
                                      Player, default_session_id)
conv = NpcSession(client, "abc123", session_id=None, machine_id=None, player=Player("Ana", "female"))
turns = await conv.open()              # list[Turn]
async for ev in conv.send("hello"):    # Delta(text) … then one Done(reply, marks, response, …)
    ...
```

See docs/architecture.md ("Conversation core"). ``identity`` and ``transcripts`` are standard
library only; the classes of ``core`` (which import the client's pydantic models) load on first
use (PEP 562), so ``from phantom_cli.conversation.identity import …`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .identity import Player, default_session_id, os_user

if TYPE_CHECKING:
    from .core import (
        CompanionChat,
        Conversation,
        Delta,
        Done,
        Event,
        InstanceChat,
        NpcSession,
        Turn,
    )
    from .sync import run_turn

_LAZY = {
    "CompanionChat": ".core",
    "Conversation": ".core",
    "Delta": ".core",
    "Done": ".core",
    "Event": ".core",
    "InstanceChat": ".core",
    "NpcSession": ".core",
    "Turn": ".core",
    "run_turn": ".sync",
}

__all__ = [
    "CompanionChat",
    "Conversation",
    "Delta",
    "Done",
    "Event",
    "InstanceChat",
    "NpcSession",
    "Player",
    "Turn",
    "default_session_id",
    "os_user",
    "run_turn",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
