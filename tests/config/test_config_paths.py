from __future__ import annotations

import stat
from pathlib import Path

import pytest
from phantom_cli.config import paths


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
