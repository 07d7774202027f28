"""`phantom chat` and `phantom playground` — thin launchers for phantom_cli.tui."""


def chat() -> None:
    """Chat with a companion, an NPC or an activity (TUI)."""
    raise SystemExit("not built yet")


def playground() -> None:
    """Build a companion request, send it, copy it (TUI)."""
    raise SystemExit("not built yet")
