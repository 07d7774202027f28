"""Client-side validation: kwargs or model instances → request model, or InvalidInputError.

``fill`` / ``path_param`` (path templates) need no pydantic, and it is imported only by the
functions that validate models (start-up, see ``_common``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from .errors import InvalidInputError

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound="BaseModel")

_FIELD_PREFIX = re.compile(r"^([A-Za-z_][\w.\[\]]*(?: or [A-Za-z_][\w.\[\]]*)?): (.+)$", re.S)
_VALUE_ERROR = re.compile(r"^(Value|Assertion) error, ", re.I)

MAX_PATH_PARAM = 512


def field_path(loc: tuple[str | int, ...] | list[str | int]) -> str:
    """``("persona", "name")`` → ``persona.name``; ``("messages", 0, "content")`` →
    ``messages[0].content``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _limit_message(err: Mapping[str, Any]) -> str:
    """Pydantic's message, reworded where it does not name the limit plainly."""
    msg = str(err.get("msg", "invalid"))
    typ = err.get("type", "")
    ctx = err.get("ctx") or {}
    msg = _VALUE_ERROR.sub("", msg)
    if typ == "string_too_long":
        return f"at most {ctx.get('max_length')} characters"
    if typ == "string_too_short":
        n = ctx.get("min_length")
        return "must not be empty" if n == 1 else f"at least {n} characters"
    if typ == "too_long":
        return f"at most {ctx.get('max_length')} items"
    if typ == "too_short":
        return f"at least {ctx.get('min_length')} items"
    if typ == "string_pattern_mismatch":
        return f"must match the pattern {ctx.get('pattern')}"
    if typ == "missing":
        return "required"
    if typ in ("less_than_equal", "less_than", "greater_than_equal", "greater_than"):
        word = {
            "less_than_equal": "at most",
            "less_than": "less than",
            "greater_than_equal": "at least",
            "greater_than": "greater than",
        }[typ]
        bound = next(iter(ctx.values()), "?")
        return f"must be {word} {bound}"
    if typ == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    return msg


def errors_of(exc: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    """``(field, message)`` pairs of a pydantic ValidationError (input values left out)."""
    out: list[tuple[str, str]] = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = tuple(err.get("loc", ()))
        # Literal/union errors repeat the field with the member type at the end: drop it.
        field = field_path(tuple(p for p in loc if not (isinstance(p, str) and "[" in p)))
        msg = _limit_message(err)
        if not field or err.get("type") == "value_error":
            m = _FIELD_PREFIX.match(msg)
            if m:
                inner = m.group(1)
                field = f"{field}.{inner}" if field else inner
                msg = m.group(2)
        if prefix:
            field = f"{prefix}.{field}" if field else prefix
        out.append((field, msg))
    return out


def _plain(value: Any) -> Any:
    """Model instances (at any depth) → plain data, so every limit is checked again."""
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        return {k: _plain(v) for k, v in value.model_dump(by_alias=False).items()}
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def build(model: type[M], given: M | Mapping[str, Any] | None = None, /, **fields: Any) -> M:
    """Validate ``given`` (a model instance or mapping) updated with the non-None ``fields``."""
    from pydantic import BaseModel, ValidationError

    data: dict[str, Any] = {}
    if given is not None:
        if isinstance(given, BaseModel):
            data.update(given.model_dump(exclude_unset=True))
        elif isinstance(given, Mapping):
            data.update(given)
        else:
            raise InvalidInputError(
                [("body", f"expected {model.__name__} or a mapping, got {type(given).__name__}")]
            )
    data.update({k: v for k, v in fields.items() if v is not None})
    try:
        return model.model_validate(_plain(data))
    except ValidationError as exc:
        raise InvalidInputError(errors_of(exc)) from None


def path_param(name: str, value: Any) -> str:
    """A path segment: a non-empty string/int of bounded length, percent-encoded."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidInputError([(name, f"must be a string, got {type(value).__name__}")])
    text = str(value)
    if not text or not text.strip():
        raise InvalidInputError([(name, "must not be empty")])
    if len(text) > MAX_PATH_PARAM:
        raise InvalidInputError([(name, f"at most {MAX_PATH_PARAM} characters")])
    return quote(text, safe="")


def fill(template: str, **params: Any) -> str:
    """Fill a path template of :mod:`phantom_cli.client.paths`, validating every parameter."""
    return template.format(**{k: path_param(k, v) for k, v in params.items()})
