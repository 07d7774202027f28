"""`phantom companion say|transcript` against the live backend, with persona files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phantom_cli.conversation.transcripts import Transcript, list_transcripts

LUNA = 'name = "Luna"\nbio = "A warm, witty companion who loves astronomy."\nchat_style = "playful, curious"\n'


@pytest.fixture
def luna(tmp_path: Path) -> Path:
    p = tmp_path / "luna.toml"
    p.write_text(LUNA, encoding="utf-8")
    return p


def prompt_messages(live_server, turn_id: str) -> list[dict]:
    return live_server.client().local.prompt(turn_id).messages


def test_say_twice_continues_the_conversation(phantom, live_server, luna, uid) -> None:
    first = phantom(
        "companion",
        "say",
        "--persona",
        str(luna),
        "--chat-id",
        uid,
        "--json",
        "Morning! Remember I had that big presentation?",
    )
    assert first.exit_code == 0, first.stderr
    one = first.json()
    second = phantom(
        "companion", "say", "--persona", str(luna), "--chat-id", uid, "--json", "It went well!"
    )
    assert second.exit_code == 0, second.stderr
    two = second.json()
    # the second request carried the first turn (what the server assembled for that turn)
    sent = [m for m in prompt_messages(live_server, two["turn_id"]) if m["role"] != "system"]
    assert sent[-3:] == [
        {"role": "user", "content": "Morning! Remember I had that big presentation?"},
        {"role": "assistant", "content": one["reply"]},
        {"role": "user", "content": "It went well!"},
    ]
    # and the local transcript has both turns, answered
    turns = Transcript(uid).turns()
    assert [(t.user, t.reply) for t in turns] == [
        ("Morning! Remember I had that big presentation?", one["reply"]),
        ("It went well!", two["reply"]),
    ]


def test_human_output_reply_on_stdout_flags_on_stderr(phantom, luna, uid) -> None:
    r = phantom("companion", "say", "-P", str(luna), "--chat-id", uid, "--no-stream", "hello there")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() and "memory:" not in r.stdout
    assert "memory: 0 retrieved" in r.stderr
    assert Transcript(uid).turns()[0].reply == r.stdout.rstrip("\n")


def test_json_is_the_full_response(phantom, luna, uid) -> None:
    r = phantom("companion", "say", "-P", str(luna), "--chat-id", uid, "--json", "hi")
    assert r.exit_code == 0, r.stderr
    data = r.json()
    assert data["chat_id"] == uid
    assert set(data) >= {"reply", "chat_id", "moderation", "memory", "extraction_enqueued"}
    assert set(data["moderation"]) >= {"inbound_prohibited", "outbound_filtered"}
    assert set(data["memory"]) >= {"retrieved_count", "profile_used"}
    assert r.stderr == ""
    jq = phantom("companion", "say", "-P", str(luna), "--chat-id", uid, "--jq", ".chat_id", "again")
    assert jq.stdout.strip() == uid


def test_no_extract(phantom, live_server, luna, uid) -> None:
    # extraction is cadence-gated (every 3rd user turn by default): the 3rd turn queues it...
    for text in ("one", "two"):
        assert phantom("companion", "say", "-P", str(luna), "--chat-id", uid, text).exit_code == 0
    third = phantom("companion", "say", "-P", str(luna), "--chat-id", uid, "--json", "three")
    assert third.json()["extraction_enqueued"] is True
    # ...and --no-extract opts the turn out (retrieval still runs)
    other = uid + "x"
    for text in ("one", "two"):
        assert phantom("companion", "say", "-P", str(luna), "--chat-id", other, text).exit_code == 0
    r = phantom(
        "companion", "say", "-P", str(luna), "--chat-id", other, "--no-extract", "--json", "three"
    )
    assert r.exit_code == 0, r.stderr
    assert r.json()["extraction_enqueued"] is False
    assert (
        live_server.client().local.prompt(r.json()["turn_id"]).params["extract_memory"] is False
    )
    human = phantom("companion", "say", "-P", str(luna), "--chat-id", uid + "h", "--no-extract", "x")
    assert "no extraction" in human.stderr


def test_options_reach_the_request(phantom, live_server, luna, uid) -> None:
    r = phantom(
        "companion",
        "say",
        "-P",
        str(luna),
        "--chat-id",
        uid,
        "--json",
        "--temperature",
        "0.3",
        "--max-tokens",
        "50",
        "--model",
        "tiny",
        "hi",
    )
    assert r.exit_code == 0, r.stderr
    params = live_server.client().local.prompt(r.json()["turn_id"]).params
    assert params["temperature"] == 0.3 and params["max_tokens"] == 50 and params["model"] == "tiny"
    bad = phantom("companion", "say", "-P", str(luna), "--temperature", "3", "hi")
    assert bad.exit_code == 2 and "temperature" in bad.stderr


def test_chat_id_defaults_to_the_persona_name(phantom, luna) -> None:
    r = phantom("companion", "say", "-P", str(luna), "--json", "hi")
    assert r.exit_code == 0, r.stderr
    assert r.json()["chat_id"] == "luna"
    assert Transcript("luna").path.is_file()


def test_persona_default_from_the_profile(phantom, luna, uid) -> None:
    missing = phantom("companion", "say", "hi")
    assert (
        missing.exit_code == 2 and "--persona" in missing.stderr and "luna.toml" in missing.stderr
    )
    assert phantom("config", "set", "companion_persona_file", str(luna)).exit_code == 0
    r = phantom("companion", "say", "--chat-id", uid, "--json", "hi")
    assert r.exit_code == 0, r.stderr


@pytest.mark.parametrize("ext", [".toml", ".json", ".yaml"])
def test_persona_files_in_every_format(phantom, tmp_path, uid, ext) -> None:
    import tomli_w
    import yaml

    data = {"name": "Bram", "bio": "A baker.", "date_of_birth": "1971"}
    p = tmp_path / f"bram{ext}"
    dump = {".toml": tomli_w.dumps, ".json": json.dumps, ".yaml": yaml.safe_dump}[ext]
    p.write_text(dump(data), encoding="utf-8")
    r = phantom("companion", "say", "-P", str(p), "--chat-id", uid, "hello")
    assert r.exit_code == 0, r.stderr
    assert Transcript(uid).turns()[0].persona == "Bram"  # the file's persona was sent


def test_persona_limit_violation_names_the_field(phantom, tmp_path, uid) -> None:
    p = tmp_path / "long.yaml"
    p.write_text("name: Luna\nchat_style: " + "x" * 81 + "\n", encoding="utf-8")
    r = phantom("companion", "say", "-P", str(p), "--chat-id", uid, "hi")
    assert r.exit_code == 2
    assert str(p) in r.stderr and "chat_style" in r.stderr and "80" in r.stderr
    assert not Transcript(uid).path.exists()  # nothing recorded for a refused request


def test_persona_unknown_keys_warn(phantom, tmp_path, uid) -> None:
    p = tmp_path / "luna.json"
    p.write_text(json.dumps({"name": "Luna", "favourite_star": "Vega"}), encoding="utf-8")
    r = phantom("companion", "say", "-P", str(p), "--chat-id", uid, "hi")
    assert r.exit_code == 0, r.stderr
    assert "warning:" in r.stderr and "'favourite_star'" in r.stderr


def test_inbound_refusal_is_flagged_and_not_sent_again(phantom, live_server, luna, uid) -> None:
    r = phantom("companion", "say", "-P", str(luna), "--chat-id", uid, "how do I build a bomb")
    assert r.exit_code == 0, r.stderr
    assert "⚑ refused" in r.stderr
    nxt = phantom("companion", "say", "-P", str(luna), "--chat-id", uid, "--json", "sorry, hi")
    sent = [m for m in prompt_messages(live_server, nxt.json()["turn_id"]) if m["role"] != "system"]
    assert sent == [{"role": "user", "content": "sorry, hi"}]
    assert "⚑ refused" in phantom("companion", "transcript", "--chat-id", uid).stdout


def test_failed_call_is_not_answered_and_retry_does_not_duplicate(
    phantom, live_server, luna, uid, monkeypatch
) -> None:
    import socket

    assert phantom("companion", "say", "-P", str(luna), "--chat-id", uid, "first").exit_code == 0
    assert phantom("config", "set", "max_retries", "0").exit_code == 0
    with socket.socket() as s:  # a loopback port with nothing listening
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("PHANTOM_BASE_URL", dead)
    r = phantom("companion", "say", "-P", str(luna), "--chat-id", uid, "second")
    assert r.exit_code == 3
    turns = Transcript(uid).turns()
    assert [(t.user, t.answered) for t in turns] == [("first", True), ("second", False)]
    assert turns[1].errors
    monkeypatch.setenv("PHANTOM_BASE_URL", live_server.base_url)
    r = phantom("companion", "say", "-P", str(luna), "--chat-id", uid, "--json", "second")
    assert r.exit_code == 0, r.stderr
    turns = Transcript(uid).turns()
    assert [(t.user, t.answered) for t in turns] == [("first", True), ("second", True)]
    sent = [
        m["content"]
        for m in prompt_messages(live_server, r.json()["turn_id"])
        if m["role"] == "user"
    ]
    assert sent == ["first", "second"]  # sent once, not duplicated


def test_stream(phantom, luna, uid) -> None:
    r = phantom("companion", "say", "-P", str(luna), "--chat-id", uid, "--stream", "tell me a story")
    assert r.exit_code == 0, r.stderr
    reply = Transcript(uid).turns()[0].reply
    assert r.stdout == reply + ("" if reply.endswith("\n") else "\n")
    assert "memory:" in r.stderr


def test_text_from_stdin_and_hostile_text_is_inert(phantom, luna, uid) -> None:
    r = phantom(
        "companion",
        "say",
        "-P",
        str(luna),
        "--chat-id",
        uid,
        input="what about [bold red]this[/] \x1b]0;title\x07 thing?\n",
    )
    assert r.exit_code == 0, r.stderr
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout
    assert Transcript(uid).turns()[0].user.startswith("what about [bold red]this[/]")
    t = phantom("companion", "transcript", "--chat-id", uid)
    assert "\x1b" not in t.stdout and "[bold red]this[/]" in t.stdout


def test_transcript_show_json_list_and_clear(phantom, luna, uid) -> None:
    assert phantom("companion", "say", "-P", str(luna), "--chat-id", uid, "hello").exit_code == 0
    shown = phantom("companion", "transcript", "-P", str(luna), "--chat-id", uid)
    assert shown.exit_code == 0
    assert shown.stdout.startswith("you: hello\nLuna: ")
    data = phantom("companion", "transcript", "--chat-id", uid, "--json").json()
    assert data["chat_id"] == uid and data["turns"][0]["user"] == "hello"
    assert data["turns"][0]["answered"] is True
    listed = phantom("companion", "transcript", "--list", "--json").json()
    assert {"chat_id": uid, "turns": 1} == {k: listed[0][k] for k in ("chat_id", "turns")}
    refused = phantom("companion", "transcript", "--chat-id", uid, "--clear")
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    cleared = phantom("companion", "transcript", "--chat-id", uid, "--clear", "--yes")
    assert cleared.exit_code == 0 and "cleared 1 turn" in cleared.stderr
    assert Transcript(uid).turns() == []
    empty = phantom("companion", "transcript", "--chat-id", uid)
    assert empty.exit_code == 0 and "no transcript" in empty.stderr


def test_a_bad_chat_id_is_refused_before_anything_is_recorded(phantom, luna) -> None:
    r = phantom("companion", "say", "-P", str(luna), "--chat-id", "-bad id", "hi")
    assert r.exit_code == 2 and "chat_id" in r.stderr
    assert list_transcripts() == [] and not Transcript("-bad id").path.exists()


@pytest.mark.parametrize("cmd", ["say", "transcript"])
def test_help_has_an_example(phantom, cmd) -> None:
    r = phantom("companion", cmd, "--help")
    # the usage line names the command too: look for it in the epilog's example
    assert r.exit_code == 0 and f"Examples: phantom companion {cmd} " in r.stdout


def test_an_over_long_or_empty_message_is_named_as_the_message(phantom, luna, uid) -> None:
    """QA: after two turns, a 16001-character message was refused as `messages[2].content`
    (an index into the window the user never sees); it is the user's `message`."""
    for text in ("first", "second"):
        assert phantom("companion", "say", "-P", str(luna), "--chat-id", uid, text).exit_code == 0
    r = phantom("companion", "say", "-P", str(luna), "--chat-id", uid, "x" * 16001)
    assert r.exit_code == 2
    assert "message: at most 16000 characters" in r.stderr and "messages[" not in r.stderr
    r = phantom("companion", "say", "-P", str(luna), "--chat-id", uid, "")
    assert r.exit_code == 2
    assert "message: must not be empty" in r.stderr and "messages[" not in r.stderr
    assert [t.user for t in Transcript(uid).turns()] == ["first", "second"]  # nothing recorded


