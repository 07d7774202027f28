"""`phantom npc init|say|history|reset` against the live backend (Hollow Market merchant)."""

from __future__ import annotations

import re

import pytest

from phantom_cli.cli import npc as npc_cli
from phantom_cli.conversation import default_session_id

PERSONA = "abc123"


def init(phantom, uid: str, *extra: str):
    r = phantom(
        "npc",
        "init",
        PERSONA,
        "--session",
        uid,
        "--player-name",
        "Alex",
        "--player-gender",
        "non-binary",
        *extra,
    )
    assert r.exit_code == 0, r.stderr
    return r


def test_init_prints_the_opening_line(phantom, uid) -> None:
    r = init(phantom, uid)
    assert "Hollow Market, Alex?" in r.stdout
    assert "machine machine_main" in r.stderr and "player Alex (non-binary)" in r.stderr
    j = phantom(
        "npc",
        "init",
        PERSONA,
        "--session",
        uid + "j",
        "--player-name",
        "Sam",
        "--player-gender",
        "female",
        "--json",
    )
    data = j.json()
    assert data["player_name"] == "Sam" and data["player_gender"] == "female"
    assert data["machine_id"] == "machine_main" and data["session_id"]


def test_say_prints_the_line_and_the_state_on_stderr(phantom, uid) -> None:
    init(phantom, uid)
    r = phantom("npc", "say", PERSONA, "I heard you have something rare for sale.", "--session", uid)
    assert r.exit_code == 0, r.stderr
    assert "Everything here is rare" in r.stdout or "not everything costs gold" in r.stdout
    assert "state: negotiation" not in r.stdout  # the metadata is not mixed into the line
    assert "state: negotiation" in r.stderr
    assert "score: 1 (+1)" in r.stderr
    assert "decision: pass" in r.stderr
    assert "redirects: 0" in r.stderr
    assert "outcome: —" in r.stderr
    assert "machine completed: no" in r.stderr


def test_say_json_is_the_full_response(phantom, live_server, uid) -> None:
    init(phantom, uid)
    r = phantom("npc", "say", PERSONA, "What do you have for sale?", "--session", uid, "--json")
    assert r.exit_code == 0, r.stderr
    data = r.json()
    for key in (
        "message",
        "current_state",
        "score",
        "outcome",
        "decision",
        "follow_up",
        "redirect_count",
        "session_id",
        "scoring_mode",
        "machine_completed",
        "unlocked_machines",
    ):
        assert key in data, key
    assert data["current_state"] == "negotiation"
    assert r.stderr == ""
    # matches what the API says happened
    hist = live_server.client().npc.history(PERSONA, user_session_id=uid)
    assert hist.messages[-1].content == data["message"]
    jq = phantom("npc", "say", PERSONA, "How much does it cost?", "--session", uid, "--jq", ".score")
    assert jq.exit_code == 0 and float(jq.stdout) == 2


def test_say_streams_when_asked(phantom, uid) -> None:
    init(phantom, uid)
    r = phantom("npc", "say", PERSONA, "Show me your wares.", "--session", uid, "--stream")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() and "state: negotiation" in r.stderr


def test_say_to_an_unknown_session_is_404_exit_5(phantom, uid) -> None:
    r = phantom("npc", "say", PERSONA, "hello", "--session", uid)
    assert r.exit_code == 5
    assert "404" in r.stderr and f"phantom npc init {PERSONA}" in r.stderr
    assert r.stdout == ""


def test_unknown_persona_is_404(phantom, uid) -> None:
    r = phantom(
        "npc",
        "init",
        "no-such-npc",
        "--session",
        uid,
        "--player-name",
        "A",
        "--player-gender",
        "male",
    )
    assert r.exit_code == 5 and "404" in r.stderr


def test_completed_machine_is_409_exit_6(phantom, uid) -> None:
    init(phantom, uid)
    r = phantom("npc", "say", PERSONA, "Goodbye.", "--session", uid)
    assert r.exit_code == 0, r.stderr
    assert "machine completed: yes" in r.stderr
    assert "outcome: —" not in r.stderr
    again = phantom("npc", "say", PERSONA, "Wait, come back!", "--session", uid)
    assert again.exit_code == 6
    assert "409" in again.stderr and "npc reset" in again.stderr


