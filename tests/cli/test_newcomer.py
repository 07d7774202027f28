"""Issue 18 (what a newcomer trips over), points 1–5, 8, 9 and 11: boolean filters as flags,
the fresh-install key recipe, one error style, "did you mean", even enum/blank validation, no
repeated words in errors, the cut-stream position, and no test reading outside the repository.
The README's "What you can do" block is tested in test_readme_commands.py."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from phantom_cli.backend.faults import half_of_first_chunk, parse_faults
from phantom_cli.backend.testing import LiveServer
from phantom_cli.client import errors as E

from .conftest import Cli

ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- 1. flags


def test_boolean_filters_are_flags(cli: Cli, live_server: Any, unique: str) -> None:
    cat = f"flags-{unique}"
    live_server.add_activity(title="Comp", category=cat, is_companion=True, featured=True)
    live_server.add_activity(title="Npc", category=cat, is_companion=False, featured=False)

    def titles(*flags: str) -> list[str]:
        r = cli("activities", "list", "--category", cat, *flags, "--jq", ".data[].title")
        assert r.exit_code == 0, r.stderr
        return r.stdout.split()

    assert titles("--companion") == ["Comp"]
    assert titles("--no-companion") == ["Npc"]
    assert titles("--featured") == ["Comp"]
    assert titles("--no-featured") == ["Npc"]
    assert sorted(titles()) == ["Comp", "Npc"]
    favs = cli("media", "list", "--no-favorite", "--json")
    assert favs.exit_code == 0, favs.stderr
    assert all(not item["isFavorite"] for item in json.loads(favs.stdout)["data"])


# --------------------------------------------------------------------------- 2. the recipe


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_readme_key_recipe_on_a_fresh_install(tmp_path: Path) -> None:
    """The README's line, verbatim, in bash with a fresh PHANTOM_HOME: a key and a URL that
    answer (the seed's init-session call), then the background server is stopped."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    recipe = next(ln for ln in readme.splitlines() if ln.startswith("export PHANTOM_KEY="))
    assert "$(phantom auth token)" in recipe and "phantom serve status --json" in recipe
    assert shutil.which("bash") and shutil.which("jq")
    bindir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHANTOM_")}
    env.update(PHANTOM_HOME=str(tmp_path / "fresh"), PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}")
    script = f'set -e\n{recipe}\nprintf "%s\\n%s\\n" "$PHANTOM_KEY" "$URL"\n'
    try:
        proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr
        key, url = proc.stdout.split()
        assert key.startswith("ph_") and re.fullmatch(r"http://127\.0\.0\.1:\d+", url), proc.stdout
        r = httpx.post(
            f"{url}/api/v1/chat/abc123/init-session",
            headers={"Authorization": f"Bearer {key}"},
            json={"user_session_id": "player-session-001", "player_name": "Alex",
                  "player_gender": "non-binary"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
    finally:
        subprocess.run([str(bindir / "phantom"), "serve", "stop"], env=env, capture_output=True,
                       timeout=60)
    status = subprocess.run([str(bindir / "phantom"), "serve", "status", "--json"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert json.loads(status.stdout).get("running") is False


# --------------------------------------------------------------------------- 3./4. usage errors


def test_usage_errors_in_the_project_style(cli: Cli) -> None:
    for args in (["activities", "list", "--bogus"], ["activities", "get"],
                 ["activities", "list", "--featured=maybe"], ["skins", "list", "--limit", "0"]):
        r = cli(*args)
        assert r.exit_code == 2, (args, r.stderr)
        assert r.stderr.startswith("error: "), r.stderr
        assert "hint: " in r.stderr and "--help" in r.stderr
        assert "Usage:" not in r.stderr and "Error:" not in r.stderr and "Try '" not in r.stderr


def test_tui_launcher_errors_in_the_project_style(cli: Cli) -> None:
    r = cli("chat", "--npc", "abc123", "--persona", "luna.toml")
    assert r.exit_code == 2
    assert r.stderr.startswith("error: give only one of --npc, --persona"), r.stderr
    assert "phantom chat:" not in r.stderr
    r = cli("chat", "--persona", "/nonexistent/nope.toml")
    assert r.exit_code == 2 and r.stderr.startswith("error: --persona: no such file"), r.stderr


def test_did_you_mean_commands_and_options(cli: Cli) -> None:
    r = cli("activitys")
    assert r.exit_code == 2
    assert "no such command 'activitys'" in r.stderr
    assert "did you mean 'phantom activities'?" in r.stderr
    r = cli("activities", "lsit")
    assert "did you mean 'phantom activities list'?" in r.stderr
    r = cli("activities", "list", "--companoin")
    assert r.exit_code == 2
    assert "no such option: --companoin" in r.stderr and "did you mean '--companion'" in r.stderr
    r = cli("instances", "messages", "inst_123", "--all")
    assert r.exit_code == 2
    assert "did you mean 'phantom instances messages list inst_123 --all'?" in r.stderr


# --------------------------------------------------------------------------- 5. validation


def test_enum_values_are_checked_alike_everywhere(cli: Cli) -> None:
    listing = cli("skins", "list", "--gender", "robot")
    creating = cli("personas", "create", "Ash", "--gender", "robot")
    assert listing.exit_code == creating.exit_code == 2
    expected = "--gender: must be one of 'female', 'male' or 'non-binary', got 'robot'"
    assert expected in listing.stderr and expected in creating.stderr
    assert listing.stdout == creating.stdout == ""
    styled = cli("skins", "list", "--style", "animee")
    assert styled.exit_code == 2 and "did you mean 'anime'" in styled.stderr
    ok = cli("skins", "list", "--gender", "female", "--jq", ".data[].gender")
    assert ok.exit_code == 0 and set(ok.stdout.split()) == {"female"}


def test_the_backend_refuses_unknown_enum_values(live_server: Any) -> None:
    with live_server.http() as http:
        r = http.get("/api/v1/skins", params={"gender": "robot"})
    assert r.status_code == 400, r.text
    assert "gender" in r.text


def test_blank_names_are_refused(cli: Cli, live_server: Any) -> None:
    r = cli("personas", "create", "   ")
    assert r.exit_code == 2 and "must not be blank" in r.stderr, r.stderr
    with live_server.http() as http:  # and the server, for a client that does not check
        created = http.post("/api/v1/personas", json={"name": " \t "})
    assert created.status_code == 400, created.text
    with pytest.raises(E.InvalidInputError, match="blank"):
        live_server.client().personas.create(name="  ")


# --------------------------------------------------------------------------- 8. repeated words


def test_in_context_never_repeats_words() -> None:
    from phantom_cli.backend.errors import in_context

    assert in_context("model provider", "model provider unreachable") == "model provider unreachable"
    assert in_context("engine unavailable", "model provider timed out") == (
        "engine unavailable: model provider timed out"
    )
    assert in_context("engine unavailable", "unavailable: no model file") == (
        "engine unavailable: no model file"
    )
    assert in_context("model provider", "Model Provider answered HTTP 500") == (
        "Model Provider answered HTTP 500"
    )


@pytest.mark.parametrize("stream", [False, True])
def test_unreachable_provider_message_says_it_once(tmp_path: Path, stream: bool) -> None:
    srv = LiveServer(tmp_path / "srv", engine="openai",
                     engine_base_url=f"http://127.0.0.1:{_free_port()}/v1").start()
    try:
        with srv.client(max_retries=0) as c:
            kwargs = dict(chat_id="c-1", persona={"name": "Luna"},
                          messages=[{"role": "user", "content": "hi"}])
            with pytest.raises(E.APIStatusError) as info:
                if stream:
                    list(c.companion.chat(**kwargs, stream=True))
                else:
                    c.companion.chat(**kwargs)
    finally:
        srv.stop()
    message = info.value.message
    assert info.value.status == 503
    assert "model provider" in message
    assert message.count("model provider") == 1, message


# --------------------------------------------------------------------------- 9. cut-stream


def test_cut_position_is_half_of_the_reply_text() -> None:
    event = b'event: delta\ndata: {"text": "Hello there"}\n\n'
    half = half_of_first_chunk(event, sse=True)
    assert half == b'event: delta\ndata: {"text": "Hello"}\n\n'
    assert half_of_first_chunk(b'event: meta\ndata: {"a": 1}\n\n', sse=True) is None
    assert half_of_first_chunk("héllo wörld".encode(), sse=False) == "héllo".encode()
    assert half_of_first_chunk(b"x", sse=False) == b""


def _set_faults(server: Any, spec: str | None) -> None:
    server.app.state.fault_state.faults = parse_faults(spec) if spec else None


def test_a_cut_reply_stops_half_way(fresh_server: Any) -> None:
    """Before: half of the first chunk was sent (half an SSE event: 'after 0 characters').
    Now the reply is cut at half its length; the retry (nothing was saved) gives the whole
    reply, of which the cut one is exactly the first half."""
    aid = fresh_server.add_activity(title="Cutter", first_message="Hello there")
    with fresh_server.client(max_retries=0) as c:
        inst = c.instances.create(aid)
        _set_faults(fresh_server, "cut-stream:1")
        with pytest.raises(E.StreamInterruptedError) as info:
            "".join(c.instances.chat_stream(inst.id, "Tell me a long story"))
        partial = info.value.partial
        _set_faults(fresh_server, None)
        full = "".join(c.instances.chat_stream(inst.id, "Tell me a long story"))
    assert len(full) > 20
    assert partial == full[: len(full) // 2]


def test_a_cut_sse_reply_stops_half_way(fresh_server: Any) -> None:
    body = dict(chat_id="cut-1", persona={"name": "Luna"},
                messages=[{"role": "user", "content": "Tell me about the stars tonight"}])
    with fresh_server.client(max_retries=0) as c:
        _set_faults(fresh_server, "cut-stream:1")
        with pytest.raises(E.StreamInterruptedError) as info:
            list(c.companion.chat(**body, stream=True))
        partial = info.value.partial
        _set_faults(fresh_server, None)
        full = c.companion.chat(**body).reply
    assert partial and full.startswith(partial)
    # whole words only (the route sends words): at most half, and not much less
    assert len(full) // 2 - 20 <= len(partial) <= len(full) // 2, (len(partial), len(full))


# --------------------------------------------------------------------------- 11. no outside paths


def test_no_test_reads_outside_the_repository() -> None:
    outside = re.compile(r"""shared/spec|["']shared["']\s*/|parents\[\d+\]\.parent|\.\./\.\./""")
    offenders = []
    for path in (ROOT / "tests").rglob("*.py"):
        if path.name == Path(__file__).name:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if outside.search(line) and "etc/passwd" not in line and "api_key" not in line:
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []
    assert sorted((ROOT / "tests" / "data" / "spec" / "seeds").glob("000_*.txt"))


# --------------------------------------------------------------------------- 6. job progress


def test_generate_wait_reports_status_and_elapsed_time(cli: Cli) -> None:
    skin = cli("skins", "list", "--jq", ".data[0].id").stdout.strip()
    r = cli("media", "generate", "image", "--skin", skin, "--category", "portrait", "--wait",
            "--jq", ".mediaId")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("med_")
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("job ")]
    assert re.fullmatch(r"job \S+: queued \(\d+\.\ds\)", lines[0]), lines
    assert re.fullmatch(r"job \S+: done \(\d+\.\ds\)", lines[-1]), lines
    assert len(lines) == len({ln.split(": ")[1].split(" (")[0] for ln in lines})  # one per change


def test_job_progress_at_a_terminal_is_a_rich_progress_display() -> None:
    import io

    from rich.console import Console

    from phantom_cli.cli.media import JobProgress

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=100, color_system=None)
    with JobProgress("image", "job_1", tty=True, console=console) as p:
        for status in ("queued", "running"):
            p.update(status)
            p.progress.refresh()
            assert status in buf.getvalue()
        p.update("succeeded")
        assert p.progress.tasks[0].completed == 2 and p.progress.tasks[0].fields["status"] == "done"
    out = buf.getvalue()
    assert "generating image (job job_1)" in out and "done" in out
    assert re.search(r"\d:\d\d:\d\d", out)  # the elapsed time column
