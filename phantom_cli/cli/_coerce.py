"""Plain-Python coercion of command-line values for Typer 0.29 (start-up budget).

Typer 0.29 turns every parameter's text into its Python value through a pydantic
``TypeAdapter`` (``typer._adapters``): the first non-flag parameter of any command imports
pydantic and builds a schema per parameter — about 100 ms before the command body runs, more
than everything else ``phantom activities list --json`` does (benchmarks/startup.py).

The parameters of this CLI have plain types: ``str``, ``int`` and ``float`` (with ``min`` /
``max``), ``bool``, ``Path`` and ``list[str]``. :func:`install` puts a builder in front of
Typer's that coerces exactly those in plain Python, with messages that name the limit
("must be between 1 and 100, got 0"), and hands every other annotation (enums, literals,
dates, files, custom parsers, tuples) to Typer unchanged. If Typer's internals move (another
version), :func:`install` does nothing and Typer's own coercion runs.

Start-up rule: typer + stdlib only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

try:  # Typer's private coercion seam (typer>=0.29,<0.30, pinned in pyproject.toml)
    from typer import _coercion, core
    from typer._click.exceptions import BadParameter
    from typer._param_types import coerce_cli_path

    RuntimeParam: Any = _coercion.RuntimeParam
    _original_build: Callable[[Any], Any] | None = core.build_runtime_param
except (ImportError, AttributeError):  # pragma: no cover - another Typer: use its coercion
    _original_build = None
    RuntimeParam = object

Convert = Callable[[Any], Any]  # raises ValueError with the message to show

def _to_str(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _to_bool(value: Any) -> bool:
    from phantom_cli.config.booleans import parse_bool

    return parse_bool(value)


def _limits(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"must be between {lo:g} and {hi:g}"
    if lo is not None:
        return f"must be at least {lo:g}"
    return f"must be at most {hi:g}"


def _number(kind: type, lo: float | None, hi: float | None, clamp: bool) -> Convert:
    name = "an integer" if kind is int else "a number"

    def convert(value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not {name}")
        if isinstance(value, kind):
            number = value
        else:
            text = _to_str(value).strip()
            try:
                number = kind(text)
            except (TypeError, ValueError):
                raise ValueError(f"{_to_str(value)!r} is not {name}") from None
        if kind is float and not math.isfinite(number):
            if lo is not None or hi is not None:
                raise ValueError(f"{_limits(lo, hi)}, got {number!r}")
        if clamp:
            if lo is not None and number < lo:
                return kind(lo)
            if hi is not None and number > hi:
                return kind(hi)
            return number
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            raise ValueError(f"{_limits(lo, hi)}, got {number!r}")
        return number

    return convert


@dataclass(frozen=True)
class PlainRuntimeParam(RuntimeParam):  # type: ignore[misc,valid-type]
    """One parameter's coercion without pydantic (the contract of Typer's ``RuntimeParam``)."""

    convert: Convert = _to_str
    many: bool = False
    path: bool = False

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        try:
            if self.many:
                items = value if isinstance(value, list | tuple) else [value]
                return [self._one(item, param, ctx) for item in items]
            return self._one(value, param, ctx)
        except ValueError as exc:
            raise BadParameter(str(exc), ctx=ctx, param=param) from None

    def _one(self, value: Any, param: Any, ctx: Any) -> Any:
        if self.path:
            if not isinstance(value, Path):
                value = Path(_to_str(value))
            # exists / file_okay / dir_okay / readable … as Typer checks them
            return coerce_cli_path(value, self.parameter_info, path_type=Path, param=param, ctx=ctx)
        return self.convert(value)


def plain_converter(annotation: Any, info: Any) -> tuple[Convert, bool, bool] | None:
    """``(convert, many, path)`` for an annotation coerced here; None: Typer's own coercion."""
    if info.parser is not None:
        return None
    many = False
    if get_origin(annotation) is list:
        args = get_args(annotation)
        if len(args) != 1:
            return None
        annotation, many = args[0], True
    if annotation is str:
        return _to_str, many, False
    if annotation is bool:
        return _to_bool, many, False
    if annotation is int or annotation is float:
        convert = _number(annotation, info.min, info.max, bool(info.clamp))
        return convert, many, False
    if annotation is Path and info.path_type in (None, Path):
        if info.allow_dash or info.resolve_path:
            return None
        return _to_str, many, True
    return None


def build_runtime_param(descriptor: Any) -> Any:
    """Typer's ``build_runtime_param`` with the plain types coerced here."""
    plan = None
    if descriptor.file_annotation is None:
        plan = plain_converter(descriptor.annotation, descriptor.parameter_info)
    if plan is None:
        assert _original_build is not None
        return _original_build(descriptor)
    convert, many, path = plan
    return PlainRuntimeParam(
        parameter_info=descriptor.parameter_info,
        annotation=descriptor.annotation,
        convert=convert,
        many=many,
        path=path,
    )


def install() -> bool:
    """Route Typer's parameter coercion through :func:`build_runtime_param` (idempotent).
    False when this Typer has no such seam (its own coercion then runs)."""
    if _original_build is None:
        return False
    core.build_runtime_param = build_runtime_param
    return True
