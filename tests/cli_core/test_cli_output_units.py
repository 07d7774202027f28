"""Unit tests of phantom_cli.cli.output helpers (no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from phantom_cli.cli.output import (
    JqError,
    OutputMode,
    col,
    compile_jq,
    dumps_json,
    humanize_time,
    truncate,
)

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=3), "just now"),
        (timedelta(seconds=42), "42 seconds ago"),
        (timedelta(minutes=1), "1 minute ago"),
        (timedelta(hours=5), "5 hours ago"),
        (timedelta(days=2), "2 days ago"),
        (timedelta(days=-3), "in 3 days"),
        (timedelta(days=90), "2025-10-12"),
    ],
)
def test_humanize_time(delta: timedelta, text: str) -> None:
    assert humanize_time((NOW - delta).isoformat().replace("+00:00", "Z"), now=NOW) == text


def test_humanize_time_odd_values() -> None:
    assert humanize_time(None) == ""
    assert humanize_time("not a date\x1b") == "not a date\\x1b"
    assert humanize_time("2026-01-10T11:00:00", now=NOW) == "1 hour ago"  # naive = UTC


def test_truncate_and_json_escapes() -> None:
    assert truncate("abcdef", 4) == "abc…"
    assert truncate("abc", 4) == "abc"
    assert dumps_json({"a": "\x9b\u202e\x1b"}, indent=None) == '{"a": "\\u009b\\u202e\\u001b"}'


def test_jq_compile_errors() -> None:
    with pytest.raises(JqError, match="--jq"):
        compile_jq(".[[[")
    with pytest.raises(JqError):
        OutputMode(jq="{")


def test_stream_plain_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    cols = [col("ID", "id"), col("N", "n", "num")]
    items = iter([{"id": "a", "n": 1}, {"id": "b\tc", "n": 2}])
    assert OutputMode(tty=False).stream(items, cols) == 2
    assert capsys.readouterr().out == "a\t1\nb\\tc\t2\n"
    OutputMode(json=True, tty=False).stream(iter([{"id": "a"}, {"id": "b"}]), cols)
    assert capsys.readouterr().out == '{"id": "a"}\n{"id": "b"}\n'
    OutputMode(jq=".id", tty=False).stream(iter([{"id": "a"}]), cols)
    assert capsys.readouterr().out == "a\n"


def test_table_batches_constant_memory(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[int] = []

    def gen():  # type: ignore[no-untyped-def]
        for i in range(5):
            seen.append(i)
            yield {"id": f"id{i}"}

    printed: list[tuple[int, int, bool]] = []  # (items produced so far, batch size, header)

    class Recording(OutputMode):
        def rows(self, items, columns, header=True):  # type: ignore[no-untyped-def]
            printed.append((len(seen), len(items), header))
            super().rows(items, columns, header)

    Recording(tty=True, no_color=True).stream(gen(), [col("ID", "id")], batch=2)
    out = capsys.readouterr().out
    assert out.count("ID") == 1  # one header, then batches
    assert all(f"id{i}" in out for i in range(5))
    # each batch is printed before the next item is fetched: never more than a batch held
    assert printed == [(2, 2, True), (4, 2, False), (5, 1, False)]


def test_empty_page_at_tty(capsys: pytest.CaptureFixture[str]) -> None:
    OutputMode(tty=True, no_color=True).page(
        {"data": [], "has_more": False}, [col("ID", "id")], "skins"
    )
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "no skins\n"
