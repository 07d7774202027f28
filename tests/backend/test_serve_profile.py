"""`phantom --profile X serve` serves X's settings; a settings problem is an error, not ignored.

The foreground server runs in a subprocess on a free loopback port and is stopped with SIGINT.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from phantom_cli.backend import runtime

PROFILES = """\
default_profile = "local"

[profiles.local]
backend = "local"

[profiles.tuned]
backend = "local"
engine = "openai"
engine_base_url = "http://127.0.0.1:9/v1"
engine_model = "profile-model-7"
vector_store = false
seed = 7
memory_cadence = 2
"""


def _write_config(home: Path, text: str) -> Path:
    path = home / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _read_line(proc: subprocess.Popen[str], timeout: float = 30.0) -> str:
    """The first stdout line, or '' when the process exits or the deadline passes."""
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sel.select(timeout=0.2):
                return proc.stdout.readline()
            if proc.poll() is not None:
                return proc.stdout.readline()
        return ""
    finally:
        sel.close()


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _serve(*global_args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "phantom_cli", *global_args, "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )


def _info(url: str, home: Path) -> dict[str, object]:
    key = (home / "data" / "backend" / "api_key").read_text(encoding="utf-8").strip()
    r = httpx.get(url + "/api/v1/local/info", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("how", ["flag", "env"])
def test_serve_uses_the_selected_profile(_phantom_home: Path, how: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _write_config(_phantom_home, PROFILES)
    if how == "env":
        monkeypatch.setenv("PHANTOM_PROFILE", "tuned")
        proc = _serve()
    else:
        proc = _serve("--profile", "tuned")
    try:
        line = _read_line(proc)
        assert "listening on http://127.0.0.1:" in line, (line, proc.stderr.read() if proc.poll() is not None
                                                           and proc.stderr else "")
        assert "(engine: openai)" in line
        url = line.split("listening on ")[1].split()[0]
        info = _info(url, _phantom_home)
        assert info["engine"] == "openai"
        assert info["engine_model"] == "profile-model-7"
        assert info["vector_store"] is False
        assert runtime.status() is not None  # registered for other commands
    finally:
        _stop(proc)
    assert runtime.read_runtime() is None


def test_serve_flags_override_the_profile(_phantom_home: Path) -> None:
    _write_config(_phantom_home, PROFILES)
    proc = subprocess.Popen(
        [sys.executable, "-m", "phantom_cli", "-p", "tuned", "serve", "--port", "0",
         "--engine", "scripted", "--engine-model", "flag-model"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = _read_line(proc)
        assert "(engine: scripted)" in line, line
        info = _info(line.split("listening on ")[1].split()[0], _phantom_home)
        assert info["engine"] == "scripted"
        assert info["engine_model"] == "flag-model"
        assert info["vector_store"] is False  # still the profile's
    finally:
        _stop(proc)


def test_default_profile_serves_defaults(_phantom_home: Path) -> None:
    _write_config(_phantom_home, PROFILES)
    proc = _serve()
    try:
        line = _read_line(proc)
        assert "(engine: scripted)" in line, line
        info = _info(line.split("listening on ")[1].split()[0], _phantom_home)
        assert info["engine"] == "scripted" and info["vector_store"] is True
    finally:
        _stop(proc)


@pytest.mark.parametrize("case", ["unknown-profile", "corrupt-file"])
def test_settings_problem_is_exit_2_not_ignored(_phantom_home: Path, case: str) -> None:
    if case == "unknown-profile":
        config = _write_config(_phantom_home, PROFILES)
        args = ["--profile", "nope"]
        expected = "'nope'"
    else:
        config = _write_config(_phantom_home, "[profiles.local\nbackend = 'local'\n")
        args = []
        expected = str(config)
    before = config.read_bytes()
    proc = _serve(*args)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        _stop(proc)
        pytest.fail("phantom serve started a server despite the settings problem")
    assert proc.returncode == 2, (out, err)
    assert "listening" not in out
    assert err.startswith("error: "), err
    assert expected in err
    assert "hint: " in err
    assert config.read_bytes() == before  # the file is left untouched
    assert runtime.read_runtime() is None
