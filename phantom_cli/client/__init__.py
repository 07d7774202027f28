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

import importlib
from typing import TYPE_CHECKING, Any

# The errors and the paths are light (stdlib only) and imported here; every other name is
# loaded on first use (PEP 562): the transport (``_core_sync``) must not pay for pydantic and
# the wire models (start-up, see _common).
from . import errors, paths
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

if TYPE_CHECKING:
    from . import models
    from ._common import Exchange
    from ._resources_async import AsyncPhantom
    from ._resources_sync import Phantom
    from ._streams import AsyncStream, Stream
    from .models import Page, StreamDelta

_WHERE = {
    "Phantom": "._resources_sync",
    "AsyncPhantom": "._resources_async",
    "Exchange": "._common",
    "Stream": "._streams",
    "AsyncStream": "._streams",
    "Page": ".models",
    "StreamDelta": ".models",
}


def __getattr__(name: str) -> Any:
    if name == "models":
        return importlib.import_module(".models", __name__)
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
