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
    fit_widths,
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


ACTIVITY_COLUMNS = [
    col("ID", "id", "id", 28),
    col("TITLE", "title", "text", 32),
    col("CATEGORY", "category", "text", 16),
    col("FEATURED", "featured", "bool", 8),
    col("COMPANION", "is_companion", "bool", 9),
    col("DESCRIPTION", "short_description", "text", 50),
]


ACTIVITIES = [
    {
        "id": "act_interview_coach",
        "title": "Interview practice with Ms. Okafor",
        "category": "practice",
        "featured": False,
        "is_companion": False,
        "short_description": "A realistic mock job interview with honest feedback afterwards.",
    },
    {
        "id": "act_luna",
        "title": "Luna",
        "category": "companion",
        "featured": True,
        "is_companion": True,
        "short_description": "A warm, witty companion who loves astronomy.",
    },
]


@pytest.mark.parametrize("columns", [60, 80, 100])
def test_table_never_cuts_ids_or_headers(
    columns: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ids were cut (``act_intervie…``) and headers collapsed to blanks at 80 columns."""
    monkeypatch.setenv("COLUMNS", str(columns))
    OutputMode(tty=True, no_color=True).rows(ACTIVITIES, ACTIVITY_COLUMNS)
    lines = capsys.readouterr().out.splitlines()
    header = lines[0].split()
    if columns >= 80:
        assert header == ["ID", "TITLE", "CATEGORY", "FEATURED", "COMPANION", "DESCRIPTION"]
    else:  # too narrow for everything: free text is left out, whole headers stay
        assert header == ["ID", "CATEGORY", "FEATURED", "COMPANION"]
    assert lines[1].startswith("act_interview_coach ")
    assert lines[2].startswith("act_luna ")
    if columns >= 80:
        assert all(len(line) <= columns for line in lines)
        # short columns keep their values; the long text columns shrank instead
        assert "companion" in lines[2] and "yes" in lines[2]
        assert "…" in lines[1]


def test_fit_widths_shrinks_long_text_first() -> None:
    widths = fit_widths(ACTIVITY_COLUMNS, [[19, 34, 8, 2, 2, 63], [8, 4, 9, 3, 3, 44]], 100)
    by_header = dict(zip([c.header for c in ACTIVITY_COLUMNS], widths, strict=True))
    assert by_header["ID"] == 19
    assert by_header["CATEGORY"] == 9 and by_header["FEATURED"] == 8
    assert by_header["COMPANION"] == 9
    assert sum(widths) + 2 * 5 == 100


def test_id_wider_than_the_terminal_is_kept_whole(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "20")
    long_id = "inst_" + "a" * 30
    OutputMode(tty=True, no_color=True).rows(
        [{"id": long_id, "title": "hello world"}], [col("ID", "id", "id"), col("TITLE", "title")]
    )
    assert long_id in capsys.readouterr().out


def test_jq_syntax_error_is_one_clean_line() -> None:
    from phantom_cli.cli.output import JqError, compile_jq

    with pytest.raises(JqError) as info:
        compile_jq(".[0")
    message = str(info.value)
    assert "\n" not in message and "\\n" not in message and "^" not in message
    assert message.startswith("--jq: invalid expression '.[0': jq: error: syntax error")


PERSONA_COLUMNS = [
    col("ID", "id", "id", 28),
    col("NAME", "name", "text", 24),
    col("GENDER", "gender", "text", 10),
    col("STYLE", "style_preference", "text", 9),
    col("DEFAULT", "is_default", "bool", 7),
    col("DESCRIPTION", "description", "text", 40),
    col("UPDATED", "updated_at", "date", 16),
]


def test_short_columns_keep_their_text_and_free_text_gives_way(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 80 columns NAME became ``[bo…`` and UPDATED ``25 minute…``
    while DESCRIPTION kept its width."""
    from datetime import UTC, datetime, timedelta

    monkeypatch.setenv("COLUMNS", "80")
    when = (datetime.now(UTC) - timedelta(minutes=25)).isoformat()
    items = [
        {"id": "per_1a205a83ffe87b5f7373d", "name": "[bold]x[/bold]", "gender": "female",
         "style_preference": None, "is_default": False, "description": "A tester", "updated_at": when},
    ]
    OutputMode(tty=True, no_color=True).rows(items, PERSONA_COLUMNS)
    lines = capsys.readouterr().out.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert "[bold]x[/bold]" in lines[1] and "per_1a205a83ffe87b5f7373d" in lines[1]
    assert "25 minutes ago" in lines[1] or "25m ago" in lines[1]
    assert "…" not in lines[1]


def test_dates_get_compact_rather_than_cut(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime, timedelta

    from phantom_cli.cli.output import humanize_time

    now = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    assert humanize_time((now - timedelta(minutes=17)).isoformat(), now, compact=True) == "17m ago"
    assert humanize_time((now - timedelta(seconds=3)).isoformat(), now, compact=True) == "now"
    assert humanize_time((now - timedelta(days=90)).isoformat(), now, compact=True) == "2025-10"
    monkeypatch.setenv("COLUMNS", "60")
    when = (datetime.now(UTC) - timedelta(minutes=17)).isoformat()
    cols = [col("ID", "id", "id"), col("STATUS", "status", "text", 9), col("ACTIVITY", "a", "id"),
            col("LAST USED", "u", "date", 16), col("CREATED", "c", "date", 16)]
    OutputMode(tty=True, no_color=True).rows(
        [{"id": "inst_1a205a4587fc7a07fe8a5", "status": "archived", "a": "act_theo", "u": when, "c": when}],
        cols,
    )
    row = capsys.readouterr().out.splitlines()[1]
    assert "17m ago" in row and "17 minutes a…" not in row and "inst_1a205a4587fc7a07fe8a5" in row
