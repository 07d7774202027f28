from __future__ import annotations

import stat

import httpx


def test_health_and_auth(live_server) -> None:
    r = httpx.get(live_server.base_url + "/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    r = httpx.get(live_server.base_url + "/api/v1/activities")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "UNAUTHORIZED"


def test_unknown_route_envelope(live_server) -> None:
    with live_server.http() as c:
        r = c.get("/api/v1/nope")
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "NOT_FOUND"


def test_make_key_scopes(live_server) -> None:
    key = live_server.make_key(user="bob", scopes=["skins"])
    with live_server.http(key) as c:
        r = c.get("/api/v1/activities")
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "FORBIDDEN"
        assert c.get("/api/v1/local/info").json()["user"] == "bob"


def test_files_are_private(live_server) -> None:
    for p in (live_server.settings.db_path, live_server.settings.key_file):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
