"""Decode untrusted JSON (request bodies, imported cards) with bounds, never a 500.

``json.loads`` alone raises ``RecursionError`` on deeply nested input (``[[[[…]]]]``) and a bare
``ValueError`` on an integer of more than 4,300 digits; an integer that parses but does not fit
64 bits later fails in SQLite. :func:`loads` turns all of them into :class:`JSONInputError`, a
``ValueError`` whose message names the problem (callers make it a 400 ``INVALID_REQUEST``):

- nesting deeper than ``MAX_DEPTH`` arrays/objects;
- an integer outside the signed 64-bit range (``MAX_INT``);
- text that is not UTF-8 or not JSON.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64  # levels of arrays/objects in one document
MAX_INT = 2**63 - 1  # integers are signed 64-bit (what SQLite stores)


class JSONInputError(ValueError):
    """Untrusted JSON that is refused; ``str()`` is a message for the user (no location prefix)."""


def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > 19:  # more digits than 2**63 has: out of range whatever they are
        raise JSONInputError(f"an integer of {digits} digits is out of range: integers must be between "
                             f"{-MAX_INT - 1} and {MAX_INT}")
    value = int(text)
    if not -MAX_INT - 1 <= value <= MAX_INT:
        raise JSONInputError(f"the integer {text} is out of range: integers must be between "
                             f"{-MAX_INT - 1} and {MAX_INT}")
    return value


def depth(obj: Any) -> int:
    """Levels of arrays/objects in ``obj`` (a scalar is 0). Iterative: no recursion limit."""
    if not isinstance(obj, dict | list):
        return 0
    deepest = 0
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        for v in node.values() if isinstance(node, dict) else node:
            if isinstance(v, dict | list):
                stack.append((v, d + 1))
    return deepest


def loads(raw: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """``raw`` decoded as JSON within the bounds above; :class:`JSONInputError` otherwise."""
    too_deep = f"nested more than {max_depth} levels deep (arrays and objects)"
    try:
        data = json.loads(raw, parse_int=_parse_int)
    except JSONInputError:
        raise
    except RecursionError:
        raise JSONInputError(too_deep) from None
    except UnicodeDecodeError as exc:
        raise JSONInputError(f"not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise JSONInputError(f"not valid JSON ({exc})") from None
    except ValueError as exc:  # e.g. an integer past Python's digit limit in an exotic spelling
        raise JSONInputError(f"not valid JSON ({exc})") from None
    if depth(data) > max_depth:
        raise JSONInputError(too_deep)
    return data
