"""Fixtures of the CLI tests (phantom_cli/cli/).

Autouse: an isolated PHANTOM_HOME and an in-memory keyring (both from tests/conftest.py), no
PHANTOM_FORCE_TTY / NO_COLOR / VISUAL / EDITOR from the shell, a wide terminal.

Two ways to run ``phantom ARGS`` in-process with Typer's CliRunner against the shared
``live_server`` (a real backend on a free loopback port, tests/conftest.py):
- ``cli`` (a ``Cli``): base URL and key passed as the command's environment, with ``tty=``,
  ``env=`` and ``auth=`` per call; returns click's ``Result``.
- ``phantom``: base URL and key set with monkeypatch for the whole test (so a test can change
  them, and child processes such as a scripted $EDITOR see them); returns a ``PhantomResult``
  with ``.json()``.
``editor`` installs a scripted $EDITOR (a small Python program in the test's tmp dir) that
follows a plan of steps, one per invocation. ``unique`` and ``uid`` give fresh ids (the live
server is shared by the session).
``plain_cli`` runs ``phantom ARGS`` with nothing set (click's ``Result``, exceptions kept in it);
``live_cli`` is the same against the live backend (the NPC machine tools' tests).
"""

from __future__ import annotations

import json
import shlex
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from ..conftest import MemoryKeyring

EDITOR_SCRIPT = r'''
"""A scripted editor: EDITOR="python editor.py PLAN" ; each run pops one step of PLAN."""
import json, os, sys, urllib.parse, urllib.request

plan_path, target = sys.argv[1], sys.argv[2]
with open(plan_path, encoding="utf-8") as fh:
    plan = json.load(fh)
step = plan["steps"].pop(0) if plan["steps"] else {"keep": True}
with open(plan_path, "w", encoding="utf-8") as fh:
    json.dump(plan, fh)
with open(target, encoding="utf-8") as fh:
    seen = fh.read()
log = plan.get("log")
if log:
    rec_dir = plan.get("recovery_dir")
    listing = sorted(os.listdir(rec_dir)) if rec_dir and os.path.isdir(rec_dir) else []
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"seen": seen, "recovery": listing}) + "\n")

def api(method, query, body=None):
    url = os.environ["PHANTOM_BASE_URL"] + "/api/v1/companion/scratchpad?" + urllib.parse.urlencode(query)
    req = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode())
    req.add_header("Authorization", "Bearer " + os.environ["PHANTOM_API_KEY"])
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)

if "barrier" in step:  # wait until every peer's editor is open (all have fetched)
    import time
    b = step["barrier"]
    os.makedirs(b["dir"], exist_ok=True)
    open(os.path.join(b["dir"], b["name"]), "w").close()
    deadline = time.monotonic() + 30
    while len(os.listdir(b["dir"])) < b["peers"]:
        if time.monotonic() > deadline:
            sys.exit(97)
        time.sleep(0.01)
if "merge" in step:  # the user merges by hand: the server's current text plus their line
    m = step["merge"]
    current = api("GET", m["query"])["content"]
    step["write"] = current + ("" if current.endswith("\n") or not current else "\n") + m["add"]
if "interfere" in step:  # someone else saves while the user is in the editor
    q = step["interfere"]["query"]
    cur = api("GET", q)
    api("PUT", q, {"content": step["interfere"]["content"], "version": cur["version"]})
if "exit" in step:
    sys.exit(step["exit"])
if "write" in step:
    with open(target, "w", encoding="utf-8") as fh:
        fh.write(step["write"])
elif "append" in step:
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(step["append"])
'''


