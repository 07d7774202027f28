"""The error envelope of spec/api.md: raise ``ApiError`` from anywhere in a handler."""

from __future__ import annotations

from typing import Any

CODES: dict[int, str] = {
    400: "INVALID_REQUEST",
    401: "UNAUTHORIZED",
    402: "PAYMENT_REQUIRED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


class ApiError(Exception):
    """An HTTP error with the spec's envelope ``{"error": {code, message, details}}``."""

    def __init__(
        self,
        status: int,
        code: str | None = None,
        message: str = "",
        details: list[Any] | dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.code = code or CODES.get(status, "ERROR")
        self.message = message or self.code.replace("_", " ").lower()
        self.details = details
        self.headers = headers or {}
        super().__init__(f"{status} {self.code}: {self.message}")

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            err["details"] = self.details
        return {"error": err}


def in_context(context: str, message: str) -> str:
    """``"context: message"`` without saying the same words twice: a message that already
    starts with the context's words is returned as it is ("model provider unreachable", not
    "model provider: model provider unreachable"), and so is one that names the context's words
    later on; so is one whose first words are the
    context's last ones ("engine unavailable" + "unavailable: …" → "engine unavailable: …")."""
    context = context.strip().rstrip(":").strip()
    message = message.strip()
    if not context:
        return message
    if not message:
        return context
    ctx_words = [w.strip(":,.").lower() for w in context.split()]
    msg_words = [w.strip(":,.").lower() for w in message.split()]
    if msg_words[: len(ctx_words)] == ctx_words:
        return message
    n = len(ctx_words)
    if any(msg_words[i : i + n] == ctx_words for i in range(len(msg_words) - n + 1)):
        return message  # the message says it already, later on ("…: model provider unreachable")
    for k in range(len(ctx_words) - 1, 0, -1):
        if msg_words[:k] == ctx_words[-k:]:
            return " ".join(context.split()[:-k] + [message])
    return f"{context}: {message}"


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, message=f"{what} {ident!r} not found")


def invalid(loc: list[str | int], msg: str) -> ApiError:
    return ApiError(400, message=f"{'.'.join(map(str, loc))}: {msg}", details=[{"loc": loc, "msg": msg}])


def envelope(status: int, message: str, details: Any = None) -> dict[str, Any]:
    return ApiError(status, message=message, details=details).body()
