"""The one boolean parser of the project (stdlib only: config, the CLI and the backend use it).

    from phantom_cli.config.booleans import parse_bool
    parse_bool("yes") -> True; parse_bool("off") -> False; parse_bool("maybe") -> ValueError

Words (case and surrounding spaces ignored): true = ``1 true t yes y on``,
false = ``0 false f no n off``. Anything else (also the empty string) is an error; callers put
the name of the flag, key or variable in front of the message.
"""

from __future__ import annotations

TRUE_WORDS = frozenset({"1", "true", "t", "yes", "y", "on"})
FALSE_WORDS = frozenset({"0", "false", "f", "no", "n", "off"})


def parse_bool(value: object) -> bool:
    """``value`` (a bool, or text / bytes) -> bool; ValueError naming the accepted words."""
    if isinstance(value, bool):
        return value
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    low = text.strip().lower()
    if low in TRUE_WORDS:
        return True
    if low in FALSE_WORDS:
        return False
    raise ValueError(f"{text!r} is not a boolean (use true or false)")
