"""`phantom profile` — placeholder until its owner fills it in (see docs/architecture.md)."""

import typer

app = typer.Typer(no_args_is_help=True)
