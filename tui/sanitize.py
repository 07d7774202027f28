"""Make text from a model or a server safe to show: no markup, no terminal control sequences.

Every string that came over the wire goes through :func:`clean` before it reaches a widget,
and widgets show it as plain :class:`~textual.content.Content` (never parsed as markup).
Control characters are not dropped silently: they are replaced by their visible Unicode
"control picture" (ESC becomes ``␛``), so a hostile sequence is shown inert and intact.
"""

from __future__ import annotations

from phantom_cli._text import UNSAFE

_KEEP = {"\n", "\t"}


def _build_table() -> dict[int, str]:
    """Every character of the one unsafe set (``phantom_cli._text.UNSAFE``) but ``\n``/``\t``:
    C0 as its control picture (␀ … ␟, ␛ for ESC), DEL as ␡, the rest (C1 controls such as the
    8-bit CSI, bidi overrides and isolates) as U+FFFD."""
    table: dict[int, str] = {}
    for ch in UNSAFE - _KEEP:
        code = ord(ch)
        if code < 0x20:
            table[code] = chr(0x2400 + code)
        elif code == 0x7F:
            table[code] = "\u2421"
        else:
            table[code] = "\ufffd"
    return table


_TABLE = _build_table()


def clean(text: object) -> str:
    """``text`` as a string with every terminal control character made visible and inert.

    Works chunk by chunk (each character is mapped on its own), so a sequence split across
    two stream deltas is neutralised just the same. ``\\r\\n`` becomes ``\\n``.
    """
    s = text if isinstance(text, str) else str(text)
    if "\r" in s:
        s = s.replace("\r\n", "\n")
    return s.translate(_TABLE)


def plain(text: object):  # -> textual.content.Content
    """A Textual ``Content`` holding ``text`` cleaned and never parsed as markup."""
    from textual.content import Content

    return Content(clean(text))
