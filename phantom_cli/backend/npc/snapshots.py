"""The session state kept with each NPC message (area ``npc_snapshots``), so a session can be
forked as of any turn (``store.fork_session``, ``POST /api/v1/local/npcs/{persona_id}/fork``).

The NPC reply of a turn stores the state after that turn; the opening stores the initial state.
Messages written before this column existed have none: such a turn can only be forked at the
session's last turn (its current state) or at 0 (the initial state). An area of its own, so its
versions never collide with the ``npc`` area's.
"""

from __future__ import annotations

from ..db import Migration

MIGRATIONS = (
    Migration("npc_snapshots", 1, "session state per NPC message",
              "ALTER TABLE npc_messages ADD COLUMN snapshot TEXT;"),
)
