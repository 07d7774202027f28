"""The transcript format (parents, swipes, forks; old files) and the portable formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phantom_cli.conversation.portable import (
    Entry,
    ImportFormatError,
    Log,
    build_tree,
    parse_sillytavern,
    shared_entries,
    to_jsonl,
    to_markdown,
    to_sillytavern,
)
from phantom_cli.conversation.transcripts import Transcript


def _write(path: Path, events: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")


def test_an_old_file_without_parents_reads_as_a_chain_with_edits_as_branches(tmp_path) -> None:
    t = Transcript("old", root=tmp_path)
    _write(t.path, [  # the format before parents and swipes (an edit, then a regenerated reply)
        {"event": "user", "id": "a", "chat_id": "old", "content": "one", "at": "1"},
        {"event": "reply", "id": "a", "content": "r1", "at": "2"},
        {"event": "user", "id": "b", "chat_id": "old", "content": "two", "at": "3"},
        {"event": "reply", "id": "b", "content": "r2", "at": "4"},
        {"event": "retracted", "id": "b", "at": "5"},
        {"event": "user", "id": "c", "chat_id": "old", "content": "two!", "at": "6"},
        {"event": "reply", "id": "c", "content": "r3", "at": "7"},
        {"event": "reply", "id": "c", "content": "r3 again", "at": "8"},
    ])
    live = t.turns()
    assert [x.id for x in live] == ["a", "c"]
    assert live[1].parent == "a" and live[1].swipes == ["r3", "r3 again"]
    assert live[1].reply == "r3 again" and live[1].swipe_id == 1
    every = t.all_turns()
    assert [(x.id, x.parent, x.retracted) for x in every] == [
        ("a", None, False), ("b", "a", True), ("c", "a", False)
    ]
    # new turns record their parent
    tid = t.begin("three")
    assert t.events()[-1]["parent"] == "c" and t.turns()[-1].id == tid


def test_choose_selects_an_alternative_for_display_and_context(tmp_path) -> None:
    t = Transcript("sw", root=tmp_path)
    tid = t.begin("hi")
    t.answer(tid, "first")
    t.answer(tid, "second")
    assert t.context()[-1]["content"] == "second"
    t.choose(tid, 0)
    (turn,) = t.turns()
    assert turn.reply == "first" and turn.swipe_id == 0 and turn.swipes == ["first", "second"]
    assert t.context() == [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "first"}]
    t.choose(tid, 9)  # out of range: ignored
    assert t.turns()[0].reply == "first"


def test_a_greeting_is_context_without_a_user_message(tmp_path) -> None:
    t = Transcript("g", root=tmp_path)
    gid = t.greet("Hello, traveller.", persona="Mira")
    tid = t.begin("hi")
    t.answer(tid, "welcome")
    turns = t.turns()
    assert turns[0].greeting and turns[0].user == "" and turns[1].parent == gid
    assert [m["role"] for m in t.context()] == ["assistant", "user", "assistant"]


def test_shared_entries_counts_turns_not_greetings() -> None:
    es = [Entry("g", None, "hi"), Entry("a", "1", "r"), Entry("b", "2", "r"), Entry("c", "3", None)]
    assert shared_entries(es, 0) == 1 and shared_entries(es, 2) == 3 and shared_entries(es, 3) == 4


def _log() -> Log:
    return Log("companion", "c1", "Mira", "Ana", [
        Entry("g", None, "Hello.", ["Hello.", "Hi there."], 1 - 1, at="2026-01-01T00:00:00.000Z"),
        Entry("a", "Hi [b]you[/b]", "Yes?", ["No.", "Yes?"], 1, at="2026-01-01T00:01:00.000Z",
              replied_at="2026-01-01T00:01:05.000Z"),
    ])


def test_exports_keep_ids_parents_and_swipes() -> None:
    lines = [json.loads(x) for x in to_jsonl(_log()).splitlines()]
    assert lines[0]["format"] == "phantom-transcript/1" and lines[0]["turns"] == 1
    assert [m["id"] for m in lines[1:]] == ["g:reply", "a:user", "a:reply"]
    assert [m["parent"] for m in lines[1:]] == [None, "g:reply", "a:user"]
    assert lines[3]["swipes"] == ["No.", "Yes?"] and lines[3]["swipe_id"] == 1
    st = [json.loads(x) for x in to_sillytavern(_log()).splitlines()]
    assert set(st[0]) == {"user_name", "character_name", "create_date", "chat_metadata"}
    assert st[3]["mes"] == "Yes?" and st[3]["swipe_id"] == 1 and len(st[3]["swipe_info"]) == 2
    md = to_markdown(_log())
    assert "**Mira:** *(2/2)* Yes?" in md and "> alternative 1: No." in md


def test_sillytavern_parse_lenient_dates_and_strict_fields() -> None:
    head = json.dumps({"user_name": "U", "character_name": "C", "create_date": "x",
                       "chat_metadata": {}})
    ok = "\n".join([head, json.dumps({"name": "U", "is_user": True, "send_date": 1767225600000,
                                      "mes": "hi"}),
                    json.dumps({"name": "C", "is_user": False, "send_date": "December 3, 2026 7:15pm",
                                "mes": "yo"}),
                    json.dumps({"name": "N", "is_user": False, "is_system": True, "mes": "[note]"})])
    got = parse_sillytavern(ok)
    (e,) = got.log.entries
    assert e.user == "hi" and e.reply == "yo" and e.swipes == ["yo"] and got.skipped_system == 1
    assert e.at == "2026-01-01T00:00:00.000Z" and e.replied_at == "December 3, 2026 7:15pm"
    with pytest.raises(ImportFormatError) as err:
        parse_sillytavern(head + '\n{"is_user": "yes", "mes": "x"}\n{"is_user": true}\nnot json')
    assert [w for w, _ in err.value.problems] == ["file:4"]  # JSON problems come first
    with pytest.raises(ImportFormatError) as err:
        parse_sillytavern(head + '\n{"is_user": "yes", "mes": "x"}\n{"is_user": true}')
    assert [w for w, _ in err.value.problems] == ["file:2: is_user", "file:3: mes"]
    with pytest.raises(ImportFormatError):
        parse_sillytavern(head + "\n" + json.dumps({"is_user": True, "mes": "x" * 16001}))


def test_tree_of_a_fork_by_position() -> None:
    src = Log("instance", "i1", "A", "U", [Entry("g", None, "hi"), Entry("m1", "a", "b"),
                                           Entry("m3", "c", "d")])
    fork = Log("instance", "i2", "A", "U", [Entry("n0", None, "hi"), Entry("n1", "a", "b"),
                                            Entry("n3", "x", "y")],
               fork={"from": "i1", "shared": 2, "parent": "m1", "at_turn": 1})
    roots, empty = build_tree([src, fork])
    (root,) = roots
    (m1,) = root.children
    assert [c.id for c in m1.children] == ["m3", "n3"]
    assert m1.children[1].heads == ["i2"] and root.conversations == ["i1", "i2"]
    at_end = Log("instance", "i3", "A", "U", [Entry("k0", None, "hi")],
                 fork={"from": "i1", "shared": 1, "parent": "g", "at_turn": 0})
    roots, empty = build_tree([src, at_end])
    assert roots[0].heads == ["i3"] and empty == []
