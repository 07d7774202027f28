"""Make text from a model or a server safe to show: no markup, no terminal control sequences.

Every string that came over the wire goes through :func:`clean` before it reaches a widget,
and widgets show it as plain :class:`~textual.content.Content` (never parsed as markup).
Control characters are not dropped silently: they are replaced by their visible Unicode
"control picture" (ESC becomes ``␛``), so a hostile sequence is shown inert and intact.
"""

from __future__ import annotations

_KEEP = {"\n", "\t"}


def _build_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0x20):
        if chr(code) not in _KEEP:
            table[code] = chr(0x2400 + code)  # ␀ … ␟ (␛ for ESC)
    table[0x7F] = "\u2421"  # ␡
    for code in range(0x80, 0xA0):  # C1 controls (8-bit CSI, OSC, …)
        table[code] = "\ufffd"
    # bidi overrides and isolates can reorder what the user sees
    for code in (0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069):
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
