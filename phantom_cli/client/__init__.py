"""The Phantom API client (SDK): ``Phantom`` (sync) and ``AsyncPhantom`` over httpx.

```python
from phantom_cli.client import Phantom

with Phantom(base_url="http://127.0.0.1:8765", api_key="…") as c:
    reply = c.companion.chat(chat_id="c1", persona={"name": "Mira"},
                             messages=[{"role": "user", "content": "hi"}])
```

Contract: docs/architecture.md, "Client". Knows nothing of Typer, Textual or the backend.
"""

from __future__ import annotations

from . import errors, models, paths
from ._common import Exchange
from ._resources_async import AsyncPhantom
from ._resources_sync import Phantom
from ._streams import AsyncStream, Stream
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    InvalidInputError,
    MissingAPIKeyError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    PhantomError,
    RateLimitError,
    ServiceUnavailableError,
    StreamInterruptedError,
)
from .models import Page, StreamDelta

__all__ = [
    "Phantom",
    "AsyncPhantom",
    "Exchange",
    "Page",
    "StreamDelta",
    "Stream",
    "AsyncStream",
    "errors",
    "models",
    "paths",
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
]
