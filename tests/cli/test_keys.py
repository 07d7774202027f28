"""`phantom keys create | list | revoke` against a live local server."""

from __future__ import annotations

import json

import httpx
import pytest
from typer.testing import CliRunner

from phantom_cli.cli.main import app


@pytest.fixture
def cli_env(live_server, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("PHANTOM_BASE_URL", live_server.base_url)
    monkeypatch.setenv("PHANTOM_API_KEY", live_server.api_key)
    return CliRunner()


def test_keys_create_list_revoke(live_server, cli_env: CliRunner) -> None:
    r = cli_env.invoke(app, ["keys", "create", "--user", "carol", "--scope", "skins", "--scope", "media"])
    assert r.exit_code == 0, r.output
    key = r.stdout.strip().splitlines()[0]
    assert key.startswith("ph_local_")
    h = {"Authorization": f"Bearer {key}"}
    assert httpx.get(live_server.base_url + "/api/v1/skins", headers=h).status_code == 200
    assert httpx.get(live_server.base_url + "/api/v1/activities", headers=h).status_code == 403

    r = cli_env.invoke(app, ["keys", "list", "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    mine = [k for k in rows if k["user"] == "carol" and k["scopes"] == ["media", "skins"]]
    assert mine and key not in r.stdout  # secrets are never listed
    assert mine[-1]["last_used_at"]  # the key was used above

    r = cli_env.invoke(app, ["keys", "revoke", mine[-1]["id"]])
    assert r.exit_code == 0, r.output
    assert httpx.get(live_server.base_url + "/api/v1/skins", headers=h).status_code == 401

    r = cli_env.invoke(app, ["keys", "revoke", mine[-1]["id"]])
    assert r.exit_code != 0


def test_keys_create_rejects_unknown_scope(cli_env: CliRunner) -> None:
    r = cli_env.invoke(app, ["keys", "create", "--scope", "root"])
    assert r.exit_code == 2
    assert "root" in r.output
