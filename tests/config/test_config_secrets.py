from __future__ import annotations

import json
import stat
from typing import Any

import pytest
from phantom_cli.config import (
    credentials_file,
    load_settings,
    resolve,
    secrets,
)


def test_keyring_roundtrip(memory_keyring: Any) -> None:
    where = secrets.set_key("prod", "sk-abc")
    assert "keyring" in where and "sk-abc" not in where
    assert memory_keyring.store == {("phantom", "prod"): "sk-abc"}
    assert secrets.get_key("prod") == "sk-abc"
    assert secrets.get_key("other") is None
    assert not credentials_file().exists()
    assert secrets.delete_key("prod") is True
    assert secrets.get_key("prod") is None
    assert secrets.delete_key("prod") is False


def test_resolve_reads_key_from_keyring_for_hosted_profile(memory_keyring: Any) -> None:
    s = load_settings()
    s.add_profile("prod", backend="hosted")
    s.save()
    secrets.set_key("prod", "sk-stored")
    eff = resolve(profile="prod")
    assert eff.api_key == "sk-stored"
    assert eff.sources["api_key"] == "keyring"
    # the key never lands in the TOML
    assert "sk-stored" not in s.path.read_text("utf-8")
    # flag beats the keyring
    assert resolve(profile="prod", api_key="sk-flag").api_key == "sk-flag"


def test_fallback_file_0600_and_one_time_warning(
    no_keyring: None, capsys: pytest.CaptureFixture[str]
) -> None:
    where = secrets.set_key("prod", "sk-file")
    path = credentials_file()
    assert str(path) in where
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["profiles"]["prod"] == "sk-file"
    err = capsys.readouterr().err
    assert "warning: no working OS keyring" in err and "sk-file" not in err
    assert secrets.get_key("prod") == "sk-file"
    secrets.set_key("dev", "sk-two")
    assert capsys.readouterr().err == ""  # shown once only
    assert secrets.delete_key("prod") is True
    assert secrets.get_key("prod") is None
    assert secrets.get_key("dev") == "sk-two"


def test_fallback_when_keyring_errors(
    broken_keyring: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets.set_key("prod", "sk-x")
    assert "keyring error" in capsys.readouterr().err
    assert secrets.get_key("prod") == "sk-x"
    assert stat.S_IMODE(credentials_file().stat().st_mode) == 0o600


def test_keyring_store_clears_stale_fallback_copy(memory_keyring: Any) -> None:
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())
    secrets.set_key("prod", "old")
    keyring.set_keyring(memory_keyring)
    secrets.set_key("prod", "new")
    assert secrets.get_key("prod") == "new"
    assert "old" not in credentials_file().read_text()


def test_empty_key_refused(memory_keyring: Any) -> None:
    with pytest.raises(secrets.ConfigError, match="empty"):
        secrets.set_key("prod", "  ")


def test_key_source_names_the_fallback_file_when_it_holds_the_key(no_keyring: None) -> None:
    """`auth status` said key_source keyring while the key was in credentials.json."""
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
