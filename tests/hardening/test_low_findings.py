"""Issue 13.6, low findings: leftover temp files, the spawned server's environment, folder
modes, passwords in URLs, links in model text. Each test is an attack that worked before."""

from __future__ import annotations

import os
import socket
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

# --------------------------------------------------------------------------- leftover temp files


def test_startup_cleanup_removes_a_killed_atomic_write_temp_file(tmp_path: Path, monkeypatch) -> None:
    import tempfile

    from phantom_cli.backend import db as dbmod
    from phantom_cli.backend import generation
    from phantom_cli.backend.app import create_app  # noqa: F401  (registers every migration)
    from phantom_cli.backend.settings import ServerSettings

    media = tmp_path / "media"
    made: list[str] = []
    real = tempfile.mkstemp

    def spy(*a: Any, **kw: Any) -> Any:
        fd, name = real(*a, **kw)
        made.append(name)
        return fd, name

    monkeypatch.setattr(tempfile, "mkstemp", spy)
    name = generation.write_media_file(media, b"\x89PNG fake", "png")
    monkeypatch.undo()
    # what a kill between the write and the rename leaves: the temp file under its real name
    leftover = Path(made[-1])
    leftover.write_bytes(b"half")
    assert leftover.name.startswith(f".{name}.") and leftover.name.endswith(".tmp")
    stranger = media / ".notes.txt.abcd1234.tmp"  # not one of ours: never touched
    stranger.write_text("x")

    settings = ServerSettings.for_home(tmp_path / "home")
    conn = dbmod.connect(settings.db_path)
    dbmod.migrate(conn)
    conn.execute("INSERT INTO media(id, type, file, created_at) VALUES ('m1', 'image', ?, 'now')", (name,))
    out = generation.recover(conn, media)
    conn.close()
    assert not leftover.exists()
    assert out["orphans_removed"] == 1
    assert (media / name).exists() and stranger.exists()


