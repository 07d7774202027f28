"""Regression tests for defects QA found in config (/tmp/qa_findings.md)."""

from __future__ import annotations

import pytest
from phantom_cli.config import (
    ConfigError,
    config_file,
    credentials_file,
    load_settings,
    parse_value,
    resolve,
    secrets,
)


@pytest.mark.parametrize("key", ["timeout_read", "timeout_connect"])
@pytest.mark.parametrize("text", ["0", "-1", "0.0"])
def test_zero_timeout_is_refused_naming_key_and_limit(key: str, text: str) -> None:
    """QA 12: `config set timeout_read 0` was accepted and broke every command."""
    with pytest.raises(ConfigError) as info:
        parse_value(key, text)
    assert str(info.value) == f"key {key!r} must be > 0 (seconds); got {float(text)!r}"


def test_zero_timeout_in_the_file_is_refused_with_file_and_profile() -> None:
    config_file().parent.mkdir(parents=True, exist_ok=True)
    config_file().write_text("[profiles.local]\ntimeout_read = 0\n")
    with pytest.raises(ConfigError, match=r"profile 'local'.*'timeout_read' must be > 0"):
        load_settings()


def test_command_line_value_errors_have_no_stray_prefix() -> None:
    """QA 12: "error: value: key 'player_gender' must be one of …"."""
    with pytest.raises(ConfigError) as info:
        parse_value("player_gender", "x")
    assert str(info.value).startswith("key 'player_gender' must be one of")


def test_new_server_keys_are_profile_settings() -> None:
    """moderation_policy and engine_embedding_model are profile keys (they reach the server)."""
    config_file().parent.mkdir(parents=True, exist_ok=True)
    config_file().write_text(
        '[profiles.local]\nmoderation_policy = "/p.toml"\nengine_embedding_model = "emb"\n'
    )
    eff = resolve()
    assert eff.get("moderation_policy") == "/p.toml"
    assert eff.get("engine_embedding_model") == "emb"
    assert eff.sources["moderation_policy"] == "profile"


def test_key_source_names_the_fallback_file_when_it_holds_the_key(no_keyring: None) -> None:
    """QA 19: `auth status` said key_source keyring while the key was in credentials.json."""
    settings = load_settings()
    settings.add_profile("h", backend="hosted", base_url="http://127.0.0.1:9")
    settings.save()
    secrets.set_key("h", "sk-file-key")
    eff = resolve(profile="h")
    assert eff.api_key == "sk-file-key"
    assert eff.sources["api_key"] == str(credentials_file())
    assert secrets.get_key_and_source("h") == ("sk-file-key", str(credentials_file()))


def test_key_source_is_keyring_when_the_keyring_holds_it(memory_keyring: object) -> None:
    settings = load_settings()
    settings.add_profile("k", backend="hosted", base_url="http://127.0.0.1:9")
    settings.save()
    secrets.set_key("k", "sk-ring")
    eff = resolve(profile="k")
    assert eff.api_key == "sk-ring" and eff.sources["api_key"] == "keyring"


def test_a_phantom_home_that_is_a_file_is_a_config_error(tmp_path, monkeypatch) -> None:
    """It was 'unexpected error: NotADirectoryError' (exit 1) from every command."""
    from phantom_cli.config import ConfigError, config_dir
    from typer.testing import CliRunner

    from phantom_cli.cli.main import app

    afile = tmp_path / "home-file"
    afile.write_text("")
    monkeypatch.setenv("PHANTOM_HOME", str(afile))
    with pytest.raises(ConfigError, match=r"cannot create the directory .*\(PHANTOM_HOME=.*\): Not a directory"):
        config_dir()
    r = CliRunner().invoke(app, ["config", "list"])
    assert r.exit_code == 2
    assert r.stderr.startswith("error: cannot create the directory ") and "Traceback" not in r.stderr
