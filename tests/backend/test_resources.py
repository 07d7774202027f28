"""Every platform resource through a real server and the project's own client."""

from __future__ import annotations

import time

import pytest

from phantom_cli.client import errors as E
from phantom_cli.client import models as m

from .helpers import add_media, add_skin, error_of, unique, user_client

# --------------------------------------------------------------------------- activities


def _full_activity(category: str) -> dict:
    """Every field of seed 002's activity, with a distinct value."""
    data: dict = {}
    for name, info in m.Activity.model_fields.items():
        ann = str(info.annotation)
        if name == "id":
            continue
        if "list" in ann:
            data[name] = [f"{name}-1", f"{name}-2"]
        elif "bool" in ann:
            data[name] = True
        else:
            data[name] = f"value of {name}"
    data["category"] = category
    return data


def test_activity_every_field_round_trips(live_server) -> None:
    cat = unique("cat")
    fields = _full_activity(cat)
    aid = live_server.add_activity(**fields)
    with live_server.client() as c:
        got = c.activities.get(aid).model_dump()
        for k, v in fields.items():
            assert got[k] == v, k
        page = c.activities.list(category=cat)
        assert [a.id for a in page.data] == [aid]


def test_activities_published_only_and_filters(live_server) -> None:
    cat = unique("cat")
    a1 = live_server.add_activity(title="A1", category=cat, featured=True, is_companion=True)
    a2 = live_server.add_activity(title="A2", category=cat, featured=False, is_companion=False)
    hidden = live_server.add_activity(title="Hidden", category=cat, published=False)
    with live_server.client() as c:
        ids = [a.id for a in c.activities.list(category=cat).data]
        assert ids == [a2, a1]  # newest first, unpublished absent
        assert [a.id for a in c.activities.list(category=cat, featured=True).data] == [a1]
        assert [a.id for a in c.activities.list(category=cat, is_companion=False).data] == [a2]
        with pytest.raises(E.NotFoundError):
            c.activities.get(hidden)
        with pytest.raises(E.NotFoundError):
            c.activities.get("no-such-activity")


# --------------------------------------------------------------------------- instances


def test_instance_snapshot_ownership_and_access(live_server) -> None:
    cat = unique("cat")
    aid = live_server.add_activity(id=unique("act"), title="Luna", category=cat, personality="warm",
                                   first_message="Hi!", alternate_greetings=["Hey"], lorebook_ids=["lb1"])
    alice, _ = user_client(live_server)
    bob, _ = user_client(live_server)
    inst = alice.instances.create(aid, assigned_voice_id="voice-1")
    assert inst.status == "active" and inst.activity_id == aid
    assert inst.snapshot_title == "Luna" and inst.snapshot_personality == "warm"
    assert inst.snapshot_alternate_greetings == ["Hey"] and inst.snapshot_lorebook_ids == ["lb1"]
    # later edits of the activity do not change the snapshot
    live_server.add_activity(id=aid, title="Luna v2", category=cat, personality="cold")
    got = alice.instances.get(inst.id)
    assert got.snapshot_title == "Luna" and got.snapshot_personality == "warm"
    # GET bumps last_accessed_at
    time.sleep(0.002)
    again = alice.instances.get(inst.id)
    assert again.last_accessed_at > got.last_accessed_at >= inst.created_at
    # another user's instance is 404 everywhere
    with pytest.raises(E.NotFoundError):
        bob.instances.get(inst.id)
    with pytest.raises(E.NotFoundError):
        bob.instances.update(inst.id, status="archived")
    with pytest.raises(E.NotFoundError):
        bob.instances.messages.list(inst.id)
    with pytest.raises(E.NotFoundError):
        bob.instances.messages.create(inst.id, content="hi")
    assert bob.instances.list().data == []
    # PATCH voice, then archive; filters
    assert alice.instances.update(inst.id, assigned_voice_id="voice-2").assigned_voice_id == "voice-2"
    other = alice.instances.create(aid)
    assert alice.instances.archive(inst.id).status == "archived"
    assert [i.id for i in alice.instances.list(status="archived").data] == [inst.id]
    assert [i.id for i in alice.instances.list(status="active").data] == [other.id]
    assert {i.id for i in alice.instances.list(activity_id=aid).data} == {inst.id, other.id}
    assert alice.instances.list(activity_id="nope").data == []


