"""A known key never appears in CLI output, --debug traces, logs, exceptions or config listings
(issue 7). Only `phantom auth token` prints it, and only the 0600 fallback file stores it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from phantom_cli.config import config_file

from .conftest import Cli, MemoryKeyring


def _files_containing(root: Path, needle: str, allowed: set[str]) -> list[Path]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and path.name not in allowed:
            if needle.encode() in path.read_bytes():
                hits.append(path)
    return hits


def test_key_never_shown(
    cli: Cli, live_server: Any, memory_keyring: MemoryKeyring, phantom_home: Path, unique: str
) -> None:
    key = live_server.make_key(user=f"sweep{unique}")
    base = live_server.base_url
    act = live_server.add_activity(title=f"sweep {unique}", category=f"sweep-{unique}")

    login = cli(
        "--profile", "sweep", "--base-url", base, "auth", "login", input=key + "\n", auth=False
    )
    assert login.exit_code == 0, login.stderr
    assert memory_keyring.store[("phantom", "sweep")] == key

    runs: list[tuple[str, ...]] = [
        ("activities", "list"),
        ("activities", "list", "--json"),
        ("activities", "list", "--all", "--json"),
        ("activities", "get", act),
        ("instances", "list"),
        ("personas", "list", "--json"),
        ("skins", "list", "--limit", "2"),
        ("media", "list"),
        ("api", "GET", "/api/v1/skins", "-f", "limit=1", "--include"),
        ("api", "GET", "/api/v1/activities/missing"),
        ("activities", "get", "missing"),
        ("instances", "create", "missing-activity"),
        ("config", "list"),
        ("config", "list", "--json"),
        ("config", "get", "base_url"),
        ("config", "path"),
        ("profile", "list", "--json"),
        ("auth", "status"),
        ("auth", "status", "--json"),
        ("personas", "create", "X", "--gender", "robot"),
    ]
    for args in runs:
        for prefix in ((), ("--debug",)):
            for tty in (False, True):
                r = cli(*prefix, *args, auth=False, tty=tty)
                text = r.stdout + r.stderr
                assert key not in text, (prefix, args, tty)
    # a wrong key in the environment is not echoed either
    wrong = "ph_local_WRONGWRONGWRONGWRONGWRONGWRONG"
    r = cli("--debug", "activities", "list", env={"PHANTOM_API_KEY": wrong}, auth=False)
    assert r.exit_code == 4 and wrong not in r.stdout + r.stderr

    # nothing phantom wrote to disk holds the key (the keyring is in memory here)
    assert key not in config_file().read_text()
    assert _files_containing(phantom_home, key, allowed=set()) == []

    # the explicit command prints it, and only it
    token = cli("auth", "token", auth=False)
    assert token.stdout == key + "\n"


def test_key_not_in_fallback_warnings_or_listings(
    cli: Cli, live_server: Any, phantom_home: Path
) -> None:
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())
    key = live_server.api_key
    login = cli("--base-url", live_server.base_url, "auth", "login", input=key + "\n", auth=False)
    assert login.exit_code == 0
    assert key not in login.stdout + login.stderr
    assert _files_containing(phantom_home, key, allowed={"credentials.json"}) == []
    listing = cli("config", "list", "--json", auth=False)
    rows = {row["key"]: row for row in json.loads(listing.stdout)}
    # the key lives in the 0600 fallback file, and the source says so (QA 19), not "keyring"
    assert rows["api_key"]["value"] == "(set)"
    assert rows["api_key"]["source"] == str(phantom_home / "config" / "credentials.json")
    assert key not in listing.stdout


def test_key_not_in_reprs_or_exceptions(live_server: Any) -> None:
    from phantom_cli.config import resolve

    from phantom_cli.cli.common import State, report_error
    from phantom_cli.client import errors as E

    key = "sk-known-secret-123456"
    eff = resolve(api_key=key, base_url=live_server.base_url)
    assert key not in repr(eff) and key not in str(eff.__dict__.get("values"))
    client = live_server.client(api_key=key)
    assert key not in repr(client)
    try:
        client.activities.list()
    except E.AuthenticationError as exc:
        assert key not in str(exc) and key not in repr(exc)
    else:  # pragma: no cover
        raise AssertionError("expected 401")
    state = State(debug=True)
    state._secrets.add(key)
    import io
    import sys

    buf, old = io.StringIO(), sys.stderr
    sys.stderr = buf
    try:
        report_error(RuntimeError(f"boom with {key} inside"), state)
    finally:
        sys.stderr = old
    assert key not in buf.getvalue() and "***" in buf.getvalue()


def test_key_not_in_the_auto_started_servers_log(phantom_home: Path) -> None:
    """The local profile starts a background server (connect()); its key stays in its 0600 file."""
    from typer.testing import CliRunner

    from phantom_cli.cli.main import app

    runner = CliRunner()
    env = {"PHANTOM_FORCE_TTY": "0"}
    try:
        r = runner.invoke(app, ["--debug", "activities", "list", "--limit", "2"], env=env)
        assert r.exit_code == 0, r.stderr
        key_file = phantom_home / "data" / "backend" / "api_key"
        key = key_file.read_text().strip()
        assert key and key not in r.stdout + r.stderr
        for args in (["auth", "status"], ["config", "list"], ["--debug", "skins", "list"]):
            out = runner.invoke(app, args, env=env)
            assert key not in out.stdout + out.stderr, args
        assert runner.invoke(app, ["auth", "token"], env=env).stdout == key + "\n"
    finally:
        runner.invoke(app, ["serve", "stop"], env=env)
    leaks = _files_containing(phantom_home, key, allowed={"api_key"})
    assert leaks == []
    assert (phantom_home / "state" / "server.log").exists()


def test_key_never_shown_by_conversation_and_key_commands(
    cli: Cli,
    live_server: Any,
    memory_keyring: MemoryKeyring,
    phantom_home: Path,
    unique: str,
    tmp_path: Path,
    caplog: Any,
) -> None:
    """npc, companion, scratchpad, instances chat and keys, with --debug, in both key setups:
    the key from PHANTOM_API_KEY (local profile) and from the keyring (a logged-in profile)."""
    import logging

    caplog.set_level(logging.DEBUG)
    from phantom_cli.backend.auth import SCOPES

    # admin named explicitly: `keys list` needs it (issue 13: a key without scopes has no admin)
    key = live_server.make_key(user=f"sweepc{unique}", scopes=list(SCOPES))
    base = live_server.base_url
    act = live_server.add_activity(title=f"sweepc {unique}", is_companion=True, first_message="Hi.")
    inst = live_server.client(api_key=key).instances.create(act).id
    persona = tmp_path / "luna.toml"
    persona.write_text('name = "Luna"\nbio = "Loves astronomy."\n', encoding="utf-8")
    chat = f"sweep-{unique}"
    said = (0, 6)  # 6: the NPC's machine completed on an earlier turn (still swept)

    def runs(session: str) -> list[tuple[tuple[str, ...], tuple[int, ...]]]:
        return [
            (("npc", "init", "abc123", "--session", session, "--player-name", "Alex"), (0,)),
            (("npc", "say", "abc123", "What do you have for sale?", "--session", session), said),
            (("npc", "say", "abc123", "I can pay in gold.", "--session", session, "--stream"), said),
            (("npc", "say", "abc123", "Too much.", "--session", session, "--json"), said),
            (("npc", "history", "abc123", "--session", session), (0,)),
            (("npc", "history", "abc123", "--session", session, "--json"), (0,)),
            (("npc", "say", "nobody-here", "hello", "--session", session), (5,)),
            (("companion", "say", "-P", str(persona), "--chat-id", chat, "Hello Luna, I live in Porto."), (0,)),
            (("companion", "say", "-P", str(persona), "--chat-id", chat, "--stream", "Do you like stars?"), (0,)),
            (("companion", "say", "-P", str(persona), "--chat-id", chat, "--json", "Good night."), (0,)),
            (("scratchpad", "get", "--companion", "luna"), (0,)),
            (("scratchpad", "get", "--conversation", chat, "--json"), (0,)),
            (("instances", "chat", inst, "hello there"), (0,)),
            (("instances", "chat", "inst_missing", "hello"), (5,)),
            (("keys", "list"), (0, 2)),  # 2: a hosted profile refuses the local-only command
            (("keys", "list", "--json"), (0, 2)),
        ]

    def sweep(run: Any, label: str) -> None:
        for args, codes in runs(f"sweep-{label}-{unique}"):
            for prefix in (("--debug",), ()):
                r = run(*prefix, *args)
                assert r.exit_code in codes, (label, args, r.exit_code, r.stderr)
                assert key not in r.stdout + r.stderr, (label, prefix, args)

    # 1. the key in the environment, local profile with an explicit base URL
    env_cli = Cli(base, key, live_server)
    sweep(lambda *a: env_cli(*a), "env")
    created = env_cli("--debug", "keys", "create", "--user", f"other{unique}")
    assert created.exit_code == 0, created.stderr
    new_key = created.stdout.strip()
    assert new_key.startswith("ph_local_") and new_key != key  # only the NEW key is printed
    assert key not in created.stdout + created.stderr
    created_json = env_cli("keys", "create", "--user", f"other{unique}", "--json")
    assert key not in created_json.stdout + created_json.stderr
    assert json.loads(created_json.stdout)["key"] != key

    # 2. the key in the keyring of a logged-in profile
    login = cli("--profile", "sweepc", "--base-url", base, "auth", "login", input=key + "\n", auth=False)
    assert login.exit_code == 0, login.stderr
    assert key not in login.stdout + login.stderr
    sweep(lambda *a: cli("--profile", "sweepc", *a, auth=False), "keyring")

    # neither the transcripts, the recovery files nor any log holds it; nor any log record
    # (the in-process server's included)
    assert _files_containing(phantom_home, key, allowed=set()) == []
    assert key not in caplog.text
    # the explicit command prints the profile's key, and only it
    assert cli("--profile", "sweepc", "auth", "token", auth=False).stdout == key + "\n"
