"""auth, config and profile commands; keys in the (in-memory) keyring, never in output."""

from __future__ import annotations

import json
import tomllib
from typing import Any

import pytest
from phantom_cli.config import config_file, load_settings

from .conftest import Cli, MemoryKeyring


def test_login_from_stdin_stores_key_and_switches_profile(
    cli: Cli, live_server: Any, memory_keyring: MemoryKeyring
) -> None:
    key = live_server.api_key
    r = cli(
        "--profile",
        "work",
        "--base-url",
        live_server.base_url,
        "auth",
        "login",
        input=key + "\n",
        auth=False,
    )
    assert r.exit_code == 0, r.stderr
    assert memory_keyring.store == {("phantom", "work"): key}
    assert key not in r.stdout + r.stderr
    assert "profile 'work'" in r.stderr
    text = config_file().read_text()
    assert key not in text
    data = tomllib.loads(text)
    assert data["default_profile"] == "work"
    assert data["profiles"]["work"] == {"backend": "hosted", "base_url": live_server.base_url}

    # later commands use the stored key and the profile's URL, no flags or env needed
    listed = cli("skins", "list", "--limit", "1", "--json", auth=False)
    assert listed.exit_code == 0, listed.stderr
    status = cli("auth", "status", "--json", auth=False)
    assert status.exit_code == 0, status.stderr
    info = json.loads(status.stdout)
    assert (
        info["profile"] == "work" and info["verified"] is True and info["key_source"] == "keyring"
    )
    assert key not in status.stdout
    conf = cli("config", "list", auth=False)
    assert key not in conf.stdout and "(set)" in conf.stdout

    token = cli("auth", "token", auth=False)
    assert token.stdout == key + "\n"

    out = cli("auth", "logout", auth=False)
    assert out.exit_code == 0
    assert memory_keyring.store == {}
    assert "default profile is 'local'" in out.stderr
    assert "default_profile" not in tomllib.loads(config_file().read_text())
    gone = cli("--profile", "work", "auth", "token", auth=False)
    assert gone.exit_code == 4 and "phantom auth login" in gone.stderr


def test_login_with_a_refused_key_stores_nothing(
    cli: Cli, live_server: Any, memory_keyring: MemoryKeyring
) -> None:
    r = cli("--base-url", live_server.base_url, "auth", "login", input="ph_wrong_key\n", auth=False)
    assert r.exit_code == 4
    assert "refused" in r.stderr and "ph_wrong_key" not in r.stderr
    assert memory_keyring.store == {}
    assert not config_file().exists()


def test_login_refuses_local_profile_and_empty_key(cli: Cli) -> None:
    r = cli("--profile", "local", "auth", "login", input="k\n", auth=False)
    assert r.exit_code == 2 and "local backend" in r.stderr
    empty = cli("--base-url", "http://127.0.0.1:9", "auth", "login", input="\n", auth=False)
    assert empty.exit_code == 2 and "no API key" in empty.stderr


def test_login_fallback_file_when_no_keyring(cli: Cli, live_server: Any) -> None:
    import stat

    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())
    r = cli(
        "--base-url",
        live_server.base_url,
        "auth",
        "login",
        input=live_server.api_key + "\n",
        auth=False,
    )
    assert r.exit_code == 0, r.stderr
    assert "warning: no working OS keyring" in r.stderr
    creds = config_file().parent / "credentials.json"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert live_server.api_key not in r.stderr
    again = cli(
        "--base-url",
        live_server.base_url,
        "auth",
        "login",
        input=live_server.api_key + "\n",
        auth=False,
    )
    assert again.exit_code == 0, again.stderr
    assert "warning" not in again.stderr  # one time only


def test_config_list_sources_and_set_get(cli: Cli) -> None:
    r = cli("config", "set", "player_name", "Ash", auth=False)
    assert r.exit_code == 0, r.stderr
    assert cli("config", "get", "player_name", auth=False).stdout == "Ash\n"
    rows = json.loads(cli("config", "list", "--json", auth=False).stdout)
    by_key = {row["key"]: row for row in rows}
    assert by_key["player_name"] == {"key": "player_name", "value": "Ash", "source": "profile"}
    assert by_key["timeout_read"]["source"] == "default"
    assert by_key["profile"]["value"] == "local"
    assert by_key["api_key"]["value"] is None

    env = cli(
        "config",
        "list",
        "--json",
        env={"PHANTOM_BASE_URL": "http://127.0.0.1:1234", "PHANTOM_API_KEY": "sk-envkey"},
        auth=False,
    )
    rows = {row["key"]: row for row in json.loads(env.stdout)}
    assert rows["base_url"] == {
        "key": "base_url",
        "value": "http://127.0.0.1:1234",
        "source": "env",
    }
    assert rows["api_key"] == {"key": "api_key", "value": "(set)", "source": "env"}
    assert "sk-envkey" not in env.stdout
    flag = cli("--base-url", "http://127.0.0.1:99", "config", "get", "base_url", auth=False)
    assert flag.stdout == "http://127.0.0.1:99\n"

    plain = cli("config", "list", auth=False)
    assert "player_name\tAsh\tprofile" in plain.stdout

    assert cli("config", "set", "max_retries", "lots", auth=False).exit_code == 2
    assert cli("config", "set", "api_key", "x", auth=False).exit_code == 2
    assert cli("config", "get", "nope", auth=False).exit_code == 2
    assert cli("config", "unset", "player_name", auth=False).exit_code == 0
    assert cli("config", "get", "player_name", auth=False).stdout == "\n"
    path = json.loads(cli("config", "path", "--json", auth=False).stdout)
    assert path["config_file"] == str(config_file())