def test_instance_of_unpublished_activity_is_404(live_server) -> None:
    hidden = live_server.add_activity(title="Hidden", published=False)
    c, _ = user_client(live_server)
    with pytest.raises(E.NotFoundError):
        c.instances.create(hidden)


# --------------------------------------------------------------------------- messages


def test_messages_crud_filters_and_archived(live_server) -> None:
    aid = live_server.add_activity(title="Chat")
    c, _ = user_client(live_server)
    inst = c.instances.create(aid)
    m1 = c.instances.messages.create(inst.id, content="hello", role="user", medium="text")
    # creating a message updates the instance's last_accessed_at (seed 002)
    assert c.instances.list().data[0].last_accessed_at == m1.created_at
    m2 = c.instances.messages.create(inst.id, content="a picture", role="assistant", medium="image")
    m3 = c.instances.messages.create(inst.id, content="note", role="system", medium="text")
    assert [x.id for x in c.instances.messages.list(inst.id).data] == [m3.id, m2.id, m1.id]
    assert [x.id for x in c.instances.messages.list(inst.id, role="assistant").data] == [m2.id]
    assert [x.id for x in c.instances.messages.list(inst.id, medium="text").data] == [m3.id, m1.id]
    assert c.instances.messages.get(inst.id, m1.id).content == "hello"
    assert c.instances.messages.update(inst.id, m1.id, content="hello!").content == "hello!"
    assert c.instances.messages.get(inst.id, m1.id).content == "hello!"
    with pytest.raises(E.NotFoundError):
        c.instances.messages.get(inst.id, "msg_nope")
    c.instances.archive(inst.id)
    with pytest.raises(E.ConflictError):
        c.instances.messages.create(inst.id, content="too late")
    with pytest.raises(E.ConflictError):
        "".join(c.instances.chat_stream(inst.id, "too late"))
    assert len(c.instances.messages.list(inst.id).data) == 3


def test_message_of_other_instance_is_404(live_server) -> None:
    aid = live_server.add_activity(title="Chat")
    c, _ = user_client(live_server)
    i1, i2 = c.instances.create(aid), c.instances.create(aid)
    msg = c.instances.messages.create(i1.id, content="hello")
    with pytest.raises(E.NotFoundError):
        c.instances.messages.get(i2.id, msg.id)


# --------------------------------------------------------------------------- personas


def test_personas_exactly_one_default(live_server) -> None:
    c, _ = user_client(live_server)
    other, _ = user_client(live_server)
    p1 = c.personas.create(name="One", gender="female", style_preference="anime")
    assert p1.is_default  # the first persona is the default
    p2 = c.personas.create(name="Two", is_default=True)
    p3 = c.personas.create(name="Three", description="d")
    defaults = [p.id for p in c.personas.list().data if p.is_default]
    assert defaults == [p2.id] and not p3.is_default
    assert c.personas.set_default(p3.id).is_default
    assert [p.id for p in c.personas.list().data if p.is_default] == [p3.id]
    upd = c.personas.update(p1.id, name="Uno", description="new")
    assert (upd.name, upd.description, upd.gender) == ("Uno", "new", "female")
    assert c.personas.get(p1.id).name == "Uno"
    with pytest.raises(E.NotFoundError):
        other.personas.get(p1.id)
    with pytest.raises(E.NotFoundError):
        other.personas.set_default(p1.id)
    assert other.personas.list().data == []


# --------------------------------------------------------------------------- skins


