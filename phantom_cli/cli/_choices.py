"""Option checks shared by every command: enumerated values and blank names.

``typer.Option(None, "--gender", callback=one_of(enums.PLAYER_GENDERS))`` refuses a value
outside the API's enum before anything is sent, with the same message everywhere
(``--gender: must be one of 'female', 'male' or 'non-binary', got 'robot'``, exit 2),
whether the command lists (``skins list``) or creates (``personas create``). The values come
from :mod:`phantom_cli.client.enums`, the tuples the client models are built from.

Start-up rule: typer + stdlib only.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from typing import Any

import typer


def one_of(values: Sequence[str]) -> Callable[[Any], Any]:
    """An option callback that accepts None or one of ``values`` (exactly)."""
    allowed = tuple(values)

    def check(value: Any) -> Any:
        if value is None:
            return value
        if value not in allowed:
            quoted = [repr(v) for v in allowed]
            choices = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
            close = difflib.get_close_matches(str(value), allowed, n=1)
            extra = f" (did you mean {close[0]!r}?)" if close else ""
            # the client models' wording: "--gender: must be one of 'female', 'male' or …"
            raise typer.BadParameter(f"must be one of {choices}, got {value!r}{extra}")
        return value

    return check


def not_blank(value: Any) -> Any:
    """An option/argument callback refusing a value made only of whitespace."""
    if isinstance(value, str) and not value.strip():
        raise typer.BadParameter("must not be blank (only whitespace)")
    return value