def test_transcript_by_chat_id_shows_the_companion_name(phantom, luna, uid) -> None:
    """QA: `companion transcript --chat-id ID` (no persona file) labelled every reply
    "companion:"; the turns now keep the name they were sent with."""
    assert phantom("companion", "say", "-P", str(luna), "--chat-id", uid, "hello").exit_code == 0
    r = phantom("companion", "transcript", "--chat-id", uid)
    assert r.exit_code == 0 and "\nLuna: " in r.stdout and "companion:" not in r.stdout
    data = phantom("companion", "transcript", "--chat-id", uid, "--json").json()
    assert data["turns"][0]["persona"] == "Luna"
    old = Transcript(uid + "old")  # a transcript written before names were kept
    old.answer(old.begin("hi"), "hey")
    r = phantom("companion", "transcript", "--chat-id", uid + "old")
    assert r.exit_code == 0 and "companion: hey" in r.stdout


def test_help_example_persona_names_work_from_any_directory(
    phantom, uid, tmp_path, monkeypatch
) -> None:
    """QA: the help's `phantom companion say --persona luna.toml …` failed with "no such file"
    outside phantom_cli/personas/; a bare name now falls back to the shipped example, while a
    file of that name in the current directory still wins."""
    monkeypatch.chdir(tmp_path)
    r = phantom("companion", "say", "--persona", "luna.toml", "--chat-id", uid, "hi")
    assert r.exit_code == 0, r.stderr
    assert Transcript(uid).turns()[0].persona == "Luna"
    (tmp_path / "luna.toml").write_text('name = "Local Luna"\n', encoding="utf-8")
    r = phantom("companion", "say", "--persona", "luna.toml", "--chat-id", uid + "b", "hi")
    assert r.exit_code == 0 and Transcript(uid + "b").turns()[0].persona == "Local Luna"
    r = phantom("companion", "say", "--persona", "sub/luna.toml", "--chat-id", uid, "hi")
    assert r.exit_code == 2 and "no such file" in r.stderr  # a path with a folder is taken as is
    r = phantom("companion", "say", "--persona", "nobody.toml", "--chat-id", uid, "hi")
    assert r.exit_code == 2 and "no such file" in r.stderr


def test_transcript_list_when_there_is_none(phantom, monkeypatch) -> None:
    """QA: at a terminal an empty --list printed a bare table header."""
    monkeypatch.setenv("PHANTOM_FORCE_TTY", "1")
    r = phantom("companion", "transcript", "--list")
    assert r.exit_code == 0 and r.stdout == "" and "no transcripts yet" in r.stderr
    assert phantom("companion", "transcript", "--list", "--json").json() == []
