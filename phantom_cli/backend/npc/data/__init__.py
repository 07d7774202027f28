"""Shipped NPC persona files (phantom-npc/1, JSON or TOML)."""
