"""Copying text: a native clipboard tool when there is one, else the terminal (OSC 52).

Only a native tool's success is reported as "copied": OSC 52 is a request to the terminal
that nothing confirms (tmux's default ``set-clipboard external`` drops it, for one).
pyperclip finds the tool: ``wl-copy`` (Wayland), ``xclip``/``xsel`` (X11), ``pbcopy`` (macOS),
``clip.exe`` (Windows/WSL).
"""

from __future__ import annotations

from typing import Any


def native_copy(text: str) -> bool:
    """Copy with the system's clipboard tool; False when there is none or it failed."""
    try:
        import pyperclip
    except ImportError:  # pragma: no cover - a declared dependency
        return False
    try:
        pyperclip.copy(text)
    except Exception:  # PyperclipException (no tool), or the tool failed (no display …)
        return False
    return True


def copy_text(app: Any, text: str, what: str) -> str:
    """Copy ``text``; the message to show, true to what is known about the result."""
    app.copy_to_clipboard(text)  # OSC 52 as well: the terminal may be remote (ssh)
    n = len(text)
    if native_copy(text):
        return f"Copied {what} to the clipboard ({n} characters)."
    return (f"Sent {what} to the terminal's clipboard (OSC 52, {n} characters); it may not "
            "arrive (tmux, some terminals) — F6 saves it to a file.")