@pytest.fixture(autouse=True)
def phantom_home(phantom_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shared isolated home (tests/conftest.py), autouse; no forced TTY, NO_COLOR or editor
    from the shell, and a wide terminal."""
    for var in ("PHANTOM_FORCE_TTY", "NO_COLOR", "VISUAL", "EDITOR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return phantom_home


@pytest.fixture(autouse=True)
def memory_keyring(memory_keyring: MemoryKeyring) -> Iterator[MemoryKeyring]:
    """The shared in-memory keyring (tests/conftest.py), autouse here."""
    yield memory_keyring


@dataclass
class Cli:
    """Runs ``phantom`` in-process with Typer's CliRunner against a base URL and key."""

    base_url: str | None
    api_key: str | None
    server: Any = None

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        tty: bool = False,
        env: dict[str, str] | None = None,
        auth: bool = True,
    ) -> Result:
        from phantom_cli.cli.main import app

        full_env: dict[str, str | None] = {"PHANTOM_FORCE_TTY": "1" if tty else "0"}
        if auth and self.base_url:
            full_env["PHANTOM_BASE_URL"] = self.base_url
        if auth and self.api_key:
            full_env["PHANTOM_API_KEY"] = self.api_key
        full_env.update(env or {})
        return CliRunner().invoke(
            app, list(args), input=input, env=full_env, catch_exceptions=False
        )


@pytest.fixture
def cli(live_server: Any) -> Cli:
    return Cli(live_server.base_url, live_server.api_key, live_server)


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


@dataclass
class PhantomResult:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def phantom(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., PhantomResult]:
    """Invoke ``phantom ARGS`` in-process against the live local backend."""
    from typer.testing import CliRunner

    from phantom_cli.cli.main import app

    monkeypatch.setenv("PHANTOM_BASE_URL", live_server.base_url)
    monkeypatch.setenv("PHANTOM_API_KEY", live_server.api_key)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> PhantomResult:
        res = runner.invoke(app, list(args), input=input)
        exc = res.exception
        if exc is not None and not isinstance(exc, SystemExit):
            raise exc  # an unexpected crash: show its traceback
        return PhantomResult(res.exit_code, res.stdout, res.stderr, exc)

    return invoke


@pytest.fixture
def uid() -> str:
    """A fresh id per test (the live server is shared by the session)."""
    return "t" + uuid.uuid4().hex[:12]


class Editor:
    """The scripted $EDITOR of a test."""

    def __init__(self, tmp: Path, home: Path) -> None:
        self.script = tmp / "editor.py"
        self.script.write_text(EDITOR_SCRIPT, encoding="utf-8")
        self.plan = tmp / "plan.json"
        self.log = tmp / "editor.log"
        self.recovery_dir = home / "state" / "recovery"

    def command(self) -> str:
        return " ".join(shlex.quote(str(a)) for a in (sys.executable, self.script, self.plan))

    def set(self, *steps: dict[str, Any]) -> None:
        self.plan.write_text(
            json.dumps(
                {"steps": list(steps), "log": str(self.log), "recovery_dir": str(self.recovery_dir)}
            ),
            encoding="utf-8",
        )
        self.log.unlink(missing_ok=True)

    def runs(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def editor(tmp_path: Path, phantom_home: Path, monkeypatch: pytest.MonkeyPatch) -> Editor:
    ed = Editor(tmp_path, phantom_home)
    ed.set()
    monkeypatch.setenv("EDITOR", ed.command())
    return ed


@pytest.fixture
def plain_cli() -> Callable[..., Result]:
    """``plain_cli(*args)`` → click Result of ``phantom ARGS`` (no server, no environment set;
    exceptions kept in the result)."""

    def run(*args: str, input: str | None = None) -> Result:
        from phantom_cli.cli.main import app

        return CliRunner().invoke(app, list(args), input=input)

    return run


@pytest.fixture
def live_cli(
    live_server: Any, monkeypatch: pytest.MonkeyPatch, plain_cli: Callable[..., Result]
) -> Callable[..., Result]:
    """Like ``plain_cli`` but against the shared live backend (base URL and key by monkeypatch)."""
    monkeypatch.setenv("PHANTOM_BASE_URL", live_server.base_url)
    monkeypatch.setenv("PHANTOM_API_KEY", live_server.api_key)
    return plain_cli
