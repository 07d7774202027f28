"""Issue 13.1: least privilege for API keys. Each attack from the issue, replayed with bob's key.

On the old code a key minted without ``--scope`` stored ``*`` (admin included), so bob could mint
an owner key, revoke the owner's key and rewrite NPCs for everyone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from phantom_cli.cli.main import app
from tests.backend.helpers import error_of, unique

SCOPES = sorted(("chat:companion", "chat:npc", "scratchpad", "activities", "instances", "personas", "skins",
                 "media", "generate", "admin"))
DEFAULT_SCOPES = [s for s in SCOPES if s != "admin"]  # a key minted without scopes
NPC_DOC = Path(__file__).parent.parent.parent / "phantom_cli/backend/npc/data/abc123_hollow_market.json"


def _forbidden(r: httpx.Response, scope: str) -> None:
    assert r.status_code == 403, (r.status_code, r.text)
    err = error_of(r)
    assert err["code"] == "FORBIDDEN"
    assert f"'{scope}'" in err["message"], err["message"]


def _owner_key_id(server: Any) -> str:
    with server.http() as c:
        rows = c.get("/api/v1/local/admin/keys").json()["data"]
    return next(k["id"] for k in rows if server.api_key.startswith(k["prefix"]) and not k["revoked_at"])


def test_default_key_gets_every_scope_but_admin(live_server: Any) -> None:
    bob = unique("bob")
    with live_server.http() as admin:
        r = admin.post("/api/v1/local/admin/keys", json={"user": bob})
    assert r.status_code == 201
    assert r.json()["scopes"] == sorted(DEFAULT_SCOPES) and "admin" not in r.json()["scopes"]
    with live_server.http(r.json()["key"]) as c:
        assert c.get("/api/v1/skins").status_code == 200
        assert c.get("/api/v1/activities").status_code == 200
        _forbidden(c.get("/api/v1/local/admin/keys"), "admin")
        _forbidden(c.get("/api/v1/local/admin/activities"), "admin")


def test_bob_cannot_mint_an_owner_key(live_server: Any) -> None:
    bob_key = live_server.make_key(user=unique("bob"))
    with live_server.http(bob_key) as c:
        for body in ({"user": "local"}, {"user": "local", "scopes": ["admin"]}, {}):
            _forbidden(c.post("/api/v1/local/admin/keys", json=body), "admin")
    # nothing was minted for the owner by bob: every owner key is the first-start one or made by tests
    with live_server.http() as admin:
        owners = [k for k in admin.get("/api/v1/local/admin/keys").json()["data"] if k["user"] == "local"]
    assert all(k["name"] != "bob" for k in owners)


def test_bob_cannot_revoke_the_owner_key(live_server: Any) -> None:
    bob_key = live_server.make_key(user=unique("bob"))
    owner_id = _owner_key_id(live_server)
    with live_server.http(bob_key) as c:
        _forbidden(c.delete(f"/api/v1/local/admin/keys/{owner_id}"), "admin")
    with live_server.http() as owner:
        assert owner.get("/api/v1/local/info").status_code == 200  # the owner still works


def test_bob_cannot_put_or_delete_an_npc(live_server: Any) -> None:
    bob_key = live_server.make_key(user=unique("bob"))
    doc = json.loads(NPC_DOC.read_text(encoding="utf-8"))
    with live_server.http(bob_key) as c:
        _forbidden(c.put("/api/v1/local/admin/npcs/abc123", json=doc), "admin")
        _forbidden(c.delete("/api/v1/local/admin/npcs/abc123"), "admin")


def test_every_local_admin_route_needs_admin(live_server: Any) -> None:
    bob_key = live_server.make_key(user=unique("bob"))
    checked = 0
    with live_server.http(bob_key) as c:
        for route in live_server.app.routes:
            meta = getattr(route, "phantom_meta", None)
            if meta is None or not meta.path.startswith("/api/v1/local/admin"):
                continue
            path = meta.path.replace("{id}", "x").replace("{persona_id}", "x")
            _forbidden(c.request(meta.method, path, json={}), "admin")
            checked += 1
    assert checked >= 12


def test_a_key_grants_only_scopes_it_holds(live_server: Any) -> None:
    ops = unique("ops")
    limited = live_server.make_key(user=ops, scopes=["admin", "skins"])  # admin minted it explicitly
    with live_server.http(limited) as c:
        r = c.post("/api/v1/local/admin/keys", json={"user": ops, "scopes": ["skins"]})
        assert r.status_code == 201 and r.json()["scopes"] == ["skins"]
        _forbidden(c.post("/api/v1/local/admin/keys", json={"user": ops, "scopes": ["chat:companion"]}),
                   "chat:companion")
        # a key without scopes would carry every non-admin scope: more than this key holds
        _forbidden(c.post("/api/v1/local/admin/keys", json={"user": ops}), "activities")
        # admin may be passed on, explicitly
        r = c.post("/api/v1/local/admin/keys", json={"user": unique("ops2"), "scopes": ["admin"]})
        assert r.status_code == 201 and r.json()["scopes"] == ["admin"]


def test_admin_is_granted_only_when_named(live_server: Any) -> None:
    with live_server.http() as admin:
        r = admin.post("/api/v1/local/admin/keys", json={"user": unique("ops"), "scopes": ["admin", "skins"]})
    assert r.status_code == 201 and r.json()["scopes"] == ["admin", "skins"]
    with live_server.http(r.json()["key"]) as c:
        assert c.get("/api/v1/local/admin/keys").status_code == 200
        _forbidden(c.get("/api/v1/activities"), "activities")


def test_owner_key_has_every_scope(live_server: Any) -> None:
    with live_server.http() as c:
        rows = c.get("/api/v1/local/admin/keys").json()["data"]
    owner = next(k for k in rows if live_server.api_key.startswith(k["prefix"]))
    assert owner["user"] == "local" and owner["scopes"] == sorted(SCOPES)


def test_migration_moves_star_keys_of_other_users_to_non_admin(tmp_path: Path) -> None:
    """An old database: '*' keys for the owner and for bob. After the upgrade bob loses admin only."""
    from phantom_cli.backend.auth import create_key
    from phantom_cli.backend.testing import LiveServer

    first = LiveServer(tmp_path)  # creates the database (every migration) and the owner key
    owner_key = first.api_key

    conn = first.db()
    try:
        bob_key, _ = create_key(conn, "bob", ["skins"], name="bob's")
        # rewind to the pre-migration state: core v1 stored "*" for keys minted without scopes
        conn.execute("UPDATE api_keys SET scopes = '[\"*\"]'")
        conn.execute("DELETE FROM schema_version WHERE area = 'core' AND version = 2")
        n_before = conn.execute("SELECT count(*) FROM api_keys").fetchone()[0]
    finally:
        conn.close()
    first.app.state.db.close()

    second = LiveServer(tmp_path).start()  # migrates on start-up
    try:
        assert second.api_key == owner_key  # no reset: the owner's key file still works
        conn = second.db()
        try:
            rows = {r["name"]: json.loads(r["scopes"]) for r in conn.execute("SELECT name, scopes FROM api_keys")}
            assert conn.execute("SELECT count(*) FROM api_keys").fetchone()[0] == n_before
        finally:
            conn.close()
        assert rows["bob's"] == sorted(DEFAULT_SCOPES)
        assert rows["local admin key"] == sorted(SCOPES)
        with second.http(bob_key) as c:
            assert c.get("/api/v1/skins").status_code == 200  # bob's key still works…
            _forbidden(c.get("/api/v1/local/admin/keys"), "admin")  # …without admin
        with second.http() as c:
            assert c.get("/api/v1/local/admin/keys").status_code == 200
    finally:
        second.stop()


def test_keys_list_shows_user_and_scopes(live_server: Any, phantom_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    carol = unique("carol")
    live_server.make_key(user=carol, scopes=["media", "skins"])
    monkeypatch.setenv("PHANTOM_BASE_URL", live_server.base_url)
    monkeypatch.setenv("PHANTOM_API_KEY", live_server.api_key)
    r = CliRunner().invoke(app, ["keys", "list"])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["ID", "USER", "PREFIX", "STATE", "SCOPES"]
    row = next(line for line in lines if carol in line)
    assert row.split()[-1] == "media,skins" and "active" in row
    owner = next(line for line in lines if " local " in line)
    assert "admin" in owner.split()[-1]
    r = CliRunner().invoke(app, ["keys", "list", "--json"])
    mine = [k for k in json.loads(r.stdout) if k["user"] == carol]
    assert mine and mine[0]["scopes"] == ["media", "skins"]


def test_cli_bob_gets_a_clear_403(live_server: Any, phantom_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bob_key = live_server.make_key(user=unique("bob"))
    monkeypatch.setenv("PHANTOM_BASE_URL", live_server.base_url)
    monkeypatch.setenv("PHANTOM_API_KEY", bob_key)
    r = CliRunner().invoke(app, ["keys", "create", "--user", "local"])
    assert r.exit_code != 0
    assert "admin" in r.output and "Traceback" not in r.output
