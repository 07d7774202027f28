"""Exceptions raised by :class:`phantom_cli.client.Phantom` and ``AsyncPhantom``.

Hierarchy (docs/architecture.md, "Client")::

    PhantomError
    ├── InvalidInputError          refused client-side, nothing was sent
    ├── MissingAPIKeyError         no key for a hosted profile, nothing was sent
    ├── APIConnectionError         no HTTP answer (DNS, refused, reset …)
    │   └── APITimeoutError
    ├── StreamInterruptedError     a stream broke after bytes arrived (.partial)
    └── APIStatusError             the server answered with an error status
        ├── BadRequestError 400, AuthenticationError 401, PaymentRequiredError 402,
        ├── PermissionDeniedError 403, NotFoundError 404, ConflictError 409,
        └── RateLimitError 429, ServiceUnavailableError 503, InternalServerError other 5xx

Messages never contain the API key; server-provided text is untrusted and must be escaped by
whoever renders it (Rich markup, Textual).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "PhantomError",
    "InvalidInputError",
    "MissingAPIKeyError",
    "APIConnectionError",
    "APITimeoutError",
    "StreamInterruptedError",
    "APIStatusError",
    "BadRequestError",
    "AuthenticationError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "NotFoundError",
    "ConflictError",
    "RateLimitError",
    "ServiceUnavailableError",
    "InternalServerError",
    "STATUS_CLASSES",
    "CODE_STATUS",
    "status_error_class",
]


class PhantomError(Exception):
    """Base class of every error the client raises."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidInputError(PhantomError, ValueError):
    """Input refused before anything was sent.

    ``errors`` is a list of ``(field, message)``; ``field`` is a dotted path such as
    ``persona.name`` or ``messages[0].content``.
    """

    def __init__(self, errors: list[tuple[str, str]], message: str | None = None) -> None:
        self.errors = list(errors)
        if message is None:
            message = "invalid input: " + "; ".join(
                f"{field}: {msg}" if field else msg for field, msg in self.errors
            )
        super().__init__(message)

    @property
    def fields(self) -> list[str]:
        return [f for f, _ in self.errors]


class MissingAPIKeyError(PhantomError):
    """No API key is configured for a profile that needs one; nothing was sent.

    ``profile`` names the profile (``phantom_cli.connect`` raises it for a hosted profile).
    """

    def __init__(self, profile: str, message: str | None = None) -> None:
        super().__init__(message or f"no API key for profile '{profile}' (run phantom auth login)")
        self.profile = profile


class APIConnectionError(PhantomError):
    """The server could not be reached or the connection broke before an answer."""

    def __init__(self, message: str = "connection error", *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class APITimeoutError(APIConnectionError):
    """The request timed out (connect, read, write or pool)."""


class StreamInterruptedError(PhantomError):
    """A streamed answer stopped after some bytes arrived; ``partial`` is the text so far."""

    def __init__(self, message: str, *, partial: str = "") -> None:
        super().__init__(message)
        self.partial = partial


class APIStatusError(PhantomError):
    """The server answered with an error status."""

    status: int

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        details: Any = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        response_text: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.status_code = status
        self.code = code
        self.details = details
        self.request_id = request_id
        self.retry_after = retry_after
        self.response_text = response_text

    def __str__(self) -> str:
        head = f"{self.status}"
        if self.code:
            head += f" {self.code}"
        text = f"{head}: {self.message}"
        if self.request_id:
            text += f" (request id {self.request_id})"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, code={self.code!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )


class BadRequestError(APIStatusError):
    """400 INVALID_REQUEST."""


class AuthenticationError(APIStatusError):
    """401 UNAUTHORIZED: missing or invalid key."""


class PaymentRequiredError(APIStatusError):
    """402 PAYMENT_REQUIRED."""


class PermissionDeniedError(APIStatusError):
    """403 FORBIDDEN: the key lacks the scope."""


class NotFoundError(APIStatusError):
    """404 NOT_FOUND."""


class ConflictError(APIStatusError):
    """409 CONFLICT (archived instance, scratchpad version, completed NPC machine …)."""


class RateLimitError(APIStatusError):
    """429 RATE_LIMITED (``retry_after`` seconds when the server said)."""


class ServiceUnavailableError(APIStatusError):
    """503 SERVICE_UNAVAILABLE: transient."""


class InternalServerError(APIStatusError):
    """Any other 5xx."""


STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}

CODE_STATUS: dict[str, int] = {
    "INVALID_REQUEST": 400,
    "UNAUTHORIZED": 401,
    "PAYMENT_REQUIRED": 402,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "RATE_LIMITED": 429,
    "SERVICE_UNAVAILABLE": 503,
    "INTERNAL": 500,
    "INTERNAL_ERROR": 500,
}


def status_error_class(status: int) -> type[APIStatusError]:
    """The exception class for an HTTP status (other 4xx → APIStatusError, 5xx → Internal)."""
    if status in STATUS_CLASSES:
        return STATUS_CLASSES[status]
    if status >= 500:
        return InternalServerError
    return APIStatusError
