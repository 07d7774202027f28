"""Choosing scenarios: ``-k EXPR`` (pytest-like) and ``--shard I/N`` (a stable split)."""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterable

from .model import Scenario

_TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")


class SelectError(ValueError):
    pass


def keyword_matcher(expr: str) -> Callable[[str], bool]:
    """``-k`` like pytest: words match as case-insensitive substrings of the scenario's name (or
    file), combined with ``and``, ``or``, ``not`` and parentheses."""
    tokens = _TOKEN.findall(expr)
    if not tokens:
        raise SelectError("-k: empty expression")
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        return tok

    def parse_or() -> Callable[[str], bool]:
        left = parse_and()
        while peek() == "or":
            take()
            right = parse_and()
            left = (lambda a, b: lambda s: a(s) or b(s))(left, right)
        return left

    def parse_and() -> Callable[[str], bool]:
        left = parse_not()
        while peek() == "and":
            take()
            right = parse_not()
            left = (lambda a, b: lambda s: a(s) and b(s))(left, right)
        return left

    def parse_not() -> Callable[[str], bool]:
        if peek() == "not":
            take()
            inner = parse_not()
            return lambda s: not inner(s)
        return parse_atom()

    def parse_atom() -> Callable[[str], bool]:
        tok = peek()
        if tok is None:
            raise SelectError(f"-k {expr!r}: the expression ends too early")
        if tok == "(":
            take()
            inner = parse_or()
            if peek() != ")":
                raise SelectError(f"-k {expr!r}: missing ')'")
            take()
            return inner
        if tok in (")", "and", "or"):
            raise SelectError(f"-k {expr!r}: unexpected {tok!r}")
        word = take().casefold()
        return lambda s: word in s

    fn = parse_or()
    if pos != len(tokens):
        raise SelectError(f"-k {expr!r}: unexpected {tokens[pos]!r}")
    return lambda text: fn(text.casefold())


def parse_shard(spec: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", spec or "")
    if not m:
        raise SelectError(f"--shard {spec!r}: expected I/N such as 1/4")
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 1 <= i <= n:
        raise SelectError(f"--shard {spec!r}: I must be between 1 and N (N >= 1)")
    return i, n


def in_shard(scenario: Scenario, i: int, n: int) -> bool:
    """Stable: depends only on the scenario's file and name, not on what else is in the suite."""
    return zlib.crc32(scenario.id.encode("utf-8")) % n == i - 1


def select(scenarios: Iterable[Scenario], keyword: str | None = None, shard: tuple[int, int] | None = None) -> list[Scenario]:
    match = keyword_matcher(keyword) if keyword else None
    out = []
    for sc in scenarios:
        if match and not match(f"{sc.name} {sc.file}"):
            continue
        if shard and not in_shard(sc, *shard):
            continue
        out.append(sc)
    return out