def test_history_plain_table_and_json(phantom, uid, monkeypatch) -> None:
    init(phantom, uid)
    phantom("npc", "say", PERSONA, "Anything rare for sale?", "--session", uid)
    plain = phantom("npc", "history", PERSONA, "--session", uid)
    assert plain.exit_code == 0, plain.stderr
    rows = [line.split("\t") for line in plain.stdout.splitlines()]
    assert [row[1] for row in rows] == ["npc", "player", "npc"]
    assert rows[0][2] == "greeting" and rows[1][3] == "Anything rare for sale?"
    data = phantom("npc", "history", PERSONA, "--session", uid, "--json").json()
    assert [m["role"] for m in data["messages"]] == ["npc", "player", "npc"]
    assert data["machine_id"] == "machine_main"
    monkeypatch.setenv("PHANTOM_FORCE_TTY", "1")
    table = phantom("npc", "history", PERSONA, "--session", uid)
    assert table.exit_code == 0
    assert "WHO" in table.stdout and "MESSAGE" in table.stdout and "3 messages" in table.stderr
    assert "Anything rare for sale?" in table.stdout and "greeting" in table.stdout


def test_history_of_an_unknown_session(phantom, uid) -> None:
    r = phantom("npc", "history", PERSONA, "--session", uid)
    assert r.exit_code == 5


def test_reset_needs_yes_without_a_terminal(phantom, uid, monkeypatch) -> None:
    init(phantom, uid)
    phantom("npc", "say", PERSONA, "Goodbye.", "--session", uid)
    r = phantom("npc", "reset", PERSONA, "--session", uid)
    assert r.exit_code == 2 and "--yes" in r.stderr
    # at a terminal it asks; "no" keeps the session
    monkeypatch.setattr(npc_cli, "stdin_is_tty", lambda: True)
    r = phantom("npc", "reset", PERSONA, "--session", uid, input="n\n")
    assert r.exit_code == 1 and "not reset" in r.stderr
    assert phantom("npc", "say", PERSONA, "hello?", "--session", uid).exit_code == 6
    r = phantom("npc", "reset", PERSONA, "--session", uid, input="y\n")
    assert r.exit_code == 0, r.stderr
    r = phantom("npc", "reset", PERSONA, "--session", uid, "--yes", "--json")
    assert r.json()["reset"] is True
    # the machine is back at its first state
    ok = phantom("npc", "say", PERSONA, "What is for sale?", "--session", uid, "--json")
    assert ok.exit_code == 0, ok.stderr
    assert ok.json()["current_state"] == "negotiation"


def test_defaults_from_the_profile(phantom, uid) -> None:
    """Persona, player name/gender and the session id come from the profile."""
    assert phantom("config", "set", "player_name", "Robin").exit_code == 0
    assert phantom("config", "set", "player_gender", "female").exit_code == 0
    r = phantom("npc", "init")
    assert r.exit_code == 0, r.stderr
    assert "Robin" in r.stdout and "player Robin (female)" in r.stderr
    assert "--session cli-local-robin" in r.stderr
    r = phantom("npc", "say", "Anything rare for sale?")  # persona + session from the profile
    assert r.exit_code == 0, r.stderr
    assert "state: negotiation" in r.stderr
    r = phantom("npc", "reset", "--yes")
    assert r.exit_code == 0, r.stderr


def test_bad_input_is_refused_before_sending(phantom, uid) -> None:
    r = phantom(
        "npc", "init", PERSONA, "--session", uid, "--player-name", "A", "--player-gender", "robot"
    )
    assert r.exit_code == 2 and "player_gender" in r.stderr
    r = phantom("npc", "say", PERSONA, "x" * 16001, "--session", uid)
    assert r.exit_code == 2 and "message" in r.stderr and "16000" in r.stderr
    r = phantom("npc", "say", "a", "b", "c")
    assert r.exit_code == 2 and "[PERSONA_ID] TEXT" in r.stderr


@pytest.mark.parametrize("cmd", ["init", "say", "history", "reset"])
def test_help_has_an_example(phantom, cmd) -> None:
    r = phantom("npc", cmd, "--help")
    # the usage line names the command too: look for it in the epilog's example
    assert r.exit_code == 0 and re.search(rf"Examples?: phantom npc {cmd} ", r.stdout)


