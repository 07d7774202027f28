"""Turn client errors into a short message and what the user can do about it.

Matched by the client's exception classes (``phantom_cli.client.errors``), so the TUI shows
every failure in the app instead of crashing.
"""

from __future__ import annotations

from dataclasses import dataclass

from phantom_cli.client.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InvalidInputError,
    StreamInterruptedError,
)

from .sanitize import clean

_WHAT_TO_DO = {
    400: "The request was refused as invalid; check the fields named above.",
    401: "The API key is missing or invalid. Run `phantom auth login` (or set PHANTOM_API_KEY) "
    "and reopen.",
    402: "The account is out of credit. Top up the balance, or switch to the local backend "
    "(`phantom profile use local`).",
    403: "The key lacks the scope this needs (chat:companion for companion chat). Create a key "
    "with that scope.",
    404: "Not found: it may have been deleted, or it is not available on this backend.",
    409: "Conflict: the state changed on the server (e.g. the NPC machine is completed — ctrl+n "
    "resets the session).",
    429: "Rate limited: wait a moment and retry (ctrl+r).",
    503: "The service is temporarily unavailable. Retry in a moment (ctrl+r).",
}


@dataclass
class ErrorInfo:
    title: str
    detail: str
    hint: str
    status: int | None = None
    partial: str | None = None

    def text(self) -> str:
        return f"{self.title}: {self.detail}\n{self.hint}".strip()


def is_stream_cut(exc: BaseException) -> bool:
    return isinstance(exc, StreamInterruptedError)


def is_connection_error(exc: BaseException) -> bool:
    """No answer from the server at all (refused, reset): not a timeout or a cut stream."""
    return isinstance(exc, APIConnectionError) and not isinstance(exc, APITimeoutError)


def describe(exc: BaseException) -> ErrorInfo:
    """A clean, human description of ``exc`` (server text is cleaned of control sequences)."""
    name = type(exc).__name__
    message = clean(getattr(exc, "message", None) or str(exc) or name)
    if isinstance(exc, StreamInterruptedError):
        return ErrorInfo(
            "Stream interrupted",
            message,
            "The reply was cut off; the partial text is kept. Press ctrl+r to retry.",
            partial=clean(exc.partial or ""),
        )
    if isinstance(exc, APIStatusError):
        status = exc.status
        hint = _WHAT_TO_DO.get(status) or (
            "The server failed; retry in a moment (ctrl+r)." if status >= 500 else ""
        )
        return ErrorInfo(f"Error {status}", message, hint, status=status)
    if isinstance(exc, InvalidInputError):
        detail = "; ".join(f"{clean(f)}: {clean(m)}" for f, m in exc.errors) or message
        return ErrorInfo("Invalid input", detail, "Fix the field named and send again.")
    if isinstance(exc, APITimeoutError):
        return ErrorInfo("Timed out", message, "Retry (ctrl+r), or raise timeout_read.")
    if isinstance(exc, APIConnectionError):
        return ErrorInfo(
            "Cannot reach the server",
            message,
            "Check the base URL (profile base_url, --base-url or PHANTOM_BASE_URL) and the "
            "network, then retry (ctrl+r). The local profile starts its server again by itself.",
        )
    return ErrorInfo(name, message, "Retry (ctrl+r).")
