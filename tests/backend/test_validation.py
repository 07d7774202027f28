"""Validation at each limit: 400 INVALID_REQUEST with loc naming the field (never 422)."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import error_of

LONG = "x" * 16001


@pytest.fixture(scope="module")
def inst(live_server) -> dict[str, str]:
    aid = live_server.add_activity(title="Validation")
    with live_server.http() as c:
        iid = c.post("/api/v1/activity-instances", json={"activity_id": aid}).json()["id"]
        pid = c.post("/api/v1/personas", json={"name": "P"}).json()["id"]
    return {"iid": iid, "aid": aid, "pid": pid}


# (method, path, query, body, expected loc or None for OK)
CASES: list[tuple[str, str, dict[str, Any] | None, Any, list[Any] | None]] = [
    ("GET", "/api/v1/activities", {"limit": "0"}, None, ["query", "limit"]),
    ("GET", "/api/v1/activities", {"limit": "101"}, None, ["query", "limit"]),
    ("GET", "/api/v1/activities", {"limit": "abc"}, None, ["query", "limit"]),
    ("GET", "/api/v1/activities", {"limit": "1"}, None, None),
    ("GET", "/api/v1/activities", {"limit": "100"}, None, None),
    ("GET", "/api/v1/activities", {"cursor": "not-a-cursor!"}, None, ["query", "cursor"]),
    ("GET", "/api/v1/activities", {"cursor": "A" * 513}, None, ["query", "cursor"]),
    ("GET", "/api/v1/activities", {"featured": "maybe"}, None, ["query", "featured"]),
    ("GET", "/api/v1/activities", {"category": "c" * 101}, None, ["query", "category"]),
    ("GET", "/api/v1/activity-instances", {"status": "deleted"}, None, ["query", "status"]),
    ("GET", "/api/v1/skins", {"gender": "g" * 41}, None, ["query", "gender"]),
    ("GET", "/api/v1/media/collection", {"type": "audio"}, None, ["query", "type"]),
    ("GET", "/api/v1/media/collection", {"relationType": "stolen"}, None, ["query", "relationType"]),
    ("POST", "/api/v1/personas", None, {"name": "n" * 120}, None),
    ("POST", "/api/v1/personas", None, {"name": "n" * 121}, ["body", "name"]),
    ("POST", "/api/v1/personas", None, {"name": ""}, ["body", "name"]),
    ("POST", "/api/v1/personas", None, {}, ["body", "name"]),
    ("POST", "/api/v1/personas", None, {"name": "a", "description": "d" * 4001}, ["body", "description"]),
    ("POST", "/api/v1/personas", None, {"name": "a", "gender": "robot"}, ["body", "gender"]),
    ("POST", "/api/v1/personas", None, {"name": "a", "style_preference": "cubist"}, ["body", "style_preference"]),
    ("PATCH", "/api/v1/personas/{pid}", None, {"name": "n" * 121}, ["body", "name"]),
    ("POST", "/api/v1/activity-instances", None, {"activity_id": "a" * 129}, ["body", "activity_id"]),
    ("POST", "/api/v1/activity-instances", None, {}, ["body", "activity_id"]),
    ("POST", "/api/v1/activity-instances", None, {"activity_id": "x", "assigned_voice_id": "v" * 129},
     ["body", "assigned_voice_id"]),
    ("PATCH", "/api/v1/activity-instances/{iid}", None, {}, ["body"]),
    ("PATCH", "/api/v1/activity-instances/{iid}", None, {"status": "deleted"}, ["body", "status"]),
    ("POST", "/api/v1/activity-instances/{iid}/messages", None, {"content": "c" * 16000}, None),
    ("POST", "/api/v1/activity-instances/{iid}/messages", None, {"content": LONG}, ["body", "content"]),
    ("POST", "/api/v1/activity-instances/{iid}/messages", None, {"content": ""}, ["body", "content"]),
    ("POST", "/api/v1/activity-instances/{iid}/messages", None, {"content": "x", "role": "god"}, ["body", "role"]),
    ("POST", "/api/v1/activity-instances/{iid}/messages", None, {"content": "x", "medium": "smell"}, ["body", "medium"]),
    ("POST", "/api/v1/activity-instances/{iid}/chat", None, {"content": LONG}, ["body", "content"]),
    ("POST", "/api/v1/activity-instances/{iid}/chat", None, {"content": "x", "skin_id": "s" * 129}, ["body", "skin_id"]),
    ("POST", "/api/v1/media/collection", None, {"mediaId": "m" * 129}, ["body", "mediaId"]),
    ("POST", "/api/v1/media/collection", None, {"mediaId": "m", "relationType": "stolen"}, ["body", "relationType"]),
    ("PATCH", "/api/v1/media/collection/whatever", None, {}, ["body"]),
    ("POST", "/api/v1/local/admin/keys", None, {"scopes": ["root"]}, ["body", "scopes"]),
    ("POST", "/api/v1/local/admin/keys", None, {"user": "bad user!"}, ["body", "user"]),
]


@pytest.mark.parametrize(("method", "path", "query", "body", "loc"), CASES)
def test_limits(live_server, inst, method, path, query, body, loc) -> None:
    with live_server.http() as c:
        r = c.request(method, path.format(**inst), params=query, json=body)
    if loc is None:
        assert r.status_code < 300, r.text
        return
    assert r.status_code == 400, r.text
    err = error_of(r)
    assert err["code"] == "INVALID_REQUEST"
    assert any(d["loc"][: len(loc)] == loc for d in err["details"]), err
    assert ".".join(map(str, loc)).replace("body.", "").replace("query.", "") in err["message"] or loc == ["body"]


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe", b'"text"'])
def test_malformed_bodies(live_server, raw: bytes) -> None:
    with live_server.http() as c:
        r = c.post("/api/v1/personas", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert error_of(r)["code"] == "INVALID_REQUEST"


def test_oversized_body(live_server) -> None:
    with live_server.http() as c:
        r = c.post("/api/v1/personas", content=b"{" + b" " * (16 * 1024 * 1024) + b"}",
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert error_of(r)["code"] == "PAYLOAD_TOO_LARGE"
