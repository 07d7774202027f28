from __future__ import annotations

import stat
from pathlib import Path

import pytest
from phantom_cli.config import (
    ConfigError,
    paths,
)


def test_phantom_home_puts_everything_under_it(phantom_home: Path) -> None:
    dirs = {
        "config": paths.config_dir(),
        "data": paths.data_dir(),
        "state": paths.state_dir(),
        "runtime": paths.runtime_dir(),
        "cache": paths.cache_dir(),
    }
    for kind, path in dirs.items():
        assert path == phantom_home.resolve() / kind
        assert path.is_dir()
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert paths.config_file() == phantom_home.resolve() / "config" / "config.toml"
    assert paths.local_api_key_file() == phantom_home.resolve() / "data" / "backend" / "api_key"


def test_dirs_not_created_when_asked_not_to(phantom_home: Path) -> None:
    path = paths.state_dir(create=False)
    assert not path.exists()
    assert paths.all_dirs()["state"] == path
    assert not path.exists()  # all_dirs() does not create them either


def test_platformdirs_without_phantom_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PHANTOM_HOME")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdgc"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdgd"))
    assert paths.config_dir(create=False) == tmp_path / "xdgc" / "phantom"
    assert paths.data_dir(create=False) == tmp_path / "xdgd" / "phantom"


def test_a_phantom_home_that_is_a_file_is_a_config_error(tmp_path, monkeypatch) -> None:
    """It was 'unexpected error: NotADirectoryError' (exit 1) from every command."""
    from phantom_cli.config import config_dir
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
