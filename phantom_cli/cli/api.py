"""`phantom api` — raw passthrough, placeholder."""


def api() -> None:
    """Call any API path."""
    raise SystemExit("not built yet")
