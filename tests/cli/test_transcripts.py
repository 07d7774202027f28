"""Local transcripts: rolling window, failed turns, retries, torn lines, safe file names."""

from __future__ import annotations

import os
from pathlib import Path

from phantom_cli.conversation.transcripts import (
    MAX_CONTENT,
    Transcript,
    chat_id_for,
    list_transcripts,
    safe_file_name,
    transcripts_dir,
)


def test_default_location_is_state_dir(phantom_home: Path) -> None:
    t = Transcript("user-42")
    assert t.path.parent == transcripts_dir() == phantom_home / "state" / "transcripts"
    t.begin("hello")
    assert t.path.is_file()
    assert (t.path.stat().st_mode & 0o777) == 0o600


def test_window_continues_the_conversation(tmp_path: Path) -> None:
    t = Transcript("c1", root=tmp_path)
    assert t.window("hi") == [{"role": "user", "content": "hi"}]
    tid = t.begin("hi")
    t.answer(tid, "hello!", moderation={"inbound_prohibited": False}, memory={"retrieved_count": 0})
    assert t.window("how are you?") == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello!"},
        {"role": "user", "content": "how are you?"},
    ]


def test_window_is_capped_at_100_with_the_user_last(tmp_path: Path) -> None:
    t = Transcript("c2", root=tmp_path)
    for i in range(80):
        tid = t.begin(f"u{i}")
        t.answer(tid, f"a{i}")
    w = t.window("new")
    assert len(w) == 100
    assert w[-1] == {"role": "user", "content": "new"}
    assert w[-2] == {"role": "assistant", "content": "a79"}
    assert w[0] == {"role": "assistant", "content": "a30"}  # 99 = 49.5 exchanges


def test_failed_turn_is_not_answered_and_retry_does_not_duplicate(tmp_path: Path) -> None:
    t = Transcript("c3", root=tmp_path)
    first = t.begin("one")
    t.answer(first, "reply one")
    pending = t.begin("two")
    t.fail(pending, "503 SERVICE_UNAVAILABLE")
    turns = t.turns()
    assert [x.answered for x in turns] == [True, False]
    assert turns[1].errors == ["503 SERVICE_UNAVAILABLE"]
    # the failed turn is not context
    assert t.window("two") == [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "reply one"},
        {"role": "user", "content": "two"},
    ]
    # retry of the same text reuses the pending turn
    assert t.begin("two") == pending
    t.answer(pending, "reply two")
    assert [x.user for x in t.turns()] == ["one", "two"]
    assert all(x.answered for x in t.turns())
    # a different text after a failure keeps the old one (no data lost), unanswered
    p3 = t.begin("three")
    t.fail(p3, "boom")
    p4 = t.begin("four")
    assert p4 != p3
    assert [(x.user, x.answered) for x in t.turns()][-2:] == [("three", False), ("four", False)]


def test_refused_turns_are_not_sent_again(tmp_path: Path) -> None:
    t = Transcript("c4", root=tmp_path)
    tid = t.begin("bad words")
    t.answer(tid, "I can't help with that.", moderation={"inbound_prohibited": True})
    assert t.window("ok, sorry") == [{"role": "user", "content": "ok, sorry"}]
    assert t.turns()[0].refused


def test_long_replies_are_trimmed_to_the_content_limit(tmp_path: Path) -> None:
    t = Transcript("c5", root=tmp_path)
    tid = t.begin("write a lot")
    t.answer(tid, "x" * (MAX_CONTENT + 500))
    assert len(t.window("more")[1]["content"]) == MAX_CONTENT


def test_torn_last_line_is_skipped_and_not_glued(tmp_path: Path) -> None:
    t = Transcript("c6", root=tmp_path)
    tid = t.begin("one")
    t.answer(tid, "r1")
    with open(t.path, "ab") as fh:
        fh.write(b'{"event": "reply", "id": "t_x", "cont')  # crash mid-write
    tid2 = t.begin("two")
    t.answer(tid2, "r2")
    assert [(x.user, x.reply) for x in t.turns()] == [("one", "r1"), ("two", "r2")]
    assert t.skipped_lines == 1
    assert [(cid, n) for cid, _, n in list_transcripts(tmp_path)] == [("c6", 2)]


