"""The one set of unsafe terminal characters (phantom_cli._text) and every place that uses it."""

from __future__ import annotations

import json

from phantom_cli import _text

EXPECTED = (
    {chr(c) for c in range(0x00, 0x20)}
    | {chr(c) for c in range(0x7F, 0xA0)}
    | {chr(c) for c in range(0x202A, 0x202F)}
    | {chr(c) for c in range(0x2066, 0x206A)}
)
SAFE_SAMPLES = ["a", "é", "月", "👨\u200d👩\u200d👧", "\u00a0", "→", "[bold]", "\\"]


def test_the_set_is_c0_del_c1_and_bidi_controls() -> None:
    assert _text.UNSAFE == EXPECTED
    assert len(_text.UNSAFE) == 32 + 33 + 5 + 4


def test_cli_visible_escapes_every_unsafe_character() -> None:
    from phantom_cli.cli.output import visible

    for ch in _text.UNSAFE:
        shown = visible(f"x{ch}y")
        assert not (set(shown) & _text.UNSAFE), repr(ch)
        assert shown.startswith("x\\") and shown.endswith("y")
    for ch in "\n\t":
        assert visible(ch, keep_newlines=True) == ch
    for s in SAFE_SAMPLES:
        assert visible(s) == s


def test_tui_clean_neutralises_every_unsafe_character() -> None:
    from phantom_cli.tui.sanitize import clean

    for ch in _text.UNSAFE - {"\n", "\t", "\r"}:
        out = clean(f"x{ch}y")
        assert len(out) == 3 and not (set(out) & _text.UNSAFE), repr(ch)
    assert clean("a\r\nb\tc") == "a\nb\tc"
    assert clean("\x1b") == "␛"
    for s in SAFE_SAMPLES:
        assert clean(s) == s


def test_json_views_escape_what_json_leaves_raw() -> None:
    from phantom_cli.tui.playground import pretty_json

    from phantom_cli.cli.output import dumps_json

    raw = "".join(sorted(_text.UNSAFE))
    for text in (dumps_json({"t": raw}), pretty_json({"t": raw})):
        assert not (set(text) & _text.UNSAFE - {"\n"}), text  # \n: the indentation's
        assert json.loads(text)["t"] == raw  # still valid JSON, the same text
    bare = _text.json_safe(json.dumps(raw, ensure_ascii=False))
    assert not (set(bare) & _text.UNSAFE) and json.loads(bare) == raw


def test_error_excerpts_drop_unsafe_and_zero_width_characters() -> None:
    from phantom_cli.client._common import excerpt

    raw = "".join(sorted(_text.UNSAFE)) + "\u200b\u200d"
    assert excerpt(f"bad{raw}gateway") == "bad gateway"
    assert excerpt("a\nb") == "a b"


def test_humanize_time_lives_in_the_neutral_module() -> None:
    from datetime import UTC, datetime

    from phantom_cli.cli.output import humanize_time

    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert humanize_time is _text.humanize_time
    assert _text.humanize_time("2026-01-01T11:57:00Z", now=now) == "3 minutes ago"
    assert _text.humanize_time(datetime(2026, 1, 1, 11, 0, tzinfo=UTC), now=now) == "1 hour ago"
    assert _text.humanize_time("not a date\x1b") == "not a date\\x1b"
