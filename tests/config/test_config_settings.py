from __future__ import annotations

import stat
from pathlib import Path

import pytest
from phantom_cli.config import (
    HOSTED_BASE_URL,
    ConfigError,
    config_file,
    load_settings,
    parse_value,
    resolve,
)


def write_config(text: str) -> Path:
    path = config_file()
    path.write_text(text, "utf-8")
    return path


def test_builtin_local_profile_without_file() -> None:
    eff = resolve()
    assert eff.profile_name == "local"
    assert eff.backend == "local"
    assert eff.base_url is None
    assert eff.sources["profile"] == "default"
    assert eff.get("timeout_read") == 60.0
    assert eff.sources["timeout_read"] == "default"
    assert eff.api_key is None
    assert not config_file().exists()  # reading never creates the file


def test_hosted_profile_gets_default_base_url() -> None:
    write_config('default_profile = "prod"\n[profiles.prod]\nbackend = "hosted"\n')
    eff = resolve()
    assert eff.profile_name == "prod"
    assert eff.sources["profile"] == "profile"
    assert eff.base_url == HOSTED_BASE_URL
    assert eff.sources["base_url"] == "default"


def test_precedence_flag_over_env_over_profile_over_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_config(
        'default_profile = "a"\n'
        '[profiles.a]\nbackend = "hosted"\nbase_url = "https://a.example"\ntimeout_read = 10\n'
        '[profiles.b]\nbackend = "hosted"\nbase_url = "https://b.example"\n'
    )
    eff = resolve()
    assert (eff.profile_name, eff.base_url) == ("a", "https://a.example")
    assert eff.sources["base_url"] == "profile"
    assert eff.get("timeout_read") == 10.0 and eff.sources["timeout_read"] == "profile"
    assert eff.get("max_retries") == 2 and eff.sources["max_retries"] == "default"

    monkeypatch.setenv("PHANTOM_PROFILE", "b")
    monkeypatch.setenv("PHANTOM_BASE_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("PHANTOM_API_KEY", "env-key")
    eff = resolve()
    assert eff.profile_name == "b" and eff.sources["profile"] == "env"
    assert eff.base_url == "http://127.0.0.1:9" and eff.sources["base_url"] == "env"
    assert eff.api_key == "env-key" and eff.sources["api_key"] == "env"

    eff = resolve(
        profile="a",
        base_url="http://127.0.0.1:8",
        api_key="flag-key",
        overrides={"timeout_read": 3, "max_retries": None},
    )
    assert eff.profile_name == "a" and eff.sources["profile"] == "flag"
    assert eff.base_url == "http://127.0.0.1:8" and eff.sources["base_url"] == "flag"
    assert eff.api_key == "flag-key" and eff.sources["api_key"] == "flag"
    assert eff.get("timeout_read") == 3.0 and eff.sources["timeout_read"] == "flag"
    assert eff.sources["max_retries"] == "default"  # None = not given


def test_repr_never_shows_key() -> None:
    eff = resolve(api_key="sk-secret-value")
    assert "sk-secret-value" not in repr(eff)
    assert "sk-secret-value" not in str(eff)


def test_unknown_profile_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"profile 'nope' \(from --profile\) not found"):
        resolve(profile="nope")
    monkeypatch.setenv("PHANTOM_PROFILE", "gone")
    with pytest.raises(ConfigError, match=r"PHANTOM_PROFILE"):
        resolve()


def test_corrupt_toml_names_file_and_line_and_is_untouched() -> None:
    text = 'default_profile = "local"\n[profiles.local]\nbackend = "local\nplayer_name = "x"\n'
    path = write_config(text)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert str(path) in message
    assert "line 3" in message
    with pytest.raises(ConfigError):
        resolve()
    assert path.read_text("utf-8") == text


def test_unknown_key_names_key_and_profile() -> None:
    write_config('[profiles.work]\nbackend = "hosted"\ntimeout = 5\n')
    with pytest.raises(ConfigError, match=r"profile 'work': unknown key 'timeout'"):
        load_settings()


@pytest.mark.parametrize(
    ("line", "pattern"),
    [
        ('backend = "cloud"', r"'backend' must be one of hosted, local"),
        ('timeout_read = "slow"', r"'timeout_read' must be a number"),
        ("max_retries = 1.5", r"'max_retries' must be an integer"),
        ('vector_store = "yes"', r"'vector_store' must be true or false"),
        ("max_retries = -1", r"'max_retries' must be ≥ 0"),
        ('base_url = "ftp://x"', r"'base_url' must be an http\(s\) URL"),
    ],
)
def test_invalid_values_name_key_and_profile(line: str, pattern: str) -> None:
    write_config(f"[profiles.p1]\n{line}\n")
    with pytest.raises(ConfigError, match=pattern) as info:
        load_settings()
    assert "profile 'p1'" in str(info.value)


def test_unknown_top_level_key() -> None:
    write_config('default = "x"\n')
    with pytest.raises(ConfigError, match=r"unknown top-level key 'default'"):
        load_settings()


def test_default_profile_must_exist() -> None:
    write_config('default_profile = "ghost"\n')
    with pytest.raises(ConfigError, match=r"default_profile 'ghost' is not a profile"):
        load_settings()


def test_save_roundtrip_atomic_and_0600() -> None:
    s = load_settings()
    s.add_profile("prod", backend="hosted")
    s.set("prod", "player_name", "Ash")
    s.set("local", "seed", 7)
    s.use("prod")
    path = s.save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    again = load_settings()
    assert again.default_profile == "prod"
    assert again.profile("prod") == {"backend": "hosted", "player_name": "Ash"}
    assert again.profile("local")["seed"] == 7
    eff = resolve()
    assert eff.profile_name == "prod" and eff.get("player_name") == "Ash"
    again.remove_profile("prod")
    assert again.default_profile is None
    with pytest.raises(ConfigError, match="already exists"):
        again.add_profile("local")
    with pytest.raises(ConfigError, match="already exists"):
        load_settings().add_profile("local")  # built in, even when not in the file
    with pytest.raises(ConfigError, match="invalid"):
        again.add_profile("bad name")


def test_parse_value_types() -> None:
    assert parse_value("vector_store", "no") is False
    assert parse_value("max_retries", "4") == 4
    assert parse_value("timeout_read", "2.5") == 2.5
    assert parse_value("player_gender", "female") == "female"
    with pytest.raises(ConfigError, match="'player_gender' must be one of"):
        parse_value("player_gender", "robot")
    with pytest.raises(ConfigError, match="must be an integer"):
        parse_value("seed", "x")
    with pytest.raises(ConfigError, match="unknown key 'colour'"):
        parse_value("colour", "x")


@pytest.mark.parametrize("key", ["timeout_read", "timeout_connect"])
@pytest.mark.parametrize("text", ["0", "-1", "0.0"])
def test_zero_timeout_is_refused_naming_key_and_limit(key: str, text: str) -> None:
    """`config set timeout_read 0` was accepted and broke every command."""
    with pytest.raises(ConfigError) as info:
        parse_value(key, text)
    assert str(info.value) == f"key {key!r} must be > 0 (seconds); got {float(text)!r}"


def test_zero_timeout_in_the_file_is_refused_with_file_and_profile() -> None:
    config_file().parent.mkdir(parents=True, exist_ok=True)
    config_file().write_text("[profiles.local]\ntimeout_read = 0\n")
    with pytest.raises(ConfigError, match=r"profile 'local'.*'timeout_read' must be > 0"):
        load_settings()


def test_command_line_value_errors_have_no_stray_prefix() -> None:
    """It said "error: value: key 'player_gender' must be one of …"."""
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
