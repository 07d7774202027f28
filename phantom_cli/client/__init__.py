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

if TYPE_CHECKING:
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

# Names are loaded on first use (PEP 562): ``phantom_cli.client.errors`` or the transport
# (``_core_sync``) must not pay for pydantic and the wire models (start-up, see _common).
_WHERE = {
    "Phantom": "._resources_sync",
    "AsyncPhantom": "._resources_async",
    "Exchange": "._common",
    "Stream": "._streams",
    "AsyncStream": "._streams",
    "Page": ".models",
    "StreamDelta": ".models",
    "errors": None,
    "models": None,
    "paths": None,
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        where = _WHERE[name]
        if where is None:
            return importlib.import_module(f".{name}", __name__)
        value = getattr(importlib.import_module(where, __name__), name)
    elif name in __all__:
        value = getattr(importlib.import_module(".errors", __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
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
