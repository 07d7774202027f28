"""Each expected failure: one clear stderr line, a hint, a stable exit code, no traceback."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest
import respx
from phantom_cli.config import config_file

from .conftest import Cli

HOSTED = "https://api.test.invalid"


def _no_retries() -> None:
    config_file().write_text("[profiles.local]\nmax_retries = 0\ntimeout_connect = 2\n")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _assert_clean(result: Any, code: int, *needles: str) -> None:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: ")
    assert 1 <= len(lines) <= 2
    for needle in needles:
        assert needle in result.stderr


def test_not_found_exit_5(cli: Cli) -> None:
    _assert_clean(cli("activities", "get", "act_nope"), 5, "404", "hint:")
    _assert_clean(cli("instances", "get", "inst_nope"), 5)
    _assert_clean(cli("skins", "get", "skin_nope", "--json"), 5)
    assert cli("skins", "get", "skin_nope", "--json").stdout == ""


def test_bad_key_exit_4_with_login_hint(cli: Cli) -> None:
    r = cli("activities", "list", env={"PHANTOM_API_KEY": "ph_not_a_key"})
    _assert_clean(r, 4, "401", "phantom auth login")
    assert "ph_not_a_key" not in r.stderr


def test_missing_scope_exit_4(cli: Cli, live_server: Any) -> None:
    key = live_server.make_key(user="scoped", scopes=["skins"])
    r = cli("personas", "list", env={"PHANTOM_API_KEY": key})
    _assert_clean(r, 4, "403", "scope")
    assert key not in r.stderr


def test_invalid_input_exit_2_names_field_and_limit(cli: Cli) -> None:
    r = cli("instances", "messages", "create", "inst_x", "x" * 16001)
    _assert_clean(r, 2, "content")
    assert "16000" in r.stderr
    r = cli("activities", "list", "--limit", "500")
    assert r.exit_code == 2  # typer range check (usage error)


def test_network_down_exit_3(cli: Cli) -> None:
    _no_retries()
    r = cli("activities", "list", env={"PHANTOM_BASE_URL": f"http://127.0.0.1:{_closed_port()}"})
    _assert_clean(r, 3, "cannot reach", "hint:")


def test_unknown_profile_exit_2(cli: Cli) -> None:
    _assert_clean(cli("--profile", "ghost", "activities", "list"), 2, "ghost")


@pytest.mark.parametrize(
    ("status", "code", "needle"),
    [
        (402, 4, "insufficient credit"),
        (503, 1, "unavailable"),
        (500, 1, "500"),
        (409, 6, "409"),
        (400, 2, "refused the input"),
        (429, 1, "rate limited"),
    ],
)
def test_hosted_error_statuses(cli: Cli, status: int, code: int, needle: str) -> None:
    _no_retries()
    body = {"error": {"code": "X", "message": f"status {status}", "details": None}}
    with respx.mock(base_url=HOSTED, assert_all_called=False) as mock:
        mock.get("/api/v1/skins").respond(status, json=body, headers={"Retry-After": "0"})
        r = cli("skins", "list", env={"PHANTOM_BASE_URL": HOSTED, "PHANTOM_API_KEY": "sk-hosted"})
    _assert_clean(r, code, needle)
    # `phantom api` prints the error body and exits with the same code (common.exit_for_status)
    with respx.mock(base_url=HOSTED, assert_all_called=False) as mock:
        mock.get("/api/v1/skins").respond(status, json=body, headers={"Retry-After": "0"})
        raw = cli("api", "GET", "/api/v1/skins",
                  env={"PHANTOM_BASE_URL": HOSTED, "PHANTOM_API_KEY": "sk-hosted"})
    assert raw.exit_code == code, (raw.stdout, raw.stderr)
    assert f"status {status}" in raw.stdout + raw.stderr


def test_html_error_page_is_readable(cli: Cli) -> None:
    _no_retries()
    page = (
        "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
    )
    with respx.mock(base_url=HOSTED) as mock:
        mock.get("/api/v1/activities").respond(
            502, text=page, headers={"content-type": "text/html"}
        )
        r = cli(
            "activities", "list", env={"PHANTOM_BASE_URL": HOSTED, "PHANTOM_API_KEY": "sk-hosted"}
        )
    _assert_clean(r, 1, "502", "Bad Gateway")
    assert "<h1>" not in r.stderr


def test_stream_cut_exit_3_keeps_partial(cli: Cli) -> None:
    _no_retries()

    def cut_stream(request: httpx.Request) -> httpx.Response:
        def body():  # type: ignore[no-untyped-def]
            yield b"Once upon "
            raise httpx.ReadError("connection reset")

        return httpx.Response(
            200, headers={"content-type": "text/plain"}, stream=httpx_iter(body())
        )

    with respx.mock(base_url=HOSTED) as mock:
        mock.post("/api/v1/activity-instances/inst_1/chat").mock(side_effect=cut_stream)
        r = cli(
            "instances",
            "chat",
            "inst_1",
            "hi",
            env={"PHANTOM_BASE_URL": HOSTED, "PHANTOM_API_KEY": "sk-hosted"},
        )
    assert r.stdout.startswith("Once upon ")
    _assert_clean(r, 3, "interrupted")


class httpx_iter(httpx.SyncByteStream, httpx.AsyncByteStream):  # noqa: N801 - small adapter
    """A byte stream for the sync and the async client (`instances chat` runs the async core)."""

    def __init__(self, gen: Any) -> None:
        self.gen = gen

    def __iter__(self) -> Any:
        yield from self.gen

    async def __aiter__(self) -> Any:
        for chunk in self.gen:
            yield chunk


def test_debug_traces_without_the_key(cli: Cli, live_server: Any) -> None:
    r = cli("--debug", "activities", "list", "--limit", "1")
    assert r.exit_code == 0
    assert "debug: GET " in r.stderr and "/api/v1/activities" in r.stderr
    assert live_server.api_key not in r.stderr + r.stdout
    failed = cli("--debug", "activities", "get", "act_nope")
    assert failed.exit_code == 5
    assert "Traceback" in failed.stderr  # --debug shows the traceback
    assert live_server.api_key not in failed.stderr + failed.stdout


def test_usage_errors_exit_2(cli: Cli) -> None:
    assert cli("activities", "list", "--bogus").exit_code == 2
    assert cli("instances", "get").exit_code == 2
    assert cli("api").exit_code == 2


def _every_command() -> list[tuple[list[str], Any]]:
    """Every command of the app, groups included, walked recursively from the root."""
    from phantom_cli.cli.main import COMMANDS, load_command

    found: list[tuple[list[str], Any]] = []

    def walk(cmd: Any, path: list[str]) -> None:
        found.append((path, cmd))
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, [*path, name])

    for name in COMMANDS:
        walk(load_command(name), [name])
    return found


def test_every_command_has_help_with_an_example() -> None:
    """QA 8: serve status/stop/logs, keys …, media generate, instances messages had none."""
    from typer.testing import CliRunner

    from phantom_cli.cli.main import COMMANDS, app

    commands = _every_command()
    paths = [path for path, _ in commands]
    assert len(paths) > 80
    for group in ("serve", "keys", "admin", "npc", "companion", "scratchpad"):
        assert [group] in paths
    assert ["serve", "status"] in paths and ["media", "generate"] in paths
    assert {p[0] for p in paths} == set(COMMANDS)
    runner = CliRunner()
    for path in paths:
        r = runner.invoke(app, [*path, "--help"])
        assert r.exit_code == 0, path
        assert "Example" in r.stdout, path
        assert f"phantom {path[0]}" in r.stdout.split("Example", 1)[1], path


def test_every_option_and_argument_has_help() -> None:
    """QA 8: `media generate image --activity ID` had no help text."""
    missing = [
        (path, param.name)
        for path, cmd in _every_command()
        for param in getattr(cmd, "params", [])
        if not getattr(param, "help", None) and not getattr(param, "hidden", False)
    ]
    assert missing == []


@pytest.mark.parametrize("extra", [[], ["--all"], ["--json"]])
def test_admin_list_on_a_server_without_the_admin_api(cli: Cli, extra: list[str]) -> None:
    """A server answering 404 "no such route" (not the local backend): one line, exit 5 —
    for one page and for ``--all`` alike."""
    _no_retries()
    body = {"error": {"code": "NOT_FOUND", "message": "no such route: GET /x", "details": None}}
    with respx.mock(base_url=HOSTED) as mock:
        mock.get("/api/v1/local/admin/activities").respond(404, json=body)
        r = cli(
            "admin", "activities", *extra,
            env={"PHANTOM_BASE_URL": HOSTED, "PHANTOM_API_KEY": "sk-hosted"},
        )  # fmt: skip
    _assert_clean(r, 5, "not available on this backend")
    assert r.stdout == ""


def test_admin_list_refused_on_a_hosted_profile(cli: Cli) -> None:
    config_file().write_text('[profiles.h]\nbackend = "hosted"\n')
    r = cli("-p", "h", "admin", "activities", "--all", env={"PHANTOM_API_KEY": "sk-hosted"})
    _assert_clean(r, 2, "local only")


def test_serve_logs_that_cannot_be_read_is_one_line(cli: Cli, phantom_home: Any) -> None:
    from phantom_cli.backend import runtime

    runtime.log_file().mkdir(parents=True)  # a directory where the log file should be
    r = cli("serve", "logs", auth=False)
    assert r.exit_code == 1, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert r.stderr.strip() == f"error: cannot read the log at {runtime.log_file()}: Is a directory"


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


def test_validation_error_names_the_flag_not_the_wire_field(cli: Cli) -> None:
    r = cli("personas", "create", "X", "--style", "cartoon")
    assert r.exit_code == 2
    assert "--style: must be one of" in r.stderr and "style_preference" not in r.stderr
    r = cli("media", "generate", "image", "--skin", "s", "--category", "portrait", "--nsfw", "bad")
    assert r.exit_code == 2 and "--nsfw: must be one of" in r.stderr


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


def test_auth_login_to_an_unreachable_profile_url_names_the_profile() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    assert _run("profile", "add", "gone", "--url", url).exit_code == 0
    _run("-p", "gone", "config", "set", "max_retries", "0")
    r = Cli(None, None)("-p", "gone", "auth", "login", input="sk-test\n", auth=False)
    assert r.exit_code == 3
    assert r.stderr.count(url) == 1 and "profile 'gone'" in r.stderr
