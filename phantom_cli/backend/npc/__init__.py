"""NPC state machines: the data format, validation, the turn runner and persistence.

```python
from phantom_cli.backend.npc import load_machine_file, parse_persona, MachineError
persona = load_machine_file("merchant.json")     # or .toml; MachineError names file + state
```
Shipped personas live in ``data/`` (``abc123``: the Hollow Market merchant of seed 001;
``ironbridge``: a toll-keeper). The format is described in ``machine.py``.
"""

from .machine import (
    FORMAT,
    Machine,
    MachineError,
    NpcPersona,
    load_machine_file,
    parse_persona,
    render_line,
    shipped_personas,
)

__all__ = [
    "FORMAT",
    "Machine",
    "MachineError",
    "NpcPersona",
    "load_machine_file",
    "parse_persona",
    "render_line",
    "shipped_personas",
]