# --------------------------------------------------------------------------- server environment


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/PID/environ")
def test_spawned_server_gets_only_what_it_needs(tmp_path: Path, monkeypatch) -> None:
    from phantom_cli.backend import runtime

    monkeypatch.setenv("PHANTOM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PHANTOM_API_KEY", "pk_secret_of_the_shell")
    monkeypatch.setenv("PHANTOM_KEY", "another_secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_token")
    monkeypatch.setenv("MY_ENGINE_KEY", "engine-key-value")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    proc = runtime.spawn({"engine": "scripted", "engine_api_key_env": "MY_ENGINE_KEY", "idle_timeout": 5})
    try:
        import time

        raw = b""
        deadline = time.monotonic() + 5
        while not raw and time.monotonic() < deadline:  # empty while the exec is under way
            raw = Path(f"/proc/{proc.pid}/environ").read_bytes()
            if not raw:
                time.sleep(0.01)
        assert raw, "could not read the server's environment"
    finally:
        proc.kill()
        proc.wait(10)
    env = dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)
    for secret in ("PHANTOM_API_KEY", "PHANTOM_KEY", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN"):
        assert secret not in env
    assert "pk_secret_of_the_shell" not in raw.decode()
    assert env["MY_ENGINE_KEY"] == "engine-key-value"  # named by engine_api_key_env: needed
    assert env["PHANTOM_HOME"] == str(tmp_path / "home")
    assert env["PHANTOM_SERVER_ENGINE"] == "scripted"
    assert env["LC_ALL"] == "C.UTF-8" and "PATH" in env


# --------------------------------------------------------------------------- folder modes


def test_media_and_transcripts_folders_are_private(tmp_path: Path) -> None:
    from phantom_cli.backend.app import create_app
    from phantom_cli.backend.settings import ServerSettings
    from phantom_cli.conversation.transcripts import Transcript

    settings = ServerSettings.for_home(tmp_path / "home")
    settings.media_dir.mkdir(parents=True, mode=0o755)
    os.chmod(settings.media_dir, 0o755)  # as older versions left it
    app = create_app(settings)
    app.state.db.close()
    assert stat.S_IMODE(settings.media_dir.stat().st_mode) == 0o700

    fresh = ServerSettings.for_home(tmp_path / "home2")
    app = create_app(fresh)
    app.state.db.close()
    assert stat.S_IMODE(fresh.media_dir.stat().st_mode) == 0o700

    root = tmp_path / "state" / "transcripts"
    root.mkdir(parents=True)
    os.chmod(root, 0o755)
    t = Transcript("chat-1", root=root)
    with t._locked():
        pass
    assert stat.S_IMODE(root.stat().st_mode) == 0o700

    new_root = tmp_path / "state2" / "transcripts"
    with Transcript("chat-2", root=new_root)._locked():
        pass
    assert stat.S_IMODE(new_root.stat().st_mode) == 0o700


# --------------------------------------------------------------------------- passwords in URLs


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_url_password_never_shown_in_client_errors() -> None:
    from phantom_cli.client import Phantom
    from phantom_cli.client.errors import APIConnectionError

    url = f"http://alice:s3cretpw@127.0.0.1:{_closed_port()}"
    with Phantom(base_url=url, api_key="k", max_retries=0) as c:
        with pytest.raises(APIConnectionError) as info:
            c.personas.list()
        assert "s3cretpw" not in repr(c)
        assert "s3cretpw" not in (c.last_exchange.url if c.last_exchange else "")
    assert "s3cretpw" not in str(info.value)
    assert "alice:***@" in str(info.value)
    assert "s3cretpw" not in str(getattr(info.value, "url", ""))


def test_url_password_never_shown_by_the_cli(phantom_home, memory_keyring) -> None:
    from typer.testing import CliRunner

    from phantom_cli.cli.main import app

    url = f"http://alice:s3cretpw@127.0.0.1:{_closed_port()}"
    env = {"PHANTOM_BASE_URL": url, "PHANTOM_API_KEY": "pk_test_key_123", "PHANTOM_FORCE_TTY": "0",
           "PHANTOM_MAX_RETRIES": "0"}
    runner = CliRunner()
    for args in (["personas", "list"], ["--debug", "personas", "list"], ["config", "list"],
                 ["config", "list", "--json"]):
        r = runner.invoke(app, args, env=env)
        out = r.output + (r.stderr if r.stderr_bytes is not None else "")
        assert "s3cretpw" not in out, (args, out)
    r = runner.invoke(app, ["personas", "list"], env=env)
    assert "alice:***@" in r.output + (r.stderr if r.stderr_bytes is not None else "")


def test_redact_credentials_unit() -> None:
    from phantom_cli.config.settings import redact_credentials

    assert redact_credentials("see https://u:p%40ss@h.example:8443/x and http://h/") == \
        "see https://u:***@h.example:8443/x and http://h/"
    assert redact_credentials("mail me@example.com") == "mail me@example.com"


# --------------------------------------------------------------------------- links in replies


def test_link_in_a_streamed_reply_does_not_open_anything() -> None:
    import asyncio

    from textual.app import App, ComposeResult

    from tui.widgets import MessageView

    opened: list[str] = []

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield MessageView("assistant", "[click me](https://evil.example/x) " * 3, "Mira", live=True)

        def open_url(self, url: str, *, new_tab: bool = True) -> None:  # type: ignore[override]
            opened.append(url)

        def on_markdown_link_clicked(self, event: Any) -> None:
            opened.append("app:" + event.href)

    async def run() -> None:
        app = Host()
        async with app.run_test(size=(80, 20)) as pilot:
            await pilot.pause()
            view = app.query_one(MessageView)
            for x in range(0, 40, 2):
                await pilot.click(view.body.__class__, offset=(x, 0))
            await pilot.pause()
            # the click action itself, as the link's @click would run it
            from textual.widgets._markdown import MarkdownBlock

            block = view.body.query(MarkdownBlock).first()
            await block.action_link("https://evil.example/direct")
            await pilot.pause()

    asyncio.run(run())
    assert opened == []
