"""Every endpoint of spec/api.md: method, path, query and body on the wire, for both clients."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import respx

from phantom_cli.client import models as m
from phantom_cli.client import paths

from .client_helpers import resolve

NOW = "2026-01-01T00:00:00Z"
PERSONA = {"name": "Mira", "bio": "a botanist"}
MSGS = [{"role": "user", "content": "hi"}]

ACTIVITY = {"id": "a1", "title": "Tea", "future_field": {"x": 1}}
INSTANCE = {"id": "i1", "activity_id": "a1", "status": "active", "created_at": NOW}
MESSAGE = {"id": "m1", "role": "user", "medium": "text", "content": "hi", "created_at": NOW}
PERSONA_OBJ = {"id": "p1", "name": "Sam", "created_at": NOW, "updated_at": NOW}
SKIN = {"id": "s1", "name": "Ink", "gender": "female", "style": "anime"}
MEDIA = {
    "id": "c1",
    "mediaId": "md1",
    "mediaType": "image",
    "relationType": "favorited",
    "isFavorite": True,
    "createdAt": NOW,
}
JOB = {
    "job_id": "j1",
    "generation_id": "g1",
    "status": "running",
    "kind": "image",
    "created_at": NOW,
    "updated_at": NOW,
}
NPC_INFO = {
    "id": "abc123",
    "name": "Merchant",
    "primary_machine": "m1",
    "persona": {"id": "abc123", "name": "Merchant", "primary_machine": "m1"},
    "machines": [
        {
            "id": "m1",
            "initial_state": "greeting",
            "opening": ["Hello"],
            "states": {"greeting": {}, "deal": {"terminal": True}},
            "player": {"unlocked": True, "state_path": ["greeting", "deal"]},
        }
    ],
}
SCRATCH = {"id": "sp1", "content": "notes", "version": 3, "type": "companion", "updated_at": NOW}
NPC_REPLY = {
    "message": "Halt!",
    "current_state": "gate",
    "score": 0.5,
    "session_id": "u1",
    "scoring_mode": "llm",
    "turn_id": "t9",
}


def page(item: dict[str, Any]) -> dict[str, Any]:
    return {"data": [item], "next_cursor": None, "has_more": False}


@dataclass
class Case:
    id: str
    call: Callable[[Any], Any]
    method: str
    path: str
    response: Any
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None
    status: int = 200
    result_type: type | None = None
    check: Callable[[Any], None] | None = None  # asserts on the parsed result
    match_path: str | None = None  # respx matches the decoded path


CASES = [
    Case(
        "companion.chat",
        lambda c: c.companion.chat(
            chat_id="chat-1",
            persona=PERSONA,
            messages=MSGS,
            model="m1",
            temperature=0.3,
            max_tokens=50,
            extract_memory=False,
        ),
        "POST",
        paths.COMPANION_CHAT,
        {"reply": "hello", "chat_id": "chat-1", "turn_id": "t1"},
        body={
            "chat_id": "chat-1",
            "persona": PERSONA,
            "messages": MSGS,
            "model": "m1",
            "temperature": 0.3,
            "max_tokens": 50,
            "extract_memory": False,
        },
        result_type=m.CompanionChatResponse,
        check=lambda r: _expect(r.reply == "hello" and r.model_extra == {"turn_id": "t1"}, r),
    ),
    Case(
        "companion.chat(model instance)",
        lambda c: c.companion.chat(
            m.CompanionChatRequest(
                chat_id="chat-2",
                persona=m.CompanionPersona(name="Mira"),
                messages=[m.ChatMessage(role="user", content="yo")],
            )
        ),
        "POST",
        paths.COMPANION_CHAT,
        {"reply": "hey", "chat_id": "chat-2"},
        body={
            "chat_id": "chat-2",
            "persona": {"name": "Mira"},
            "messages": [{"role": "user", "content": "yo"}],
        },
        result_type=m.CompanionChatResponse,
    ),
    Case(
        "npc.init_session",
        lambda c: c.npc.init_session(
            "abc123", user_session_id="u1", player_name="Ann", player_gender="female"
        ),
        "POST",
        "/api/v1/chat/abc123/init-session",
        {
            "message": "Who goes?",
            "session_id": "u1",
            "player_name": "Ann",
            "player_gender": "female",
            "machine_id": "gate",
        },
        body={"user_session_id": "u1", "player_name": "Ann", "player_gender": "female"},
        result_type=m.NpcInitResponse,
    ),
    Case(
        "npc.init_session(machine_id)",
        lambda c: c.npc.init_session(
            "abc123",
            user_session_id="u1",
            player_name="Ann",
            player_gender="non-binary",
            machine_id="m2",
        ),
        "POST",
        "/api/v1/chat/abc123/init-session",
        {
            "message": "Who goes?",
            "session_id": "u1",
            "player_name": "Ann",
            "player_gender": "non-binary",
            "machine_id": "m2",
        },
        query={"machine_id": "m2"},
        body={"user_session_id": "u1", "player_name": "Ann", "player_gender": "non-binary"},
        result_type=m.NpcInitResponse,
    ),
    Case(
        "npc.message",
        lambda c: c.npc.message("abc123", message="Let me in", user_session_id="u1"),
        "POST",
        "/api/v1/chat/abc123/message",
        NPC_REPLY,
        body={"message": "Let me in", "user_session_id": "u1"},
        result_type=m.NpcMessageResponse,
        check=lambda r: _expect(r.score == 0.5 and r.turn_id == "t9", r),
    ),
    Case(
        "npc.history",
        lambda c: c.npc.history("abc123", user_session_id="u1", machine_id="gate"),
        "GET",
        "/api/v1/chat/abc123/history",
        {
            "session_id": "u1",
            "machine_id": "gate",
            "messages": [{"role": "npc", "content": "Halt", "created_at": NOW, "state": "s"}],
        },
        query={"user_session_id": "u1", "machine_id": "gate"},
        result_type=m.NpcHistory,
        check=lambda r: _expect(r.messages[0].role == "npc", r),
    ),
    Case(
        "npc.reset",
        lambda c: c.npc.reset("abc123", user_session_id="u1"),
        "POST",
        "/api/v1/chat/abc123/reset",
        {"reset": True, "session_id": "u1"},
        query={"user_session_id": "u1"},
        result_type=m.NpcResetResponse,
    ),
    Case(
        "activities.list",
        lambda c: c.activities.list(
            limit=5, cursor="CUR", category="romance", featured=True, is_companion=False
        ),
        "GET",
        paths.ACTIVITIES,
        page(ACTIVITY),
        query={
            "limit": "5",
            "cursor": "CUR",
            "category": "romance",
            "featured": "true",
            "is_companion": "false",
        },
        result_type=m.Page,
        check=lambda r: _expect(r.data[0].model_extra == {"future_field": {"x": 1}}, r),
    ),
    Case(
        "activities.get",
        lambda c: c.activities.get("a1"),
        "GET",
        "/api/v1/activities/a1",
        ACTIVITY,
        result_type=m.Activity,
    ),
    Case(
        "instances.list",
        lambda c: c.instances.list(limit=2, status="active", activity_id="a1"),
        "GET",
        paths.INSTANCES,
        page(INSTANCE),
        query={"limit": "2", "status": "active", "activity_id": "a1"},
        result_type=m.Page,
    ),
    Case(
        "instances.create",
        lambda c: c.instances.create("a1", assigned_voice_id="v1"),
        "POST",
        paths.INSTANCES,
        INSTANCE,
        status=201,
        body={"activity_id": "a1", "assigned_voice_id": "v1"},
        result_type=m.ActivityInstance,
    ),
    Case(
        "instances.get",
        lambda c: c.instances.get("i1"),
        "GET",
        "/api/v1/activity-instances/i1",
        INSTANCE,
        result_type=m.ActivityInstance,
    ),
    Case(
        "instances.update",
        lambda c: c.instances.update("i1", assigned_voice_id="v2"),
        "PATCH",
        "/api/v1/activity-instances/i1",
        INSTANCE,
        body={"assigned_voice_id": "v2"},
        result_type=m.ActivityInstance,
    ),
    Case(
        "instances.archive",
        lambda c: c.instances.archive("i1"),
        "PATCH",
        "/api/v1/activity-instances/i1",
        {**INSTANCE, "status": "archived"},
        body={"status": "archived"},
        result_type=m.ActivityInstance,
        check=lambda r: _expect(r.status == "archived", r),
    ),
    Case(
        "instances.messages.list",
        lambda c: c.instances.messages.list("i1", limit=3, role="assistant", medium="text"),
        "GET",
        "/api/v1/activity-instances/i1/messages",
        page(MESSAGE),
        query={"limit": "3", "role": "assistant", "medium": "text"},
        result_type=m.Page,
    ),
    Case(
        "instances.messages.create",
        lambda c: c.instances.messages.create("i1", content="hello there"),
        "POST",
        "/api/v1/activity-instances/i1/messages",
        MESSAGE,
        status=201,
        body={"role": "user", "medium": "text", "content": "hello there"},
        result_type=m.Message,
    ),
    Case(
        "instances.messages.create(system/voice)",
        lambda c: c.instances.messages.create("i1", content="x", role="system", medium="voice"),
        "POST",
        "/api/v1/activity-instances/i1/messages",
        MESSAGE,
        status=201,
        body={"role": "system", "medium": "voice", "content": "x"},
        result_type=m.Message,
    ),
    Case(
        "instances.messages.get",
        lambda c: c.instances.messages.get("i1", "m1"),
        "GET",
        "/api/v1/activity-instances/i1/messages/m1",
        MESSAGE,
        result_type=m.Message,
    ),
    Case(
        "instances.messages.update",
        lambda c: c.instances.messages.update("i1", "m1", content="edited"),
        "PATCH",
        "/api/v1/activity-instances/i1/messages/m1",
        MESSAGE,
        body={"content": "edited"},
        result_type=m.Message,
    ),
    Case(
        "personas.list",
        lambda c: c.personas.list(),
        "GET",
        paths.PERSONAS,
        page(PERSONA_OBJ),
        result_type=m.Page,
    ),
    Case(
        "personas.list(bare list answer)",
        lambda c: c.personas.list(),
        "GET",
        paths.PERSONAS,
        [PERSONA_OBJ],
        result_type=m.Page,
        check=lambda r: _expect(r.data[0].id == "p1" and not r.has_more, r),
    ),
    Case(
        "personas.create",
        lambda c: c.personas.create(
            name="Sam",
            gender="male",
            description="tall",
            style_preference="realistic",
            is_default=True,
        ),
        "POST",
        paths.PERSONAS,
        PERSONA_OBJ,
        status=201,
        body={
            "name": "Sam",
            "gender": "male",
            "description": "tall",
            "style_preference": "realistic",
            "is_default": True,
        },
        result_type=m.Persona,
    ),
    Case(
        "personas.get",
        lambda c: c.personas.get("p1"),
        "GET",
        "/api/v1/personas/p1",
        PERSONA_OBJ,
        result_type=m.Persona,
    ),
    Case(
        "personas.update",
        lambda c: c.personas.update("p1", description="short"),
        "PATCH",
        "/api/v1/personas/p1",
        PERSONA_OBJ,
        body={"description": "short"},
        result_type=m.Persona,
    ),
    Case(
        "personas.set_default",
        lambda c: c.personas.set_default("p1"),
        "POST",
        "/api/v1/personas/p1/default",
        {**PERSONA_OBJ, "is_default": True},
        result_type=m.Persona,
    ),
    Case(
        "skins.list",
        lambda c: c.skins.list(gender="female", style="anime", limit=100),
        "GET",
        paths.SKINS,
        page(SKIN),
        query={"gender": "female", "style": "anime", "limit": "100"},
        result_type=m.Page,
    ),
    Case(
        "skins.get",
        lambda c: c.skins.get("s1"),
        "GET",
        "/api/v1/skins/s1",
        SKIN,
        result_type=m.Skin,
    ),
    Case(
        "media.collection.list",
        lambda c: c.media.collection.list(type="image", favorite=True, relation_type="generated"),
        "GET",
        paths.MEDIA_COLLECTION,
        page(MEDIA),
        query={"type": "image", "favorite": "true", "relationType": "generated"},
        result_type=m.Page,
        check=lambda r: _expect(r.data[0].mediaId == "md1", r),
    ),
    Case(
        "media.collection.add",
        lambda c: c.media.collection.add("md1"),
        "POST",
        paths.MEDIA_COLLECTION,
        MEDIA,
        status=201,
        body={"mediaId": "md1", "relationType": "favorited"},
        result_type=m.MediaItem,
    ),
    Case(
        "media.collection.update",
        lambda c: c.media.collection.update("c1", is_favorite=False, metadata={"k": "v"}),
        "PATCH",
        "/api/v1/media/collection/c1",
        MEDIA,
        body={"isFavorite": False, "metadata": {"k": "v"}},
        result_type=m.MediaItem,
    ),
    Case(
        "media.generate_image",
        lambda c: c.media.generate_image(
            skin_id="s1", category="portrait", seed=7, nsfw_level="none", generation_mode="llm"
        ),
        "POST",
        paths.GENERATE_IMAGE,
        {"job_id": "j1", "generation_id": "g1"},
        status=202,
        body={
            "skin_id": "s1",
            "category": "portrait",
            "seed": 7,
            "nsfw_level": "none",
            "generation_mode": "llm",
        },
        result_type=m.GenerateResponse,
    ),
    Case(
        "media.generate_video",
        lambda c: c.media.generate_video(
            skin_id="s1",
            category="scene",
            first_frame_source="skin_reference",
            reference_image_type="face",
            activity_instance_id="i1",
        ),
        "POST",
        paths.GENERATE_VIDEO,
        {"job_id": "j2", "generation_id": "g2"},
        status=202,
        body={
            "skin_id": "s1",
            "category": "scene",
            "first_frame_source": "skin_reference",
            "reference_image_type": "face",
            "activity_instance_id": "i1",
        },
        result_type=m.GenerateResponse,
    ),
    Case(
        "media.job",
        lambda c: c.media.job("j1"),
        "GET",
        "/api/v1/generate/jobs/j1",
        JOB,
        result_type=m.GenerationJob,
    ),
    Case(
        "scratchpad.get",
        lambda c: c.scratchpad.get("comp1", max_words=50, hint="recent"),
        "GET",
        paths.SCRATCHPAD,
        SCRATCH,
        query={"companion_id": "comp1", "type": "companion", "max_words": "50", "hint": "recent"},
        result_type=m.Scratchpad,
    ),
    Case(
        "scratchpad.get(conversation)",
        lambda c: c.scratchpad.get(type="conversation", conversation_id="conv1"),
        "GET",
        paths.SCRATCHPAD,
        {**SCRATCH, "type": "conversation"},
        query={"type": "conversation", "conversation_id": "conv1"},
        result_type=m.Scratchpad,
    ),
    Case(
        "scratchpad.update",
        lambda c: c.scratchpad.update(content="new notes", version=3, companion_id="comp1"),
        "PUT",
        paths.SCRATCHPAD,
        {**SCRATCH, "version": 4},
        query={"companion_id": "comp1", "type": "companion"},
        body={"content": "new notes", "version": 3},
        result_type=m.Scratchpad,
    ),
    Case(
        "scratchpad.update(empty content)",
        lambda c: c.scratchpad.update(content="", version=0, companion_id="comp1"),
        "PUT",
        paths.SCRATCHPAD,
        {**SCRATCH, "content": "", "version": 1},
        query={"companion_id": "comp1", "type": "companion"},
        body={"content": "", "version": 0},
        result_type=m.Scratchpad,
    ),
    Case(
        "local.info",
        lambda c: c.local.info(),
        "GET",
        paths.LOCAL_INFO,
        {"backend": "local", "version": "0.1.0", "engine": "scripted", "user": "local"},
        result_type=m.ServerInfo,
    ),
    Case(
        "local.prompt",
        lambda c: c.local.prompt("t1"),
        "GET",
        "/api/v1/local/prompts/t1",
        {"turn_id": "t1", "kind": "npc", "messages": [{"role": "system", "content": "You are…"}]},
        result_type=m.PromptTurn,
        check=lambda r: _expect(r.kind == "npc" and r.messages[0]["content"] == "You are…", r),
    ),
    Case(
        "local.npcs",
        lambda c: c.local.npcs(),
        "GET",
        paths.LOCAL_NPCS,
        {"data": [NPC_INFO]},
        result_type=m.NpcList,
        check=lambda r: _expect(
            r.data[0].id == "abc123"
            and r.data[0].machine().initial_state == "greeting"
            and r.data[0].machine().state_names == ["greeting", "deal"],
            r,
        ),
    ),
    Case(
        "local.npc (one persona, with the player's progress)",
        lambda c: c.local.npc("abc123", user_session_id="u1"),
        "GET",
        "/api/v1/local/npcs/abc123",
        NPC_INFO,
        query={"user_session_id": "u1"},
        result_type=m.NpcInfo,
        check=lambda r: _expect(r.machines[0].player.state_path == ["greeting", "deal"], r),
    ),
    Case(
        "local.npc_fork (a session forked at turn N)",
        lambda c: c.local.npc_fork("abc123", user_session_id="u1", new_user_session_id="u2", at=1),
        "POST",
        "/api/v1/local/npcs/abc123/fork",
        {
            "session_id": "sess_2",
            "user_session_id": "u2",
            "from_user_session_id": "u1",
            "machine_id": "machine_main",
            "at": 1,
            "source_turns": 3,
            "current_state": "deal",
            "score": 1,
            "state_path": ["greeting", "deal"],
        },
        status=201,
        body={"user_session_id": "u1", "new_user_session_id": "u2", "at": 1},
        result_type=m.NpcForkResponse,
        check=lambda r: _expect(r.user_session_id == "u2" and r.source_turns == 3, r),
    ),
    Case(
        "path parameters are percent-encoded",
        lambda c: c.instances.messages.get("i/1 x", "m?1#"),
        "GET",
        "/api/v1/activity-instances/i%2F1%20x/messages/m%3F1%23",
        MESSAGE,
        result_type=m.Message,
        match_path="/api/v1/activity-instances/i/1 x/messages/m?1#",
    ),
]


NPC_INFO = {
    "id": "abc123",
    "name": "Merchant",
    "primary_machine": "m1",
    "persona": {"id": "abc123", "name": "Merchant", "primary_machine": "m1"},
    "machines": [
        {
            "id": "m1",
            "initial_state": "greeting",
            "opening": ["Hello"],
            "states": {"greeting": {}, "deal": {"terminal": True}},
            "player": {"unlocked": True, "state_path": ["greeting", "deal"]},
        }
    ],
}


def _expect(ok: bool, r: Any) -> None:
    assert ok, f"unexpected result {r!r}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_endpoint_wire(anyc: Any, mock: respx.MockRouter, case: Case) -> None:
    route = mock.route(method=case.method, path=case.match_path or case.path).mock(
        return_value=httpx.Response(case.status, json=case.response)
    )
    result = await resolve(case.call(anyc))
    assert route.call_count == 1
    req = route.calls.last.request
    assert req.method == case.method
    assert req.url.raw_path.split(b"?")[0].decode() == case.path
    assert dict(req.url.params) == case.query
    if case.body is None:
        assert req.content == b""
    else:
        assert json.loads(req.content) == case.body
        assert req.headers["content-type"] == "application/json"
    assert req.headers["authorization"].startswith("Bearer ")
    assert req.headers["user-agent"].startswith("phantom-cli/")
    if case.result_type is not None:
        assert isinstance(result, case.result_type)
    if case.check is not None:
        case.check(result)


async def test_every_path_is_exercised() -> None:
    """The table above covers every path template of paths.py except HEALTH/admin."""
    templates = {
        v
        for k, v in vars(paths).items()
        if k.isupper() and isinstance(v, str) and v.startswith("/api") and k not in ("API", "LOCAL")
    }
    # admin endpoints and the extraction queue (phantom test) go through `request`;
    # instance chat: test_client_streams
    skip = {paths.LOCAL_ADMIN, paths.LOCAL_EXTRACTION_PENDING, paths.INSTANCE_CHAT}
    covered = {c.path for c in CASES}

    def matches(template: str) -> bool:
        import re

        rx = "^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(template)) + "$"
        return any(re.match(rx, p) for p in covered)

    missing = sorted(t for t in templates - skip if not matches(t))
    assert missing == []


async def test_request_model_instances_and_body_kwarg(anyc: Any, mock: respx.MockRouter) -> None:
    route = mock.post(paths.INSTANCES).mock(return_value=httpx.Response(201, json=INSTANCE))
    await resolve(anyc.instances.create(body=m.InstanceCreate(activity_id="a9")))
    assert json.loads(route.calls.last.request.content) == {"activity_id": "a9"}
    await resolve(anyc.instances.create(body={"activity_id": "a8"}, assigned_voice_id="v"))
    assert json.loads(route.calls.last.request.content) == {
        "activity_id": "a8",
        "assigned_voice_id": "v",
    }


async def test_raw_request_passthrough(anyc: Any, mock: respx.MockRouter) -> None:
    route = mock.get("/api/v1/skins").mock(return_value=httpx.Response(200, json=page(SKIN)))
    resp = await resolve(anyc.request("get", "/api/v1/skins", params={"limit": 1, "x": None}))
    assert isinstance(resp, httpx.Response)
    assert resp.json()["data"][0]["id"] == "s1"
    assert dict(route.calls.last.request.url.params) == {"limit": "1"}
    assert route.calls.last.request.headers["authorization"] == "Bearer sk-test-SECRET-0123456789"

    post = mock.post("/api/v1/local/admin/activities").mock(
        return_value=httpx.Response(
            400, json={"error": {"code": "INVALID_REQUEST", "message": "no"}}
        )
    )
    resp = await resolve(
        anyc.request("POST", "api/v1/local/admin/activities", json={"a": 1}, raise_for_status=False)
    )
    assert resp.status_code == 400
    assert json.loads(post.calls.last.request.content) == {"a": 1}


async def test_raw_request_refuses_other_hosts(anyc: Any, mock: respx.MockRouter) -> None:
    from phantom_cli.client import InvalidInputError

    with pytest.raises(InvalidInputError, match="path"):
        await resolve(anyc.request("GET", "https://evil.example/steal"))
    assert not mock.calls


async def test_media_wait_polls_until_done(anyc: Any, mock: respx.MockRouter, sleeps: Any) -> None:
    states = ["queued", "running", "succeeded"]
    mock.get("/api/v1/generate/jobs/j1").mock(
        side_effect=[httpx.Response(200, json={**JOB, "status": s}) for s in states]
    )
    seen: list[str] = []
    job = await resolve(
        anyc.media.wait("j1", poll_interval=0.25, on_update=lambda j: seen.append(j.status))
    )
    assert job.status == "succeeded"
    assert seen == states
    assert sleeps == [0.25, 0.25]


async def test_media_wait_times_out(anyc: Any, mock: respx.MockRouter, sleeps: Any) -> None:
    from phantom_cli.client import APITimeoutError

    mock.get("/api/v1/generate/jobs/j1").mock(return_value=httpx.Response(200, json=JOB))
    with pytest.raises(APITimeoutError, match="j1: still running after 1 s"):
        await resolve(anyc.media.wait("j1", poll_interval=0.5, timeout=1))
    assert sleeps == [0.5, 0.5]  # polled at 0, 0.5 and 1 s; a fourth poll would pass 1 s


async def test_media_wait_refuses_bad_input_before_polling(
    anyc: Any, mock: respx.MockRouter
) -> None:
    from phantom_cli.client import InvalidInputError

    route = mock.get(path__startswith="/api/v1/generate/jobs/").mock(
        return_value=httpx.Response(200, json=JOB)
    )
    for kwargs, name in (
        ({"job_id": ""}, "job_id"),
        ({"job_id": "j1", "poll_interval": 0}, "poll_interval"),
        ({"job_id": "j1", "timeout": -1}, "timeout"),
    ):
        with pytest.raises(InvalidInputError) as info:
            await resolve(anyc.media.wait(**kwargs))
        assert info.value.fields == [name]
    assert not route.calls


async def test_base_url_and_key_from_environment(
    monkeypatch: pytest.MonkeyPatch, mock: respx.MockRouter
) -> None:
    from phantom_cli.client import Phantom

    monkeypatch.setenv("PHANTOM_BASE_URL", "http://api.test/")
    monkeypatch.setenv("PHANTOM_API_KEY", "env-key")
    route = mock.get("/api/v1/skins/s1").mock(return_value=httpx.Response(200, json=SKIN))
    with Phantom() as c:
        assert c.base_url == "http://api.test"
        c.skins.get("s1")
    assert route.calls.last.request.headers["authorization"] == "Bearer env-key"


def test_default_timeouts() -> None:
    from phantom_cli.client import Phantom

    c = Phantom(base_url="http://api.test")
    assert c.timeout.connect == 5.0 and c.timeout.read == 60.0
    assert c._http.timeout.connect == 5.0 and c._http.timeout.read == 60.0
    c2 = Phantom(base_url="http://api.test", timeout=(2, 30))
    assert c2.timeout.connect == 2 and c2.timeout.read == 30
    c.close()
    c2.close()


async def test_raw_request_keeps_urls_in_the_query(anyc: Any, mock: respx.MockRouter) -> None:
    route = mock.get("/api/v1/skins").mock(return_value=httpx.Response(200, json=page(SKIN)))
    await resolve(anyc.request("GET", "/api/v1/skins?next=https://x.example/a"))
    assert route.calls.last.request.url.params["next"] == "https://x.example/a"
    full = await resolve(anyc.request("GET", "http://api.test/api/v1/skins"))
    assert full.status_code == 200