def test_clear_and_listing(tmp_path: Path) -> None:
    a = Transcript("a:b", root=tmp_path)
    b = Transcript("a_b", root=tmp_path)
    assert a.path != b.path  # distinct ids never share a file
    a.answer(a.begin("x"), "y")
    b.begin("z")
    listed = {cid: n for cid, _, n in list_transcripts(tmp_path)}
    assert listed == {"a:b": 1, "a_b": 1}
    assert a.clear() == 1
    assert not a.path.exists()
    assert a.turns() == []
    assert Transcript("never", root=tmp_path).clear() == 0


def test_safe_file_names() -> None:
    for cid in ["user-42", "a:b@c.d", "A" * 128, "x..y"]:
        name = safe_file_name(cid)
        assert os.sep not in name and not name.startswith(".")
        assert name.endswith(".jsonl") and len(name) < 120


def test_chat_id_for_persona_names() -> None:
    import re

    pat = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")
    assert chat_id_for("Luna") == "luna"
    assert chat_id_for("Señor Bram the 2nd") == "senor-bram-the-2nd"
    for name in ["月", "!!!", "x" * 300, "-lead"]:
        assert pat.match(chat_id_for(name)), name
    assert chat_id_for("Luna", prefix="cli-") == "cli-luna"


def test_window_fits_the_request_body_in_a_multibyte_script(tmp_path: Path) -> None:
    """QA: 50 turns of 16000 CJK characters made every later `companion say` fail with
    413 (body over 2 MiB) for ever. Issue 13: the server takes 16 MiB, so the documented maximum
    (99 messages of context + the new one) is sent whole; a budget, when given, drops the oldest."""
    import json

    from phantom_cli.conversation.transcripts import MAX_WINDOW_BYTES, encoded_size

    t = Transcript("cjk", root=tmp_path)
    for i in range(50):
        tid = t.begin("日本語" * 5332 + str(i))
        t.answer(tid, f"ok {i}")
    text = "字" * MAX_CONTENT
    whole = t.window(text)
    assert len(whole) == 100 and whole[-1] == {"role": "user", "content": text}
    body = json.dumps({"messages": whole}).encode("utf-8")  # \uXXXX escapes: the largest spelling
    assert len(body) <= MAX_WINDOW_BYTES < 16 * 1024 * 1024
    budget = 1_500_000
    win = t.window(text, max_bytes=budget)
    assert win[-1] == {"role": "user", "content": text}
    assert sum(encoded_size(m["content"]) for m in win) <= budget
    # the most recent turns are the ones kept, in order
    assert win[-2] == {"role": "assistant", "content": "ok 49"}
    assert win[-3]["content"].endswith("49")
    assert 2 < len(win) < 100
    # an ASCII conversation of the same length is not trimmed by the budget
    a = Transcript("ascii", root=tmp_path)
    for i in range(10):
        a.answer(a.begin(f"hello {i}"), f"hi {i}")
    assert len(a.window("again")) == 21


def test_budget_counts_escapes_and_survives_undecodable_text() -> None:
    from phantom_cli.conversation.transcripts import encoded_size

    assert encoded_size('"') > encoded_size("a")  # escaped quote takes two bytes
    assert encoded_size("é") == encoded_size("ab")  # two UTF-8 bytes
    assert encoded_size("caf\udce9") > 0  # a lone surrogate (undecodable argv) does not crash


def test_a_retracted_turn_is_neither_shown_nor_sent(tmp_path: Path) -> None:
    """QA: in the TUI, ctrl+r (regenerate) and ctrl+l (edit) on an answered companion turn
    left the replaced exchange in the shared transcript, so later turns (and `companion say`)
    sent it again as context. A replaced turn can now be retracted."""
    t = Transcript("r1", root=tmp_path)
    first = t.begin("hello")
    t.answer(first, "hi there")
    second = t.begin("what now?")
    t.answer(second, "reply one")
    t.retract(second)  # regenerate: the same text again, as a new turn
    third = t.begin("what now?")
    assert third != second
    t.answer(third, "reply two")
    assert [(x.user, x.reply) for x in t.turns()] == [
        ("hello", "hi there"),
        ("what now?", "reply two"),
    ]
    assert t.window("next") == [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "hi there"},
        {"role": "user", "content": "what now?"},
        {"role": "assistant", "content": "reply two"},
        {"role": "user", "content": "next"},
    ]
    assert {cid: n for cid, _, n in list_transcripts(tmp_path)} == {"r1": 2}
    assert sum(1 for e in t.events() if e["event"] == "user") == 3  # the file keeps everything