def test_corrupt_config_is_reported_not_overwritten(cli: Cli) -> None:
    path = config_file()
    path.write_text('[profiles.local]\nplayer_name = "unterminated\n')
    before = path.read_bytes()
    r = cli("config", "set", "player_name", "Ash", auth=False)
    assert r.exit_code == 2
    assert str(path) in r.stderr and "line 2" in r.stderr
    assert "Traceback" not in r.stderr
    assert path.read_bytes() == before


def test_profiles(cli: Cli, memory_keyring: MemoryKeyring) -> None:
    assert (
        cli("profile", "add", "staging", "--url", "https://staging.example", auth=False).exit_code
        == 0
    )
    assert cli("profile", "add", "staging", auth=False).exit_code == 2
    assert cli("profile", "add", "bad name", auth=False).exit_code == 2
    rows = json.loads(cli("profile", "list", "--json", auth=False).stdout)
    assert [r["name"] for r in rows] == ["local", "staging"]
    assert rows[0]["default"] is True
    assert rows[1]["base_url"] == "https://staging.example" and rows[1]["key"] is False
    assert cli("profile", "use", "staging", auth=False).exit_code == 0
    assert cli("config", "get", "profile", auth=False).stdout == "staging\n"
    assert cli("profile", "use", "ghost", auth=False).exit_code == 2
    memory_keyring.set_password("phantom", "staging", "sk-staging")
    table = cli("--no-color", "profile", "list", tty=True, auth=False)
    assert "staging" in table.stdout and "sk-staging" not in table.stdout
    removed = cli("profile", "remove", "staging", auth=False)
    assert removed.exit_code == 0 and "and its key" in removed.stderr
    assert memory_keyring.store == {}
    assert cli("config", "get", "profile", auth=False).stdout == "local\n"
    assert cli("profile", "remove", "local", auth=False).exit_code == 2
    assert cli("--profile", "ghost", "config", "list", auth=False).exit_code == 2


def test_login_with_a_limited_scope_key(
    cli: Cli, live_server: Any, memory_keyring: MemoryKeyring
) -> None:
    key = live_server.make_key(user="limited", scopes=["chat:companion"])
    r = cli("--base-url", live_server.base_url, "auth", "login", input=key + "\n", auth=False)
    assert r.exit_code == 0, r.stderr
    assert "valid" in r.stderr and key not in r.stderr
    assert memory_keyring.store == {("phantom", "hosted"): key}
    denied = cli("personas", "list", auth=False)
    assert denied.exit_code == 4 and "scope" in denied.stderr


def test_login_hidden_prompt_at_a_terminal(monkeypatch: Any) -> None:
    """At a TTY the key is read with getpass (hidden), prompting on stderr."""
    import io
    import sys

    from phantom_cli.cli import auth

    class TtyIn(io.StringIO):
        def isatty(self) -> bool:
            return True

    prompts: list[str] = []

    def fake_getpass(prompt: str, stream: Any = None) -> str:
        prompts.append(prompt)
        assert stream is sys.stderr
        return "  sk-typed-key \n"

    monkeypatch.setattr(sys, "stdin", TtyIn(""))
    monkeypatch.setattr("getpass.getpass", fake_getpass)
    assert auth._read_key(prompt=True) == "sk-typed-key"
    assert prompts and "hidden" in prompts[0]


def test_login_and_admin_delete_with_standard_input_closed(monkeypatch) -> None:
    """`0<&-` (sys.stdin is None) was an "unexpected error: AttributeError"."""
    import sys

    import pytest

    from phantom_cli.cli.auth import _read_key
    from phantom_cli.cli.common import CLIError, stdin_is_tty

    monkeypatch.setattr(sys, "stdin", None)
    assert stdin_is_tty() is False
    with pytest.raises(CLIError, match="no API key given"):
        _read_key(prompt=True)


def test_profile_add_accepts_base_url_like_the_global_flag() -> None:
    r = _run("profile", "add", "staging", "--base-url", "https://staging.example")
    assert r.exit_code == 0, r.stderr
    assert load_settings().profiles["staging"]["base_url"] == "https://staging.example"


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


def _run(*args: str, env: dict[str, str] | None = None) -> Any:
    """`phantom ARGS` with no server: no base URL or key from the fixtures."""
    return Cli(None, None)(*args, env=env, auth=False)
