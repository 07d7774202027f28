"""Every resource command against the real local backend: table, plain and JSON output."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import Cli


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture
def category(live_server: Any, unique: str) -> str:
    """A category with three activities, one with hostile-looking text."""
    cat = f"cat-{unique}"
    live_server.add_activity(title="Alpha", category=cat, short_description="first", featured=True)
    live_server.add_activity(title="Beta", category=cat, short_description="second")
    live_server.add_activity(title="[bold red]Gamma", category=cat, short_description="third")
    return cat


def test_activities_plain_rows_are_tab_separated(cli: Cli, category: str) -> None:
    r = cli("activities", "list", "--category", category)
    assert r.exit_code == 0, r.stderr
    rows = [line.split("\t") for line in _lines(r.stdout)]
    assert len(rows) == 3
    assert all(len(row) == 6 for row in rows)
    assert {row[1] for row in rows} == {"Alpha", "Beta", "[bold red]Gamma"}
    assert {row[2] for row in rows} == {category}
    assert "\x1b" not in r.stdout  # no colour when piped


def test_activities_table_at_a_tty(cli: Cli, category: str) -> None:
    r = cli("--no-color", "activities", "list", "--category", category, tty=True)
    assert r.exit_code == 0, r.stderr
    header = r.stdout.splitlines()[0]
    for column in ("ID", "TITLE", "CATEGORY", "FEATURED", "DESCRIPTION"):
        assert column in header
    assert "[bold red]Gamma" in r.stdout  # markup shown, not interpreted
    assert "\t" not in r.stdout
    assert "\x1b" not in r.stdout  # --no-color
    coloured = cli("activities", "list", "--category", category, tty=True)
    assert "\x1b[" in coloured.stdout  # a real TTY gets colour


def test_activities_json_matches_the_api(cli: Cli, live_server: Any, category: str) -> None:
    r = cli("activities", "list", "--category", category, "--json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    expected = live_server.client().activities.list(category=category).model_dump(mode="json")
    assert data == expected
    assert len(data["data"]) == 3 and data["has_more"] is False

    one = data["data"][0]["id"]
    r = cli("activities", "get", one, "--json")
    assert json.loads(r.stdout) == live_server.client().activities.get(one).model_dump(mode="json")


def test_filters_featured(cli: Cli, category: str) -> None:
    r = cli("activities", "list", "--category", category, "--featured", "--jq", ".data[].title")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.split() == ["Alpha"]
    bad = cli("activities", "list", "--featured=maybe")
    assert bad.exit_code == 2
    assert "--featured" in bad.stderr


def test_all_walks_every_page_as_ndjson(cli: Cli, live_server: Any, unique: str) -> None:
    cat = f"many-{unique}"
    ids = {live_server.add_activity(title=f"T{i}", category=cat) for i in range(23)}
    r = cli("activities", "list", "--category", cat, "--all", "--limit", "5", "--json")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 23
    objs = [json.loads(line) for line in lines]  # one object per line (NDJSON)
    assert {o["id"] for o in objs} == ids

    plain = cli("activities", "list", "--category", cat, "--all", "--limit", "7")
    assert len(_lines(plain.stdout)) == 23

    table = cli(
        "--no-color", "activities", "list", "--category", cat, "--all", "--limit", "9", tty=True
    )
    assert sum(1 for i in ids if i in table.stdout) == 23

    ids_only = cli("activities", "list", "--category", cat, "--all", "--limit", "10", "--jq", ".id")
    assert set(ids_only.stdout.split()) == ids

    one_page = cli("activities", "list", "--category", cat, "--limit", "5", "--json")
    page = json.loads(one_page.stdout)
    assert len(page["data"]) == 5 and page["has_more"] is True
    nxt = cli(
        "activities",
        "list",
        "--category",
        cat,
        "--limit",
        "5",
        "--cursor",
        page["next_cursor"],
        "--json",
    )
    page2 = json.loads(nxt.stdout)
    assert not {o["id"] for o in page["data"]} & {o["id"] for o in page2["data"]}
    hint = cli("activities", "list", "--category", cat, "--limit", "5")
    assert "--cursor" in hint.stderr

    both = cli("activities", "list", "--all", "--cursor", "abc")
    assert both.exit_code == 2


def test_jq_errors_are_usage_errors(cli: Cli) -> None:
    r = cli("activities", "list", "--jq", ".[[[")
    assert r.exit_code == 2
    assert r.stderr.startswith("error: --jq")
    assert "Traceback" not in r.stderr


def test_instances_and_messages_lifecycle(cli: Cli, live_server: Any, unique: str) -> None:
    act = live_server.add_activity(
        title=f"Inst {unique}", category=f"i-{unique}", first_message="Hello!"
    )
    created = json.loads(cli("instances", "create", act, "--json").stdout)
    inst = created["id"]
    assert created["activity_id"] == act and created["status"] == "active"

    got = cli("instances", "get", inst)
    assert got.exit_code == 0
    assert f"id\t{inst}" in got.stdout

    listed = cli("instances", "list", "--activity", act, "--jq", ".data[].id")
    assert listed.stdout.split() == [inst]

    msg = json.loads(cli("instances", "messages", "create", inst, "hello there", "--json").stdout)
    assert msg["content"] == "hello there" and msg["role"] == "user"
    upd = cli("instances", "messages", "update", inst, msg["id"], "edited", "--json")
    assert json.loads(upd.stdout)["content"] == "edited"
    one = cli("instances", "messages", "get", inst, msg["id"], "--jq", ".content")
    assert one.stdout.strip() == "edited"

    chat = cli("instances", "chat", inst, "Tell me a story")
    assert chat.exit_code == 0, chat.stderr
    assert chat.stdout.strip()
    msgs = cli("instances", "messages", "list", inst, "--all", "--json")
    contents = [json.loads(line)["content"] for line in msgs.stdout.splitlines()]
    assert "Tell me a story" in contents
    assert chat.stdout.strip() in [c.strip() for c in contents]  # the streamed reply was saved

    table = cli("--no-color", "instances", "messages", "list", inst, tty=True)
    assert "ROLE" in table.stdout and "CONTENT" in table.stdout

    voice = cli("instances", "update", inst, "--voice", "v_1", "--json")
    assert json.loads(voice.stdout)["assigned_voice_id"] == "v_1"
    archived = cli("instances", "archive", inst, "--json")
    assert json.loads(archived.stdout)["status"] == "archived"
    refused = cli("instances", "messages", "create", inst, "more")
    assert refused.exit_code == 6, refused.stderr  # 409 conflict
    assert refused.stderr.startswith("error: 409")


def test_personas(cli: Cli, unique: str) -> None:
    r = cli(
        "personas",
        "create",
        f"Ash {unique}",
        "--gender",
        "non-binary",
        "--style",
        "anime",
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    persona = json.loads(r.stdout)
    pid = persona["id"]
    upd = cli("personas", "update", pid, "--description", "A ranger", "--json")
    assert json.loads(upd.stdout)["description"] == "A ranger"
    assert cli("personas", "set-default", pid, "--jq", ".is_default").stdout.strip() == "true"
    got = cli("personas", "get", pid, "--json")
    assert json.loads(got.stdout)["is_default"] is True
    assert pid in cli("personas", "list", "--all").stdout
    nothing = cli("personas", "update", pid)
    assert nothing.exit_code == 2
    bad = cli("personas", "create", "X", "--gender", "robot")
    assert bad.exit_code == 2
    assert "gender" in bad.stderr  # client-side validation names the field
    assert len(_lines(bad.stderr)) <= 2
    long = cli("personas", "update", pid, "--name", "x" * 121)
    assert long.exit_code == 2 and "--name:" in long.stderr  # the option typed, not NAME


def test_skins(cli: Cli, live_server: Any) -> None:
    r = cli("skins", "list", "--style", "anime", "--all", "--json")
    skins = [json.loads(line) for line in r.stdout.splitlines()]
    assert skins and all(s["style"] == "anime" for s in skins)
    one = cli("skins", "get", skins[0]["id"], "--json")
    assert json.loads(one.stdout) == live_server.client().skins.get(skins[0]["id"]).model_dump(
        mode="json"
    )
    table = cli("--no-color", "skins", "list", "--gender", "female", tty=True)
    assert "NAME" in table.stdout


def test_media_generate_wait_list_favorite_open(
    cli: Cli, live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = cli(
        "media",
        "generate",
        "image",
        "--skin",
        "skin_luna_anime",
        "--category",
        "portrait",
        "--json",
    )
    assert started.exit_code == 0, started.stderr
    assert json.loads(started.stdout)["job_id"]

    r = cli(
        "media",
        "generate",
        "image",
        "--skin",
        "skin_luna_anime",
        "--category",
        "selfie",
        "--seed",
        "3",
        "--wait",
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    item = json.loads(r.stdout)
    assert item["mediaType"] == "image" and item["relationType"] == "generated"
    assert "job " in r.stderr  # progress lines when not a TTY

    listed = cli("media", "list", "--type", "image", "--all", "--jq", ".id")
    assert item["id"] in listed.stdout.split()
    fav = cli("media", "favorite", item["id"], "--jq", ".isFavorite")
    assert fav.stdout.strip() == "true"
    favs = cli("media", "list", "--favorite", "--all", "--jq", ".id")
    assert item["id"] in favs.stdout.split()
    unfav = cli("media", "unfavorite", item["id"], "--jq", ".isFavorite")
    assert unfav.stdout.strip() == "false"

    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or False)
    shown = cli("media", "open", item["id"])
    assert shown.exit_code == 0, shown.stderr
    assert shown.stdout.strip().startswith(live_server.base_url + "/")
    assert opened == [shown.stdout.strip()]
    missing = cli("media", "open", "nope")
    assert missing.exit_code == 5

    again = cli("media", "add", item["mediaId"], "--relation", "favorited")
    assert again.exit_code == 6  # already in the collection: 409
    assert again.stderr.startswith("error: 409")


def test_media_add(cli: Cli) -> None:
    added = cli("media", "add", "med_cover_skin_theo_anime", "--relation", "unlocked", "--json")
    assert added.exit_code == 0, added.stderr
    assert json.loads(added.stdout)["relationType"] == "unlocked"


def test_api_passthrough(cli: Cli, category: str, unique: str, tmp_path: Any) -> None:
    r = cli("api", "GET", "/api/v1/activities", "-f", f"category={category}", "-F", "limit=2")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert len(data["data"]) == 2 and data["has_more"] is True

    made = cli("api", "POST", "/api/v1/personas", "-f", f"name=P{unique}", "-F", "is_default=false")
    assert made.exit_code == 0, made.stderr
    assert json.loads(made.stdout)["name"] == f"P{unique}"

    body = tmp_path / "body.json"
    body.write_text(json.dumps({"name": f"Q{unique}"}))
    viafile = cli("api", "POST", "api/v1/personas", "--input", str(body), "--jq", ".name")
    assert viafile.stdout.strip() == f"Q{unique}"
    viastdin = cli(
        "api", "POST", "/api/v1/personas", "--input", "-", input=json.dumps({"name": f"R{unique}"})
    )
    assert json.loads(viastdin.stdout)["name"] == f"R{unique}"

    missing = cli("api", "GET", "/api/v1/activities/does-not-exist")
    assert missing.exit_code == 5
    assert json.loads(missing.stdout)["error"]["code"] == "NOT_FOUND"
    assert "HTTP 404" in missing.stderr

    assert cli("api", "GET", "https://evil.example/api/v1/skins").exit_code == 2
    assert cli("api", "FETCH", "/x").exit_code == 2
    assert cli("api", "POST", "/api/v1/personas", "-f", "novalue").exit_code == 2
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\xff\xfe\x00")
    for args in (["-F", f"name=@{binary}"], ["--input", str(binary)]):
        r = cli("api", "POST", "/api/v1/personas", *args)
        assert r.exit_code == 2 and "not UTF-8" in r.stderr, r.stderr
    gone = cli("api", "POST", "/api/v1/personas", "--input", str(tmp_path / "nope.json"))
    assert gone.exit_code == 2 and "cannot read" in gone.stderr


def test_media_generate_wait_at_a_tty(cli: Cli) -> None:
    r = cli(
        "--no-color", "media", "generate", "video", "--skin", "skin_theo_anime",
        "--category", "action", "--wait", tty=True,
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert "mediaType" in r.stdout and "video" in r.stdout
    bad = cli(
        "media", "generate", "image", "--skin", "skin_nope", "--category", "portrait", "--wait"
    )
    assert bad.exit_code in (1, 2, 5), bad.stderr
    assert bad.stderr.startswith("error: ")


def test_chat_reads_stdin(cli: Cli, live_server: Any, unique: str) -> None:
    act = live_server.add_activity(title=f"stdin {unique}", category=f"s-{unique}")
    inst = json.loads(cli("instances", "create", act, "--json").stdout)["id"]
    r = cli("instances", "chat", inst, "-", input="Hello from a pipe\n")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.endswith("\n") and r.stdout.strip()
    first = json.loads(
        cli("instances", "messages", "list", inst, "--role", "user", "--json").stdout
    )
    assert [m["content"] for m in first["data"]] == ["Hello from a pipe"]


def test_instances_archive_prints_one_line(cli: Cli, unique: str) -> None:
    act = cli.server.add_activity(title=f"Arch {unique}", category=f"a-{unique}")
    inst = cli("instances", "create", act, "--jq", ".id").stdout.strip()
    r = cli("instances", "archive", inst)
    assert r.exit_code == 0 and r.stdout == f"archived {inst} (Arch {unique})\n"


def test_keys_revoke_refuses_the_cli_s_own_local_key(cli: Cli) -> None:
    from pathlib import Path

    from phantom_cli.config import local_api_key_file

    key_file = Path(local_api_key_file())
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text(cli.api_key or "")
    listed = cli("keys", "list", "--json")
    own = next(k for k in json.loads(listed.stdout) if (cli.api_key or "").startswith(k["prefix"]))
    r = cli("keys", "revoke", own["id"])
    assert r.exit_code == 2 and "own key" in r.stderr and "--force" in r.stderr
    assert cli("activities", "list").exit_code == 0  # still works
    other = cli.server.make_key(user=f"qa-{own['id'][-6:]}")
    other_id = next(
        k["id"] for k in json.loads(cli("keys", "list", "--json").stdout)
        if other.startswith(k["prefix"]) and not k.get("revoked_at")
    )
    assert cli("keys", "revoke", other_id).exit_code == 0
