"""`phantom transcripts fork|tree|export|import` and `phantom npc fork` against the live backend
(issue 19, points 2 and 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phantom_cli.conversation.transcripts import Transcript

PERSONA = "abc123"
LUNA = 'name = "Luna"\ngender = "female"\ndescription = "A warm, curious companion."\n'

# A SillyTavern chat .jsonl written by hand from SillyTavern's format (src/endpoints/chats.js:
# a metadata line, then one message a line: name, is_user, send_date, mes; the character's
# messages with swipes, swipe_id, swipe_info).
ST_CHAT = "\n".join(
    json.dumps(x, ensure_ascii=False)
    for x in [
        {
            "user_name": "Ana",
            "character_name": "Mira",
            "create_date": "2026-01-02@10h00m00s",
            "chat_metadata": {"note_prompt": "", "integrity": "0f0e"},
        },
        {
            "name": "Mira",
            "is_user": False,
            "is_system": False,
            "send_date": "2026-01-02T10:00:00.000Z",
            "mes": "Welcome to the lighthouse.",
            "extra": {},
            "swipes": ["Welcome to the lighthouse.", "Oh! A visitor, at this hour?"],
            "swipe_id": 0,
            "swipe_info": [
                {"send_date": "2026-01-02T10:00:00.000Z", "extra": {}},
                {"send_date": "2026-01-02T10:00:05.000Z", "extra": {}},
            ],
        },
        {
            "name": "Ana",
            "is_user": True,
            "is_system": False,
            "send_date": "2026-01-02T10:01:00.000Z",
            "mes": "Is the lamp still lit? 灯",
            "extra": {},
        },
        {
            "name": "Mira",
            "is_user": False,
            "is_system": False,
            "send_date": "2026-01-02T10:01:30.000Z",
            "mes": "Every night, for forty years.",
            "extra": {},
            "swipes": ["It went dark last winter.", "Every night, for forty years.", "Why?"],
            "swipe_id": 1,
            "swipe_info": [
                {"send_date": "2026-01-02T10:01:10.000Z", "extra": {}},
                {"send_date": "2026-01-02T10:01:30.000Z", "extra": {}},
                {"send_date": "2026-01-02T10:01:40.000Z", "extra": {}},
            ],
        },
        {
            "name": "Ana",
            "is_user": True,
            "is_system": False,
            "send_date": "2026-01-02T10:02:00.000Z",
            "mes": "May I climb up?",
            "extra": {},
        },
        {
            "name": "Mira",
            "is_user": False,
            "is_system": False,
            "send_date": "2026-01-02T10:02:30.000Z",
            "mes": "Mind the loose step.",
            "extra": {},
            "swipes": ["Mind the loose step."],
            "swipe_id": 0,
        },
    ]
)

# What an import → export round trip may change (docs/transcripts.md, "Round trip"):
# create_date and chat_metadata of the metadata line, extra and swipe_info of a message, a
# swipes list on a message without one.
MESSAGE_FIELDS = ("name", "is_user", "send_date", "mes")


def _st_lines(text: str) -> list[dict]:
    return [json.loads(x) for x in text.splitlines() if x.strip()]


def _comparable(lines: list[dict]) -> list[dict]:
    head, *msgs = lines
    out = [{"user_name": head["user_name"], "character_name": head["character_name"]}]
    for m in msgs:
        row = {k: m[k] for k in MESSAGE_FIELDS}
        if not m["is_user"]:
            row["swipes"] = m.get("swipes") or [m["mes"]]
            row["swipe_id"] = m.get("swipe_id", 0)
        out.append(row)
    return out


@pytest.fixture
def luna(tmp_path: Path) -> Path:
    p = tmp_path / "luna.toml"
    p.write_text(LUNA, encoding="utf-8")
    return p


def _say(phantom, luna: Path, chat_id: str, *texts: str) -> None:
    for text in texts:
        r = phantom("companion", "say", "-P", str(luna), "--chat-id", chat_id, "--no-stream", text)
        assert r.exit_code == 0, r.stderr


def _npc_session(phantom, uid: str, *lines: str) -> None:
    r = phantom("npc", "init", PERSONA, "--session", uid, "--player-name", "Alex")
    assert r.exit_code == 0, r.stderr
    for line in lines:
        r = phantom("npc", "say", PERSONA, line, "--session", uid, "--no-stream")
        assert r.exit_code == 0, r.stderr


# --------------------------------------------------------------------------- fork


def test_fork_a_companion_chat_keeps_the_first_turns_and_continues_alone(phantom, luna, uid) -> None:
    _say(phantom, luna, uid, "one", "two", "three")
    r = phantom("transcripts", "fork", uid, "--at", "2", "--as", f"{uid}-b", "--kind", "companion")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == f"{uid}-b"
    fork = Transcript(f"{uid}-b")
    assert [t.user for t in fork.turns()] == ["one", "two"]
    orig = Transcript(uid).turns()
    assert [t.id for t in fork.turns()] == [t.id for t in orig[:2]]  # the same turns
    assert fork.fork_header()["from"] == uid and fork.fork_header()["at_turn"] == 2
    # the fork continues on its own; the original is unchanged
    _say(phantom, luna, f"{uid}-b", "four")
    assert [t.user for t in Transcript(f"{uid}-b").turns()] == ["one", "two", "four"]
    assert [t.user for t in Transcript(uid).turns()] == ["one", "two", "three"]
    assert Transcript(f"{uid}-b").turns()[-1].parent == orig[1].id


def test_fork_refuses_a_bad_turn_number_and_an_existing_target(phantom, luna, uid) -> None:
    _say(phantom, luna, uid, "one")
    r = phantom("transcripts", "fork", uid, "--at", "5", "--as", f"{uid}-x", "--kind", "companion")
    assert r.exit_code == 2 and "--at" in r.stderr and "0–1" in r.stderr
    assert not Transcript(f"{uid}-x").exists()
    _say(phantom, luna, f"{uid}-y", "hello")
    r = phantom("transcripts", "fork", uid, "--at", "1", "--as", f"{uid}-y", "--kind", "companion")
    assert r.exit_code == 6 and "exists already" in r.stderr
    assert [t.user for t in Transcript(f"{uid}-y").turns()] == ["hello"]


def test_npc_fork_copies_turns_and_the_state_as_of_turn_n(phantom, live_server, uid) -> None:
    _npc_session(phantom, uid, "I heard you have something rare for sale.", "How much?")
    full = live_server.client().npc.history(PERSONA, user_session_id=uid)
    r = phantom("npc", "fork", PERSONA, "--session", uid, "--at", "1", "--as", f"{uid}-f", "--json")
    assert r.exit_code == 0, r.stderr
    out = r.json()
    assert out["id"] == f"{uid}-f" and out["turns"] == 1
    hist = live_server.client().npc.history(PERSONA, user_session_id=f"{uid}-f")
    assert [m.content for m in hist.messages] == [m.content for m in full.messages[:3]]
    # the state is the one after turn 1 (the player's second message was sent from it)
    assert hist.messages[-1].state == full.messages[3].state
    info = live_server.client().local.npc(PERSONA, user_session_id=f"{uid}-f")
    player = info.machine().player
    assert player.current_state == full.messages[2].state
    assert len(player.state_path) <= len(
        live_server.client().local.npc(PERSONA, user_session_id=uid).machine().player.state_path
    )
    # the fork plays on from there; the original is unchanged
    r = phantom("npc", "say", PERSONA, "Deal.", "--session", f"{uid}-f", "--no-stream")
    assert r.exit_code == 0, r.stderr
    again = live_server.client().npc.history(PERSONA, user_session_id=uid)
    assert [m.content for m in again.messages] == [m.content for m in full.messages]


def test_npc_fork_at_zero_and_errors(phantom, uid) -> None:
    _npc_session(phantom, uid, "Hello there.")
    r = phantom("npc", "fork", PERSONA, "--session", uid, "--at", "0", "--as", f"{uid}-0")
    assert r.exit_code == 0, r.stderr
    r = phantom("npc", "history", PERSONA, "--session", f"{uid}-0", "--json")
    assert len(r.json()["messages"]) == 1  # the opening only
    r = phantom("npc", "fork", PERSONA, "--session", uid, "--at", "0", "--as", f"{uid}-0")
    assert r.exit_code == 6 and "exists already" in r.stderr
    r = phantom("npc", "fork", PERSONA, "--session", uid, "--at", "9", "--as", f"{uid}-9")
    assert r.exit_code == 2 and "--at" in r.stderr
    r = phantom("npc", "fork", PERSONA, "--session", f"{uid}-none", "--at", "0", "--as", f"{uid}-n")
    assert r.exit_code == 5


def test_fork_an_instance_copies_the_first_turns_messages(phantom, live_server, uid) -> None:
    act = live_server.add_activity(title=f"Fork {uid}", category=f"f-{uid}", first_message="Hi!")
    inst = json.loads(phantom("instances", "create", act, "--json").stdout)["id"]
    for text in ("first", "second"):
        r = phantom("instances", "chat", inst, text)
        assert r.exit_code == 0, r.stderr
    r = phantom("transcripts", "fork", inst, "--at", "1", "--json")
    assert r.exit_code == 0, r.stderr
    new = r.json()["id"]
    assert new != inst and new.startswith("inst_")
    c = live_server.client()
    old_msgs = list(reversed(c.instances.messages.list(inst, limit=100).data))
    new_msgs = list(reversed(c.instances.messages.list(new, limit=100).data))
    # the stored greeting, then turn 1 (the greeting is not doubled)
    assert [m.role for m in old_msgs] == ["assistant", "user", "assistant", "user", "assistant"]
    assert [(m.role, m.content) for m in new_msgs] == [
        (m.role, m.content) for m in old_msgs[:3]
    ]
    assert c.instances.get(new).activity_id == act


# --------------------------------------------------------------------------- tree


def test_tree_shows_the_branches_plain_and_json(phantom, luna, uid) -> None:
    _say(phantom, luna, uid, "one", "two", "three")
    assert phantom("transcripts", "fork", uid, "--at", "1", "--as", f"{uid}-b",
               "--kind", "companion").exit_code == 0
    _say(phantom, luna, f"{uid}-b", "other way")
    r = phantom("transcripts", "tree", uid, "--kind", "companion")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("companion") and "2 conversations" in lines[0]
    text = r.stdout
    assert "one" in text and "three" in text and "other way" in text
    # the two branches hang under turn 1: "two" and "other way" are siblings
    two = next(x for x in lines if "two" in x)
    other = next(x for x in lines if "other way" in x)
    assert two.startswith("├─ ") and other.startswith("└─ ")
    assert lines[1].endswith(": one")  # the shared turn first, not indented
    assert any(x.startswith("│  ◆ " + uid) for x in lines)
    data = json.loads(phantom("transcripts", "tree", f"{uid}-b", "--kind", "companion",
                          "--json").stdout)
    (root,) = data["roots"]
    assert root["user"] == "one" and sorted(root["conversations"]) == sorted([uid, f"{uid}-b"])
    kids = [c["user"] for c in root["children"]]
    assert kids == ["two", "other way"]
    assert root["children"][1]["heads"] == [f"{uid}-b"]


def test_tree_of_an_npc_fork_hangs_under_the_turn_it_shares(phantom, uid, monkeypatch) -> None:
    _npc_session(phantom, uid, "Hello there.", "How much?")
    assert phantom("npc", "fork", PERSONA, "--session", uid, "--at", "1", "--as",
               f"{uid}-t").exit_code == 0
    r = phantom("npc", "say", PERSONA, "Too much.", "--session", f"{uid}-t", "--no-stream")
    assert r.exit_code == 0
    data = json.loads(phantom("transcripts", "tree", f"{uid}-t", "--persona", PERSONA,
                          "--json").stdout)
    assert {c["id"] for c in data["conversations"]} == {uid, f"{uid}-t"}
    (root,) = data["roots"]  # the opening
    (turn1,) = root["children"]
    assert turn1["user"] == "Hello there."
    assert [c["user"] for c in turn1["children"]] == ["How much?", "Too much."]
    monkeypatch.setenv("PHANTOM_FORCE_TTY", "1")
    r = phantom("transcripts", "tree", uid, "--persona", PERSONA)
    assert r.exit_code == 0 and "Too much." in r.stdout and "How much?" in r.stdout


# --------------------------------------------------------------------------- export


def test_export_a_companion_chat_in_each_format(phantom, luna, uid, tmp_path) -> None:
    _say(phantom, luna, uid, "hello", "tell me more")
    md = phantom("transcripts", "export", uid, "--format", "md", "--kind", "companion")
    assert md.exit_code == 0, md.stderr
    assert md.stdout.startswith("# Luna") and "hello" in md.stdout and "tell me more" in md.stdout
    jl = phantom("transcripts", "export", uid, "--format", "jsonl", "--kind", "companion")
    head, *msgs = [json.loads(x) for x in jl.stdout.splitlines()]
    assert head["format"] == "phantom-transcript/1" and head["kind"] == "companion"
    assert [m["role"] for m in msgs] == ["user", "assistant", "user", "assistant"]
    assert msgs[0]["parent"] is None and all(
        m["parent"] == prev["id"] for prev, m in zip(msgs, msgs[1:], strict=False)
    )
    out = tmp_path / "luna.jsonl"
    st = phantom("transcripts", "export", uid, "--format", "sillytavern", "-o", str(out),
             "--kind", "companion")
    assert st.exit_code == 0, st.stderr and st.stdout == ""
    head, *lines = _st_lines(out.read_text(encoding="utf-8"))
    assert head["character_name"] == "Luna" and "create_date" in head and "chat_metadata" in head
    assert [m["is_user"] for m in lines] == [True, False, True, False]
    assert lines[0]["mes"] == "hello"
    assert lines[1]["swipes"] == [lines[1]["mes"]] and lines[1]["swipe_id"] == 0


def test_export_an_npc_session_and_an_instance(phantom, live_server, uid) -> None:
    _npc_session(phantom, uid, "Hello there.")
    r = phantom("transcripts", "export", uid, "--format", "sillytavern")  # found on the backend
    assert r.exit_code == 0, r.stderr
    head, *lines = _st_lines(r.stdout)
    assert head["chat_metadata"]["phantom"]["kind"] == "npc"
    assert [m["is_user"] for m in lines] == [False, True, False]
    assert lines[1]["mes"] == "Hello there."
    act = live_server.add_activity(title=f"Exp {uid}", category=f"e-{uid}", first_message="Hey.")
    inst = json.loads(phantom("instances", "create", act, "--json").stdout)["id"]
    assert phantom("instances", "chat", inst, "ping").exit_code == 0
    r = phantom("transcripts", "export", inst, "--format", "md")
    assert r.exit_code == 0, r.stderr
    assert f"# Exp {uid}" in r.stdout and "ping" in r.stdout
    assert r.stdout.index("Hey.") < r.stdout.index("ping")  # the activity's opening comes first


def test_export_an_unknown_id_and_an_ambiguous_one(phantom, luna, uid) -> None:
    r = phantom("transcripts", "export", f"{uid}-nothing")
    assert r.exit_code == 5 and "no companion chat, NPC session or instance" in r.stderr
    _say(phantom, luna, uid, "hello")
    _npc_session(phantom, uid)  # an NPC session with the same id
    r = phantom("transcripts", "export", uid)
    assert r.exit_code == 2 and "ambiguous" in r.stderr and "--kind" in r.stderr
    r = phantom("transcripts", "export", uid, "--kind", "npc", "--format", "jsonl")
    assert r.exit_code == 0 and '"kind": "npc"' in r.stdout
    r = phantom("transcripts", "export", uid, "--format", "pdf", "--kind", "companion")
    assert r.exit_code == 2 and "--format" in r.stderr


def test_export_escapes_terminal_sequences_on_stdout(phantom, luna, uid) -> None:
    _say(phantom, luna, uid, "evil \x1b]52;c;aGk=\x07 text")
    r = phantom("transcripts", "export", uid, "--format", "md", "--kind", "companion")
    assert "\x1b" not in r.stdout and "\\x1b" in r.stdout


# --------------------------------------------------------------------------- import


def test_import_sillytavern_as_companion_round_trips(phantom, uid, tmp_path) -> None:
    src = tmp_path / "mira.jsonl"
    src.write_text(ST_CHAT, encoding="utf-8")
    r = phantom("transcripts", "import", str(src), "--as", "companion", "--chat-id", uid, "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["turns"] == 2 and r.json()["id"] == uid
    turns = Transcript(uid).turns()
    assert turns[0].greeting and turns[0].swipes == [
        "Welcome to the lighthouse.", "Oh! A visitor, at this hour?"
    ]
    assert turns[1].reply == "Every night, for forty years." and turns[1].swipe_id == 1
    # the user's name in an export is the player's (docs/transcripts.md): the same one here
    assert phantom("config", "set", "player_name", "Ana").exit_code == 0
    out = tmp_path / "back.jsonl"
    r = phantom("transcripts", "export", uid, "--format", "sillytavern", "-o", str(out),
            "--kind", "companion")
    assert r.exit_code == 0, r.stderr
    back = _st_lines(out.read_text(encoding="utf-8"))
    assert _comparable(back) == _comparable(_st_lines(ST_CHAT))
    assert [m["send_date"] for m in back[1:]] == [m["send_date"] for m in _st_lines(ST_CHAT)[1:]]
    # and the context sent on a next turn is the chosen alternatives
    ctx = Transcript(uid).context()
    assert ctx[-2:] == [
        {"role": "user", "content": "May I climb up?"},
        {"role": "assistant", "content": "Mind the loose step."},
    ]
    assert {"role": "assistant", "content": "Every night, for forty years."} in ctx


def test_import_sillytavern_as_instance_keeps_swipes(phantom, live_server, uid, tmp_path) -> None:
    act = live_server.add_activity(title="Mira", category=f"m-{uid}", first_message="Hello.")
    src = tmp_path / "mira.jsonl"
    src.write_text(ST_CHAT, encoding="utf-8")
    r = phantom("transcripts", "import", str(src), "--as", "instance", "--activity", act, "--json")
    assert r.exit_code == 0, r.stderr
    inst = r.json()["id"]
    msgs = list(reversed(live_server.client().instances.messages.list(inst, limit=100).data))
    assert [(m.role, m.content) for m in msgs] == [
        ("assistant", "Welcome to the lighthouse."),
        ("user", "Is the lamp still lit? 灯"),
        ("assistant", "Every night, for forty years."),
        ("user", "May I climb up?"),
        ("assistant", "Mind the loose step."),
    ]
    r = phantom("transcripts", "export", inst, "--format", "sillytavern")
    assert r.exit_code == 0, r.stderr
    back = _st_lines(r.stdout)
    assert [m.get("swipes") for m in back[1:] if not m["is_user"]] == [
        ["Welcome to the lighthouse.", "Oh! A visitor, at this hour?"],
        ["It went dark last winter.", "Every night, for forty years.", "Why?"],
        ["Mind the loose step."],
    ]
    assert back[3]["swipe_id"] == 1


def test_import_refuses_a_bad_file_and_writes_nothing(phantom, uid, tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    lines = ST_CHAT.splitlines()
    broken = json.loads(lines[3])
    broken["swipe_id"] = 7
    bad.write_text("\n".join([*lines[:3], json.dumps(broken), *lines[4:]]), encoding="utf-8")
    r = phantom("transcripts", "import", str(bad), "--as", "companion", "--chat-id", uid)
    assert r.exit_code == 2 and "bad.jsonl:4: swipe_id" in r.stderr
    assert not Transcript(uid).exists()
    notjson = tmp_path / "x.jsonl"
    notjson.write_text('{"name": "A", "is_user": true, "mes": "hi"}\n', encoding="utf-8")
    r = phantom("transcripts", "import", str(notjson), "--as", "companion")
    assert r.exit_code == 2 and "metadata line" in r.stderr
    r = phantom("transcripts", "import", str(bad), "--as", "instance")
    assert r.exit_code == 2 and "--activity" in r.stderr
    src = tmp_path / "ok.jsonl"
    src.write_text(ST_CHAT, encoding="utf-8")
    assert phantom("transcripts", "import", str(src), "--as", "companion",
               "--chat-id", uid).exit_code == 0
    r = phantom("transcripts", "import", str(src), "--as", "companion", "--chat-id", uid)
    assert r.exit_code == 6 and "exists already" in r.stderr


@pytest.mark.parametrize("cmd", ["fork", "tree", "export", "import"])
def test_help_has_an_example(phantom, cmd) -> None:
    r = phantom("transcripts", cmd, "--help")
    assert r.exit_code == 0 and "Example" in r.stdout


def test_a_companion_chat_exports_and_forks_without_a_server(phantom, luna, uid, monkeypatch) -> None:
    _say(phantom, luna, uid, "hello")
    monkeypatch.setenv("PHANTOM_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    r = phantom("transcripts", "export", uid, "--kind", "companion", "--format", "jsonl")
    assert r.exit_code == 0, r.stderr
    assert '"content": "hello"' in r.stdout
    r = phantom("transcripts", "fork", uid, "--kind", "companion", "--at", "0", "--as", f"{uid}-0")
    assert r.exit_code == 0, r.stderr
    assert Transcript(f"{uid}-0").turns() == [] and Transcript(f"{uid}-0").fork_header()
    r = phantom("transcripts", "tree", f"{uid}-0", "--kind", "companion", "--json")
    assert r.exit_code == 0 and r.json()["roots"][0]["heads"] == [uid]
    assert r.json()["empty"] == [f"{uid}-0"]


async def test_npc_fork_on_the_hosted_api_says_it_is_not_available() -> None:
    from phantom_cli.client import AsyncPhantom
    from phantom_cli.conversation.branches import BranchError, fork_npc

    client = AsyncPhantom(base_url="https://api.example.invalid", api_key="k", backend="hosted")
    try:
        with pytest.raises(BranchError) as err:
            await fork_npc(client, PERSONA, "s1", 1, "s2")
    finally:
        await client.aclose()
    assert err.value.code == "unavailable" and "hosted API" in str(err.value)