def test_skins_filters_and_get(live_server) -> None:
    # skins are written by content.upsert_skin (validated: gender is one of the enum), so the
    # shared server may hold other non-binary skins: look at ours among the filtered ones
    style, g = "anime", "non-binary"
    s1 = add_skin(live_server, name="S1", gender=g, style=style, cover_photo_url="http://x/1.png")
    s2 = add_skin(live_server, name="S2", gender=g, style="realistic")
    ours = {s1, s2}
    with live_server.client() as c:
        listed = list(c.skins.iter(gender=g))
        assert all(s.gender == g for s in listed)
        assert [s.id for s in listed if s.id in ours] == [s2, s1]
        anime = list(c.skins.iter(gender=g, style="anime"))
        assert all(s.style == "anime" for s in anime)
        assert [s.id for s in anime if s.id in ours] == [s1]
        got = c.skins.get(s1)
        assert (got.name, got.cover_photo_url) == ("S1", "http://x/1.png")
        with pytest.raises(E.NotFoundError):
            c.skins.get("skin_nope")


# --------------------------------------------------------------------------- media collection


def test_media_collection(live_server) -> None:
    name = unique("user")
    c, _ = user_client(live_server, user=name)
    other, _ = user_client(live_server)
    img, vid = add_media(live_server, "image"), add_media(live_server, "video")
    private = add_media(live_server, "image", owner=name)
    a = c.media.collection.add(img)
    assert (a.mediaId, a.mediaType, a.relationType, a.isFavorite) == (img, "image", "favorited", False)
    b = c.media.collection.add(vid, relation_type="unlocked")
    p = c.media.collection.add(private, relation_type="generated")
    with pytest.raises(E.ConflictError):
        c.media.collection.add(img)
    with pytest.raises(E.NotFoundError):
        c.media.collection.add("med_unknown")
    with pytest.raises(E.NotFoundError):
        other.media.collection.add(private)  # someone else's medium
    assert [x.id for x in c.media.collection.list().data] == [p.id, b.id, a.id]
    assert [x.id for x in c.media.collection.list(type="video").data] == [b.id]
    assert [x.id for x in c.media.collection.list(relation_type="generated").data] == [p.id]
    fav = c.media.collection.update(a.id, is_favorite=True)
    assert fav.isFavorite
    assert [x.id for x in c.media.collection.list(favorite=True).data] == [a.id]
    meta = c.media.collection.update(b.id, metadata={"note": "nice"})
    assert meta.metadata == {"note": "nice"} and not meta.isFavorite
    with pytest.raises(E.NotFoundError):
        other.media.collection.update(a.id, is_favorite=False)
    assert other.media.collection.list().data == []


# --------------------------------------------------------------------------- local


def test_local_info(live_server) -> None:
    c, _ = user_client(live_server, user="info-user")
    info = c.local.info()
    assert info.engine == "scripted" and info.user == "info-user" and info.backend == "local"


def test_openapi_document(live_server) -> None:
    with live_server.http() as c:
        doc = c.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    for path in ("/api/v1/activities", "/api/v1/activity-instances/{id}",
                 "/api/v1/activity-instances/{instance_id}/chat", "/api/v1/media/collection"):
        assert path in doc["paths"], path
    get = doc["paths"]["/api/v1/activities"]["get"]
    assert {p["name"] for p in get["parameters"]} >= {"limit", "cursor", "category", "featured", "is_companion"}
    assert "400" in get["responses"] and "401" in get["responses"]


def test_error_envelope_on_unknown_route_and_method(live_server) -> None:
    with live_server.http() as c:
        r = c.get("/api/v1/unknown")
        assert r.status_code == 404 and error_of(r)["code"] == "NOT_FOUND"
        r = c.delete("/api/v1/activities")
        assert r.status_code == 405 and error_of(r)["code"] == "METHOD_NOT_ALLOWED"
