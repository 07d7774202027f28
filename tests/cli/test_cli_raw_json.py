"""List commands fetch pages with the client's transport alone (no typed resources, no
pydantic: start-up, issue 5): `--json` / `--jq` / `--all --json` print the server's JSON as it
came, rows and tables show the same objects; the server validates the filters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import httpx
import respx

from .conftest import Cli

HOSTED = "https://api.test.invalid"
HOSTED_ENV = {"PHANTOM_BASE_URL": HOSTED, "PHANTOM_API_KEY": "sk-hosted"}


def _server_json(live_server: Any, path: str, **params: Any) -> Any:
    r = httpx.get(
        live_server.base_url + path,
        params=params,
        headers={"Authorization": f"Bearer {live_server.api_key}"},
    )
    r.raise_for_status()
    return r.json()


def test_json_pages_are_the_servers_json(cli: Cli, live_server: Any, unique: str) -> None:
    cat = f"raw-{unique}"
    for i in range(3):
        live_server.add_activity(title=f"R{i}", category=cat, featured=i == 0)
    r = cli("activities", "list", "--category", cat, "--no-featured", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == _server_json(
        live_server, "/api/v1/activities", category=cat, featured="false"
    )
    assert len(json.loads(r.stdout)["data"]) == 2

    for args, path in [
        (("skins", "list", "--limit", "3"), "/api/v1/skins"),
        (("personas", "list"), "/api/v1/personas"),
        (("instances", "list"), "/api/v1/activity-instances"),
    ]:
        r = cli(*args, "--json")
        assert r.exit_code == 0, (args, r.stderr)
        params = {"limit": 3} if "--limit" in args else {}
        assert json.loads(r.stdout) == _server_json(live_server, path, **params), args


def test_path_parameters_and_renamed_filters(cli: Cli, live_server: Any, unique: str) -> None:
    act = live_server.add_activity(title="Host", category=f"msg-{unique}")
    inst = json.loads(cli("instances", "create", act, "--json").stdout)["id"]
    for text in ("one", "two", "three"):
        assert cli("instances", "messages", "create", inst, text).exit_code == 0
    r = cli("instances", "messages", "list", inst, "--role", "user", "--json")
    assert r.exit_code == 0, r.stderr
    path = f"/api/v1/activity-instances/{inst}/messages"
    assert json.loads(r.stdout) == _server_json(live_server, path, role="user")
    assert [m["content"] for m in json.loads(r.stdout)["data"]] == ["three", "two", "one"]
    walked = cli("instances", "messages", "list", inst, "--all", "--limit", "1", "--jq", ".content")
    assert walked.stdout.split() == ["three", "two", "one"]

    # (test_media_add adds med_cover_skin_theo_anime to the same shared server)
    added = cli("media", "add", "med_cover_skin_vesk_anime", "--relation", "unlocked", "--json")
    assert added.exit_code == 0, added.stderr
    r = cli("media", "list", "--relation", "unlocked", "--json")
    assert r.exit_code == 0, r.stderr
    page = json.loads(r.stdout)
    assert page == _server_json(live_server, "/api/v1/media/collection", relationType="unlocked")
    assert page["data"] and {m["relationType"] for m in page["data"]} == {"unlocked"}


def test_a_bad_filter_is_refused_by_the_server_with_the_field(cli: Cli) -> None:
    for fmt in ((), ("--json",)):
        r = cli("instances", "list", "--status", "sleeping", *fmt)
        assert r.exit_code == 2, (r.stdout, r.stderr)
        assert "status" in r.stderr and "Traceback" not in r.stderr
        assert r.stdout == ""
    r = cli("activities", "list", "--category", "x" * 101, "--json")
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert "category" in r.stderr and "100" in r.stderr


def test_fields_the_models_do_not_know_are_kept(cli: Cli) -> None:
    page = {
        "data": [{"id": "act_1", "title": "New", "vibe": {"future": True}}],
        "next_cursor": None,
        "has_more": False,
        "total_estimate": 1,
    }
    with respx.mock(base_url=HOSTED) as mock:
        mock.get("/api/v1/activities").respond(200, json=page)
        r = cli("activities", "list", "--json", env=HOSTED_ENV)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == page


def test_a_page_without_a_data_list_is_a_clear_error(cli: Cli) -> None:
    with respx.mock(base_url=HOSTED) as mock:
        mock.get("/api/v1/skins").respond(200, json={"items": []})
        r = cli("skins", "list", "--json", env=HOSTED_ENV)
    assert r.exit_code == 1
    assert r.stderr.startswith("error: GET /api/v1/skins: unexpected response shape for a page")
    assert "Traceback" not in r.stderr


def test_rows_show_the_same_objects(cli: Cli) -> None:
    page = {"data": [{"id": "skin_new", "name": "[b]New", "vibe": 1}, {"name": "no id"}]}
    with respx.mock(base_url=HOSTED) as mock:
        mock.get("/api/v1/skins").respond(200, json=page)
        plain = cli("skins", "list", env=HOSTED_ENV)
        table = cli("--no-color", "skins", "list", env=HOSTED_ENV, tty=True)
    assert plain.exit_code == 0, plain.stderr
    rows = [line.split("\t") for line in plain.stdout.splitlines()]
    assert rows[0][:2] == ["skin_new", "[b]New"] and rows[1][:2] == ["", "no id"]
    assert table.exit_code == 0, table.stderr
    assert "[b]New" in table.stdout and "no id" in table.stdout


def test_list_json_imports_neither_pydantic_nor_the_models(live_server: Any, tmp_path: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHANTOM_")}
    env.update(
        PHANTOM_HOME=str(tmp_path),
        PHANTOM_BASE_URL=live_server.base_url,
        PHANTOM_API_KEY=live_server.api_key,
    )
    code = (
        "import sys\n"
        "from phantom_cli.cli.main import run\n"
        "sys.argv = ['phantom', 'activities', 'list', '--limit', '2', '--json']\n"
        "try:\n"
        "    run()\n"
        "finally:\n"
        "    print('MODULES', *sorted(sys.modules), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(json.loads(proc.stdout)["data"]) == 2
    modules = proc.stderr.rsplit("MODULES", 1)[1].split()
    assert "phantom_cli.client._core_sync" in modules
    heavy = [
        m
        for m in modules
        if m.split(".")[0] == "pydantic" or m.startswith("phantom_cli.client.models")
    ]
    assert heavy == []