def test_default_session_is_a_valid_id() -> None:
    pat = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")
    assert default_session_id("local", "Alex") == "cli-local-alex"
    assert pat.match(default_session_id("prod", "Zoë de la Crúz"))
    assert pat.match(default_session_id("p", None))


def test_hostile_text_is_inert_and_intact_in_history(phantom, uid, monkeypatch) -> None:
    init(phantom, uid)
    hostile = "[bold red]boom[/] \x1b[2J\x1b]0;pwned\x07 \x1b]52;c;Zm9v\x07 " + "x" * 3000
    r = phantom("npc", "say", PERSONA, hostile, "--session", uid)
    assert r.exit_code == 0, r.stderr
    plain = phantom("npc", "history", PERSONA, "--session", uid)
    row = plain.stdout.splitlines()[1].split("\t")
    assert (
        row[3] == "[bold red]boom[/] \\x1b[2J\\x1b]0;pwned\\x07 \\x1b]52;c;Zm9v\\x07 " + "x" * 3000
    )
    data = phantom("npc", "history", PERSONA, "--session", uid, "--json").json()
    assert data["messages"][1]["content"] == hostile  # JSON keeps the exact text (escaped)
    monkeypatch.setenv("PHANTOM_FORCE_TTY", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    table = phantom("npc", "history", PERSONA, "--session", uid)
    assert table.exit_code == 0
    out = table.stdout
    assert "\x07" not in out and "\x1b]" not in out and "\x1b[2J" not in out
    assert "[bold red]boom[/]" in out
    assert out.count("x") >= 3000  # the long line is folded, not cut


# ---------------------------------------------------------------- 404/409 hints fit the error


def test_unknown_persona_hint_lists_the_known_npcs_not_a_list_command(phantom, uid) -> None:
    """QA: `npc init nope` said "'list' shows what exists" (there is no `npc list`), and
    `npc say nope hi` told the user to init a persona that does not exist."""
    for args in (("init", "nope-npc"), ("say", "nope-npc", "hi"), ("history", "nope-npc")):
        r = phantom("npc", *args, "--session", uid)
        assert r.exit_code == 5, r.stderr
        assert "known NPC personas:" in r.stderr and PERSONA in r.stderr
        assert "'list' shows" not in r.stderr and "npc init" not in r.stderr


def test_no_session_hint_repeats_the_session_and_machine_flags(phantom, uid) -> None:
    """QA: the hint said `phantom npc init abc123`, which starts the *default* session, not the
    one the user named with --session (so following it did not help)."""
    r = phantom("npc", "say", PERSONA, "hello", "--session", uid)
    assert r.exit_code == 5
    assert f"phantom npc init {PERSONA} --session {uid}" in r.stderr
    r = phantom("npc", "history", PERSONA, "--session", uid, "--machine", "machine_main")
    assert r.exit_code == 5
    assert f"phantom npc init {PERSONA} --session {uid} --machine machine_main" in r.stderr
    r = phantom("npc", "reset", PERSONA, "--session", uid, "--yes")  # was the generic 'list' hint
    assert r.exit_code == 5
    assert f"phantom npc init {PERSONA} --session {uid}" in r.stderr
    assert "'list' shows" not in r.stderr


def test_unknown_machine_and_completed_machine_hints(phantom, uid) -> None:
    r = phantom("npc", "init", PERSONA, "--session", uid, "--machine", "no_such_machine")
    assert r.exit_code == 5
    assert "machine_main" in r.stderr and "check --machine" in r.stderr
    assert "npc init" not in r.stderr.split("hint:")[-1]
    init(phantom, uid)
    phantom("npc", "say", PERSONA, "Goodbye.", "--session", uid)
    again = phantom("npc", "say", PERSONA, "Wait!", "--session", uid)
    assert again.exit_code == 6
    assert f"phantom npc reset {PERSONA} --session {uid} --yes" in again.stderr


def test_unknown_persona_hint_without_the_local_npc_list() -> None:
    """On a hosted API (no /local/npcs) the hint still helps, without listing."""
    from phantom_cli.client.errors import NotFoundError

    class Hosted:
        class local:  # noqa: N801 - mimics client.local
            @staticmethod
            def npcs() -> list:
                raise NotFoundError("no such route", status=404)

    hint = npc_cli._not_found_hint(Hosted(), "nope", None, None, "NPC persona 'nope' not found")
    assert "check the persona id" in hint and "npc_persona" in hint
    hint = npc_cli._not_found_hint(Hosted(), "p x", "s 1", None, "no NPC session 's 1'")
    assert hint == "start the session first: phantom npc init 'p x' --session 's 1'"


def test_init_on_an_existing_session_says_it_resumed(phantom, uid) -> None:
    """QA: `npc init` on a finished session printed the opening line as if it started over;
    the next `say` then failed with 409. init resumes: it now says so and how to start over."""
    first = init(phantom, uid)
    assert "resumed" not in first.stderr  # a new session: nothing to say
    phantom("npc", "say", PERSONA, "Goodbye.", "--session", uid)
    again = init(phantom, uid)
    assert "Hollow Market" in again.stdout
    assert "resumed: this session already has 3 messages (state walked_away)" in again.stderr
    assert f"phantom npc reset {PERSONA} --session {uid} --yes" in again.stderr
    j = phantom("npc", "init", PERSONA, "--session", uid, "--json")
    assert j.exit_code == 0 and "resumed" not in j.stderr and j.json()["session_id"]


def test_an_unlocked_machine_says_how_to_play_it(phantom, uid) -> None:
    """QA: "unlocked: machine_secret" left the user guessing how to reach it."""
    init(phantom, uid)
    for text in (
        "What do you have for sale?",
        "Could I pay with a secret instead of gold?",
        "I confess: I have never told anyone that I once stole a star map.",
    ):
        r = phantom("npc", "say", PERSONA, text, "--session", uid)
        assert r.exit_code == 0, r.stderr
    assert "unlocked: machine_secret" in r.stderr
    hint = f"play it: phantom npc init {PERSONA} --session {uid} --machine machine_secret"
    assert hint in r.stderr
    follow = phantom("npc", "init", PERSONA, "--session", uid, "--machine", "machine_secret")
    assert follow.exit_code == 0 and "The Vault" in follow.stdout


def test_history_of_a_reset_session_at_a_terminal(phantom, uid, monkeypatch) -> None:
    """QA: after a reset, history at a terminal printed a bare table header."""
    init(phantom, uid)
    assert phantom("npc", "reset", PERSONA, "--session", uid, "--yes").exit_code == 0
    monkeypatch.setenv("PHANTOM_FORCE_TTY", "1")
    r = phantom("npc", "history", PERSONA, "--session", uid)
    assert r.exit_code == 0 and "WHO" not in r.stdout
    assert "no messages yet" in r.stderr and "0 messages" in r.stderr


def test_a_forgotten_message_is_not_sent_as_the_persona_id(phantom, uid) -> None:
    """QA: `phantom npc say abc123` (message forgotten) sent "abc123" as the player's line and
    spent a redirect. Now it is refused; a piped message is taken as the text."""
    init(phantom, uid)
    r = phantom("npc", "say", PERSONA, "--session", uid, input="")
    assert r.exit_code == 2 and "no message" in r.stderr and "persona id" in r.stderr
    r = phantom("npc", "say", PERSONA, "--session", uid, input="What do you have for sale?\n")
    assert r.exit_code == 0, r.stderr
    assert "state: negotiation" in r.stderr
    players = [
        m["content"]
        for m in phantom("npc", "history", PERSONA, "--session", uid, "--json").json()["messages"]
        if m["role"] == "player"
    ]
    assert players == ["What do you have for sale?"]


def test_closed_or_undecodable_standard_input_is_a_clear_error(monkeypatch) -> None:
    """A closed standard input (`0<&-`: sys.stdin is None) was an "unexpected error"."""
    import io
    import sys

    from phantom_cli.cli.common import CLIError, stdin_text
    from phantom_cli.cli.companion import _read_text

    monkeypatch.setattr(sys, "stdin", None)
    assert stdin_text() == ""
    with pytest.raises(CLIError, match="no message"):
        _read_text(None)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\xff hi"), encoding="utf-8"))
    with pytest.raises(CLIError, match="standard input is not UTF-8 text"):
        stdin_text()
    monkeypatch.setattr(sys, "stdin", io.StringIO("hello\n"))
    assert _read_text(None) == "hello" and _read_text("given") == "given"
