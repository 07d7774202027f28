"""Regression tests for defects QA found in the CLI core (/tmp/qa_findings.md)."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from phantom_cli.config import load_settings

from phantom_cli.cli.output import OutputMode, col, fit_widths

from .conftest import Cli

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
    """QA 1: ids were cut (``act_intervie…``) and headers collapsed to blanks at 80 columns."""
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


# --------------------------------------------------------------------------- QA 7, QA 9


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(*args: str, env: dict[str, str] | None = None) -> Any:
    return Cli(None, None)(*args, env=env, auth=False)


def test_unreachable_profile_url_is_stated_once_and_the_hint_names_the_profile() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    assert _run("profile", "add", "dead", "--url", url).exit_code == 0
    _run("-p", "dead", "config", "set", "max_retries", "0")
    r = _run("-p", "dead", "activities", "list", env={"PHANTOM_API_KEY": "ph_test_key"})
    assert r.exit_code == 3, r.stderr
    error, hint = r.stderr.strip().splitlines()
    assert error.startswith("error: cannot reach the server at " + url)
    assert error.count(url) == 1
    assert hint.startswith("hint: ") and "profile 'dead'" in hint and "config set base_url" in hint
    assert "PHANTOM_BASE_URL" not in hint and "--base-url" not in hint


def test_unreachable_env_url_hint_names_the_variable() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    env = {"PHANTOM_BASE_URL": url, "PHANTOM_API_KEY": "k", "PHANTOM_PROFILE": "local"}
    _run("config", "set", "max_retries", "0")
    r = _run("activities", "list", env=env)
    assert r.exit_code == 3 and r.stderr.count(url) == 1
    assert "PHANTOM_BASE_URL" in r.stderr.splitlines()[-1]


def test_hosted_profile_without_a_key_fails_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a request was sent")

    monkeypatch.setattr(httpx.Client, "send", no_network)
    assert _run("profile", "add", "nokey", "--url", "http://127.0.0.1:9").exit_code == 0
    r = _run("-p", "nokey", "activities", "list")
    assert r.exit_code == 4, r.stderr
    assert r.stderr.splitlines()[0] == "error: no API key for profile 'nokey' (run phantom auth login)"
    assert "PHANTOM_API_KEY" in r.stderr


def test_profile_add_accepts_base_url_like_the_global_flag() -> None:
    r = _run("profile", "add", "staging", "--base-url", "https://staging.example")
    assert r.exit_code == 0, r.stderr
    assert load_settings().profiles["staging"]["base_url"] == "https://staging.example"


# --------------------------------------------------------------------------- QA 12, QA 15 (config set)


def test_config_set_negative_number_reaches_the_key_check() -> None:
    r = _run("config", "set", "max_retries", "-5")
    assert r.exit_code == 2
    assert r.stderr.splitlines()[0] == "error: key 'max_retries' must be ≥ 0; got -5"
    assert "No such option" not in r.stderr


def test_config_set_zero_timeout_refused_with_a_hint_about_the_key() -> None:
    r = _run("config", "set", "timeout_read", "0")
    assert r.exit_code == 2
    error, hint = r.stderr.strip().splitlines()
    assert error == "error: key 'timeout_read' must be > 0 (seconds); got 0.0"
    assert hint.startswith("hint: timeout_read: ") and "config path" not in hint


def test_config_set_stores_file_paths_absolute(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for key in ("companion_persona_file", "llama_model_path", "moderation_policy"):
        assert _run("config", "set", key, "mine.toml").exit_code == 0
        assert load_settings().profiles["local"][key] == str(tmp_path / "mine.toml")


# --------------------------------------------------------------------------- QA 13, 14, 17


@pytest.mark.parametrize(
    ("partial", "hint"),
    [("", "nothing of the reply arrived"), ("Rare? Everything", "the partial reply is above")],
)
def test_stream_cut_hint_mentions_a_partial_reply_only_when_there_is_one(
    partial: str, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from phantom_cli.cli.common import State, report_error
    from phantom_cli.client.errors import StreamInterruptedError

    exc = StreamInterruptedError("POST /x: the stream was cut after 0 characters", partial=partial)
    assert report_error(exc, State()) == 3
    err = capsys.readouterr().err
    assert hint in err
    if not partial:
        assert "above" not in err


def test_jq_syntax_error_is_one_clean_line() -> None:
    from phantom_cli.cli.output import JqError, compile_jq

    with pytest.raises(JqError) as info:
        compile_jq(".[0")
    message = str(info.value)
    assert "\n" not in message and "\\n" not in message and "^" not in message
    assert message.startswith("--jq: invalid expression '.[0': jq: error: syntax error")


def test_list_jq_help_says_it_gets_the_page_object() -> None:
    r = _run("activities", "list", "--help")
    assert ".data[].id" in r.stdout


def test_validation_error_names_the_flag_not_the_wire_field(cli: Cli) -> None:
    r = cli("personas", "create", "X", "--style", "cartoon")
    assert r.exit_code == 2
    assert "--style: must be one of" in r.stderr and "style_preference" not in r.stderr
    r = cli("media", "generate", "image", "--skin", "s", "--category", "portrait", "--nsfw", "bad")
    assert r.exit_code == 2 and "--nsfw: must be one of" in r.stderr


def test_instances_archive_prints_one_line(cli: Cli, unique: str) -> None:
    act = cli.server.add_activity(title=f"Arch {unique}", category=f"a-{unique}")
    inst = cli("instances", "create", act, "--jq", ".id").stdout.strip()
    r = cli("instances", "archive", inst)
    assert r.exit_code == 0 and r.stdout == f"archived {inst} (Arch {unique})\n"


def test_keys_revoke_refuses_the_cli_s_own_local_key(cli: Cli) -> None:
    from pathlib import Path

    from phantom_cli.config import local_api_key_file

    key_file = Path(local_api_key_file())
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text(cli.api_key or "")
    listed = cli("keys", "list", "--json")
    own = next(k for k in json.loads(listed.stdout) if (cli.api_key or "").startswith(k["prefix"]))
    r = cli("keys", "revoke", own["id"])
    assert r.exit_code == 2 and "own key" in r.stderr and "--force" in r.stderr
    assert cli("activities", "list").exit_code == 0  # still works
    other = cli.server.make_key(user=f"qa-{own['id'][-6:]}")
    other_id = next(
        k["id"] for k in json.loads(cli("keys", "list", "--json").stdout)
        if other.startswith(k["prefix"]) and not k.get("revoked_at")
    )
    assert cli("keys", "revoke", other_id).exit_code == 0


def test_local_401_hint_points_at_serve_stop_not_auth_login(monkeypatch: pytest.MonkeyPatch) -> None:
    from phantom_cli.config import resolve

    from phantom_cli.cli.common import State, _classify
    from phantom_cli.client.errors import AuthenticationError

    exc = AuthenticationError("invalid or revoked API key", status=401, code="UNAUTHORIZED")
    state = State()
    state._effective = resolve()
    message, hint, code = _classify(exc, state) or ("", "", 0)
    assert code == 4 and "phantom serve stop" in (hint or "") and "auth login" not in (hint or "")
    monkeypatch.setenv("PHANTOM_API_KEY", "ph_other")
    state._effective = resolve()
    assert "auth login" in (_classify(exc, state) or ("", "", 0))[1]


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
    """QA 1 (second round): at 80 columns NAME became ``[bo…`` and UPDATED ``25 minute…``
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


def test_auth_login_to_an_unreachable_profile_url_names_the_profile() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    assert _run("profile", "add", "gone", "--url", url).exit_code == 0
    _run("-p", "gone", "config", "set", "max_retries", "0")
    r = Cli(None, None)("-p", "gone", "auth", "login", input="sk-test\n", auth=False)
    assert r.exit_code == 3
    assert r.stderr.count(url) == 1 and "profile 'gone'" in r.stderr


def test_instances_chat_help_says_what_skin_and_medium_do() -> None:
    """QA 14: "--skin ID  Skin for image replies." (seed 002: it only scopes play-mode XP)."""
    out = " ".join(_run("instances", "chat", "--help").stdout.split())
    assert "image replies" not in out
    assert "XP" in out and "How YOUR message was sent" in out
