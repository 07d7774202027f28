"""Everything the server is made of, listed in one place. Nothing registers itself on import.

- ``ROUTE_MODULES``   — modules under ``routes/``; each exposes ``routes`` (a list of Starlette
  routes, usually made with ``endpoints.endpoint``).
- ``MIGRATION_AREAS`` — (area, module) in the order they are applied; each module has a
  ``MIGRATIONS`` tuple of ``db.Migration`` for that area, versions 1, 2, 3 …
- ``JOB_KINDS``       — ``jobs.JobKind`` objects (``"module:NAME"``) the job runner serves.
- ``STARTUP`` / ``SHUTDOWN`` — ``async def hook(app)`` (``"module:function"``), run in this order
  after migrations / before the database closes.

To add a table, a route module, a job kind or a hook, add one line here (tests/backend/
test_registry.py checks that every routes module is listed and that a fresh database has every
table some migration creates). Names are strings so this module imports nothing heavy; they
are resolved when ``app.create_app`` (or ``db.migrate``) asks for them.
"""

from __future__ import annotations

import importlib
from typing import Any

ROUTE_MODULES: tuple[str, ...] = (
    "activities",
    "admin",
    "companion",
    "generate",
    "instances",
    "local",
    "media",
    "memory_jobs",
    "npc",
    "personas",
    "scratchpad",
    "skins",
)

MIGRATION_AREAS: tuple[tuple[str, str], ...] = (
    ("core", "phantom_cli.backend.schema"),
    ("content", "phantom_cli.backend.content"),
    ("companion", "phantom_cli.backend.memory.store"),
    ("jobs", "phantom_cli.backend.jobs"),
    ("generation", "phantom_cli.backend.generation.jobs"),  # v2 moves its rows into ``jobs``
    ("npc", "phantom_cli.backend.npc.store"),
    ("npc_snapshots", "phantom_cli.backend.npc.snapshots"),  # state per NPC message (forks)
    ("scratchpad", "phantom_cli.backend.scratchpad"),
    ("idempotency", "phantom_cli.backend.idempotency"),  # Idempotency-Key outcomes
)

JOB_KINDS: tuple[str, ...] = (
    "phantom_cli.backend.memory.service:EXTRACTION",  # memory.extract, lane default
    "phantom_cli.backend.generation.jobs:RENDER",  # generation.render, lane generation
)

STARTUP: tuple[str, ...] = (
    "phantom_cli.backend.routes.admin:load_seed_on_start",  # seed content
    "phantom_cli.backend.memory.service:startup",  # the app's memory service
    "phantom_cli.backend.generation.jobs:recover_on_start",  # orphan media files, before jobs run
    "phantom_cli.backend.jobs:ensure_runner",  # requeue interrupted jobs, start the lanes
)

SHUTDOWN: tuple[str, ...] = ("phantom_cli.backend.jobs:stop_runner",)


def resolve(ref: str) -> Any:
    """``"package.module:name"`` -> the object."""
    mod, _, name = ref.partition(":")
    return getattr(importlib.import_module(mod), name)


def route_modules() -> list[Any]:
    return [importlib.import_module(f"phantom_cli.backend.routes.{name}") for name in ROUTE_MODULES]


def migrations() -> list[Any]:
    """Every migration, in the order it is applied. Checks each area's list: right area,
    versions 1, 2, 3 … with no gap."""
    out = []
    for area, modname in MIGRATION_AREAS:
        ms = list(importlib.import_module(modname).MIGRATIONS)
        versions = [m.version for m in ms]
        if any(m.area != area for m in ms) or versions != list(range(1, len(ms) + 1)):
            raise ValueError(f"{modname}.MIGRATIONS: must be area {area!r}, versions 1..n in order")
        out.extend(ms)
    return out


def job_kinds() -> list[Any]:
    return [resolve(ref) for ref in JOB_KINDS]


def startup_hooks() -> list[Any]:
    return [resolve(ref) for ref in STARTUP]


def shutdown_hooks() -> list[Any]:
    return [resolve(ref) for ref in SHUTDOWN]
