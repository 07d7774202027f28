"""Security: keys everywhere, ownership, scopes, loopback, file modes, no path from a request."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import httpx
import pytest

from phantom_cli.backend.auth import SCOPES
from phantom_cli.backend.server import is_loopback
from phantom_cli.backend.testing import LiveServer

from .helpers import add_media, error_of, unique, user_client

PUBLIC = {"/health"}
# generated media are fetched by image viewers through a signed URL (the signature is the
# capability; without a valid one the answer is 404, never the file)
SIGNED = {"/api/v1/local/media/{media_id}"}


def _routes(server: LiveServer) -> list[tuple[str, str, object]]:
    out = []
    for route in server.app.routes:
        path = getattr(route, "path", None)
        for method in sorted(getattr(route, "methods", None) or ()):
            if method == "HEAD" or path is None:
                continue
            out.append((method, path, getattr(route, "phantom_meta", None)))
    return out


def _concrete(path: str) -> str:
    return re.sub(r"{[^}]+}", "x1", path)


def test_every_route_but_health_needs_a_key(live_server) -> None:
    routes = _routes(live_server)
    assert len(routes) > 25
    bad_keys = [None, "Bearer ph_local_not-a-real-key", "Basic dXNlcjpwYXNz", "Bearer", "bearer x"]
    with httpx.Client(base_url=live_server.base_url, timeout=30) as c:
        for method, path, _ in routes:
            if path in PUBLIC or path in SIGNED:
                continue
            for auth in bad_keys:
                headers = {"Authorization": auth} if auth else {}
                r = c.request(method, _concrete(path), headers=headers, json={})
                assert r.status_code == 401, (method, path, auth, r.status_code)
                assert error_of(r)["code"] == "UNAUTHORIZED"
        assert c.get("/health").status_code == 200
        for path in SIGNED:
            r = c.get(_concrete(path), params={"sig": "forged"})
            assert r.status_code == 404 and error_of(r)["code"] == "NOT_FOUND"


def test_revoked_key_is_refused(live_server) -> None:
    key = live_server.make_key(user=unique("rev"), scopes=None)
    with live_server.http() as admin:
        kid = [k for k in admin.get("/api/v1/local/admin/keys").json()["data"]
               if key.startswith(k["prefix"])][-1]["id"]
        with live_server.http(key) as c:
            assert c.get("/api/v1/local/info").status_code == 200
            assert admin.delete(f"/api/v1/local/admin/keys/{kid}").status_code == 200
            assert c.get("/api/v1/local/info").status_code == 401


def test_key_without_scope_is_403_on_every_scoped_route(live_server) -> None:
    keys = {scope: live_server.make_key(user=unique("scoped"), scopes=[scope]) for scope in SCOPES}
    checked = 0
    with httpx.Client(base_url=live_server.base_url, timeout=30) as c:
        for method, path, meta in _routes(live_server):
            scope = getattr(meta, "scope", None)
            if meta is None or scope is None or getattr(meta, "public", False):
                continue
            other = next(s for s in SCOPES if s != scope and s != "admin")
            r = c.request(method, _concrete(path), headers={"Authorization": f"Bearer {keys[other]}"}, json={})
            assert r.status_code == 403, (method, path, scope, r.status_code)
            assert error_of(r)["code"] == "FORBIDDEN" and scope in error_of(r)["message"]
            checked += 1
            # the right scope passes the scope check (whatever the handler then says)
            r = c.request(method, _concrete(path), headers={"Authorization": f"Bearer {keys[scope]}"}, json={})
            if (method, path) == ("POST", "/api/v1/local/admin/keys") and r.status_code == 403:
                # past the scope check, the grant check: an admin-only key cannot mint a key with
                # the default (every non-admin) scopes it lacks (issue 13)
                assert f"'{scope}'" not in error_of(r)["message"], error_of(r)
                continue
            assert r.status_code not in (401, 403), (method, path, r.status_code)
    assert checked > 20


def test_other_users_data_is_404(live_server) -> None:
    owner_name = unique("owner")
    a, _ = user_client(live_server, user=owner_name)
    b, bkey = user_client(live_server)
    aid = live_server.add_activity(title="Private")
    inst = a.instances.create(aid)
    msg = a.instances.messages.create(inst.id, content="secret")
    per = a.personas.create(name="Mine")
    item = a.media.collection.add(add_media(live_server))
    probes = [
        ("GET", f"/api/v1/activity-instances/{inst.id}", None),
        ("PATCH", f"/api/v1/activity-instances/{inst.id}", {"status": "archived"}),
        ("GET", f"/api/v1/activity-instances/{inst.id}/messages", None),
        ("POST", f"/api/v1/activity-instances/{inst.id}/messages", {"content": "x"}),
        ("GET", f"/api/v1/activity-instances/{inst.id}/messages/{msg.id}", None),
        ("PATCH", f"/api/v1/activity-instances/{inst.id}/messages/{msg.id}", {"content": "x"}),
        ("POST", f"/api/v1/activity-instances/{inst.id}/chat", {"content": "x"}),
        ("GET", f"/api/v1/personas/{per.id}", None),
        ("PATCH", f"/api/v1/personas/{per.id}", {"name": "x"}),
        ("POST", f"/api/v1/personas/{per.id}/default", None),
        ("PATCH", f"/api/v1/media/collection/{item.id}", {"isFavorite": True}),
    ]
    with live_server.http(bkey) as c:
        for method, path, body in probes:
            r = c.request(method, path, json=body)
            assert r.status_code == 404, (method, path, r.status_code)
            assert error_of(r)["code"] == "NOT_FOUND"
    # nothing changed for the owner
    assert a.instances.get(inst.id).status == "active"
    assert a.instances.messages.get(inst.id, msg.id).content == "secret"
    assert [m.id for m in a.instances.messages.list(inst.id).data] == [msg.id]
    assert a.personas.get(per.id).name == "Mine"
    assert not a.media.collection.list().data[0].isFavorite


def test_loopback_detection() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.com"):
        assert not is_loopback(host), host


def test_remote_bind_needs_flag() -> None:
    from typer.testing import CliRunner

    from phantom_cli.cli.main import app

    for host in ("0.0.0.0", "192.168.1.10", "::"):
        r = CliRunner().invoke(app, ["serve", "--host", host, "--port", "0"])
        assert r.exit_code == 2 and "--allow-remote" in r.output, host


def test_files_are_0600(tmp_path: Path) -> None:
    from phantom_cli.backend import runtime

    s = LiveServer(tmp_path / "srv")
    try:
        for p in (s.settings.db_path, s.settings.key_file):
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    finally:
        s.app.state.db.close()
    rt = runtime.write_runtime(runtime.runtime_info("127.0.0.1", 1), tmp_path / "server.json")
    assert stat.S_IMODE(rt.stat().st_mode) == 0o600


@pytest.mark.parametrize("evil", [
    "..%2F..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "..%5C..%5Cwindows", "%00", "....%2F%2F",
    "file%3A%2F%2F%2Fetc%2Fpasswd",
])
def test_no_request_path_reaches_the_filesystem(live_server, evil: str) -> None:
    """Path parameters are ids looked up in the database, never file names."""
    with live_server.http() as c:
        for path in ("/api/v1/skins/{}", "/api/v1/activities/{}", "/api/v1/personas/{}",
                     "/api/v1/activity-instances/{}", "/api/v1/generate/jobs/{}",
                     "/api/v1/local/media/{}"):
            r = c.get(path.format(evil))
            assert r.status_code in (400, 404), (path, r.status_code)
            assert "root:" not in r.text
            error_of(r)
        r = c.post("/api/v1/media/collection", json={"mediaId": "../../../etc/passwd"})
        assert r.status_code in (400, 404)
        assert "root:" not in r.text


def test_500_never_leaks_a_traceback(fresh_server, monkeypatch) -> None:
    from .helpers import add_skin

    sid = add_skin(fresh_server, name="Boom")

    def boom(row):
        raise RuntimeError("secret internals /etc/shadow")

    monkeypatch.setattr("phantom_cli.backend.routes.skins.skin_wire", boom)
    with fresh_server.http() as c:
        r = c.get(f"/api/v1/skins/{sid}")
    assert r.status_code == 500
    err = error_of(r)
    assert err["code"] == "INTERNAL_ERROR"
    assert "Traceback" not in r.text and "secret internals" not in r.text
