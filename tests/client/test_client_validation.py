"""Each limit of models.py at and past its edge: the edge is sent, past it nothing is sent and
the error names the field and the limit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from phantom_cli.client import AsyncStream, InvalidInputError, Stream
from phantom_cli.client import models as m

from .client_helpers import ANY_JSON, resolve

USER = {"role": "user", "content": "hi"}


def chat_kwargs(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "chat_id": "c1",
        "persona": {"name": "Mira"},
        "messages": [USER],
    }
    base.update(over)
    return base


def persona(**fields: Any) -> dict[str, Any]:
    return {"name": "Mira", **fields}


Call = Callable[[Any], Any]


def companion(**over: Any) -> Call:
    return lambda c: c.companion.chat(**chat_kwargs(**over))


# (id, good call, bad call, field, message fragment)
EDGES: list[tuple[str, Call, Call, str, str]] = [
    ("chat_id max", companion(chat_id="a" * 128), companion(chat_id="a" * 129), "chat_id", "128"),
    (
        "chat_id pattern",
        companion(chat_id="a_b.c:d@e-f"),
        companion(chat_id="_leading"),
        "chat_id",
        "pattern",
    ),
    ("chat_id charset", companion(chat_id="9"), companion(chat_id="a b"), "chat_id", "pattern"),
    ("chat_id empty", companion(chat_id="x"), companion(chat_id=""), "chat_id", "empty"),
    (
        "messages min",
        companion(messages=[USER]),
        companion(messages=[]),
        "messages",
        "at least 1 item",
    ),
    (
        "messages max",
        companion(messages=[USER] * 100),
        companion(messages=[USER] * 101),
        "messages",
        "at most 100 items",
    ),
    (
        "last message from user",
        companion(messages=[{"role": "assistant", "content": "a"}, USER]),
        companion(messages=[USER, {"role": "assistant", "content": "a"}]),
        "messages",
        'last message must have role "user"',
    ),
    (
        "message role enum",
        companion(messages=[USER]),
        companion(messages=[{"role": "system", "content": "x"}]),
        "messages[0].role",
        "user",
    ),
    (
        "content max",
        companion(messages=[{"role": "user", "content": "x" * 16000}]),
        companion(messages=[{"role": "user", "content": "x" * 16001}]),
        "messages[0].content",
        "at most 16000 characters",
    ),
    (
        "content min",
        companion(messages=[{"role": "user", "content": "x"}]),
        companion(messages=[{"role": "user", "content": ""}]),
        "messages[0].content",
        "empty",
    ),
    (
        "temperature max",
        companion(temperature=2),
        companion(temperature=2.01),
        "temperature",
        "at most 2",
    ),
    (
        "temperature min",
        companion(temperature=0),
        companion(temperature=-0.1),
        "temperature",
        "at least 0",
    ),
    (
        "max_tokens max",
        companion(max_tokens=32000),
        companion(max_tokens=32001),
        "max_tokens",
        "at most 32000",
    ),
    (
        "max_tokens min",
        companion(max_tokens=1),
        companion(max_tokens=0),
        "max_tokens",
        "at least 1",
    ),
    (
        "model max",
        companion(model="m" * 200),
        companion(model="m" * 201),
        "model",
        "at most 200 characters",
    ),
    ("model min", companion(model="m"), companion(model=""), "model", "empty"),
    (
        "persona.name required",
        companion(persona={"name": "N"}),
        companion(persona={"bio": "b"}),
        "persona.name",
        "required",
    ),
]
for _field, (_lo, _hi, _req) in m.PERSONA_LIMITS.items():
    if _hi is None:
        continue
    EDGES.append(
        (
            f"persona.{_field} max",
            companion(persona=persona(**{_field: "x" * _hi})),
            companion(persona=persona(**{_field: "x" * (_hi + 1)})),
            f"persona.{_field}",
            f"at most {_hi} characters",
        )
    )

NPC: list[tuple[str, Call, Call, str, str]] = [
    (
        "player_gender enum",
        lambda c: c.npc.init_session(
            "p", user_session_id="u", player_name="A", player_gender="non-binary"
        ),
        lambda c: c.npc.init_session(
            "p", user_session_id="u", player_name="A", player_gender="other"
        ),
        "player_gender",
        "female",
    ),
    (
        "player_name max",
        lambda c: c.npc.init_session(
            "p", user_session_id="u", player_name="A" * 120, player_gender="male"
        ),
        lambda c: c.npc.init_session(
            "p", user_session_id="u", player_name="A" * 121, player_gender="male"
        ),
        "player_name",
        "at most 120 characters",
    ),
    (
        "user_session_id pattern",
        lambda c: c.npc.message("p", message="m", user_session_id="s" * 128),
        lambda c: c.npc.message("p", message="m", user_session_id="s" * 129),
        "user_session_id",
        "128",
    ),
    (
        "npc message max",
        lambda c: c.npc.message("p", message="m" * 16000, user_session_id="u"),
        lambda c: c.npc.message("p", message="m" * 16001, user_session_id="u"),
        "message",
        "at most 16000 characters",
    ),
    (
        "npc machine_id",
        lambda c: c.npc.history("p", user_session_id="u", machine_id="gate"),
        lambda c: c.npc.history("p", user_session_id="u", machine_id="bad id"),
        "machine_id",
        "pattern",
    ),
    (
        "persona_id path param",
        lambda c: c.npc.reset("p", user_session_id="u"),
        lambda c: c.npc.reset("", user_session_id="u"),
        "persona_id",
        "empty",
    ),
]

OTHER: list[tuple[str, Call, Call, str, str]] = [
    (
        "instance status enum",
        lambda c: c.instances.update("i", status="archived"),
        lambda c: c.instances.update("i", status="deleted"),
        "status",
        "active",
    ),
    (
        "instance update needs a field",
        lambda c: c.instances.update("i", assigned_voice_id="v"),
        lambda c: c.instances.update("i"),
        "assigned_voice_id or status",
        "at least one",
    ),
    (
        "message medium enum",
        lambda c: c.instances.messages.create("i", "x", medium="image"),
        lambda c: c.instances.messages.create("i", "x", medium="smell"),
        "medium",
        "text",
    ),
    (
        "message content max",
        lambda c: c.instances.messages.update("i", "m", "x" * 16000),
        lambda c: c.instances.messages.update("i", "m", "x" * 16001),
        "content",
        "at most 16000",
    ),
    (
        "instance chat content",
        lambda c: c.instances.chat_stream("i", "x"),
        lambda c: c.instances.chat_stream("i", ""),
        "content",
        "empty",
    ),
    (
        "persona name max",
        lambda c: c.personas.create(name="n" * 120),
        lambda c: c.personas.create(name="n" * 121),
        "name",
        "at most 120",
    ),
    (
        "persona style enum",
        lambda c: c.personas.create(name="n", style_preference="anime"),
        lambda c: c.personas.create(name="n", style_preference="oil"),
        "style_preference",
        "anime",
    ),
    (
        "persona description max",
        lambda c: c.personas.update("p", description="d" * 4000),
        lambda c: c.personas.update("p", description="d" * 4001),
        "description",
        "at most 4000",
    ),
    (
        "persona update needs a field",
        lambda c: c.personas.update("p", name="x"),
        lambda c: c.personas.update("p"),
        "name, gender, description or style_preference",
        "at least one",
    ),
    (
        "media type enum",
        lambda c: c.media.collection.list(type="video"),
        lambda c: c.media.collection.list(type="gif"),
        "type",
        "image",
    ),
    (
        "media relation enum",
        lambda c: c.media.collection.add("md", relation_type="unlocked"),
        lambda c: c.media.collection.add("md", relation_type="stolen"),
        "relationType",
        "favorited",
    ),
    (
        "media update needs a field",
        lambda c: c.media.collection.update("c", is_favorite=True),
        lambda c: c.media.collection.update("c"),
        "isFavorite or metadata",
        "at least one",
    ),
    (
        "generate seed max",
        lambda c: c.media.generate_image(skin_id="s", category="c", seed=2**32 - 1),
        lambda c: c.media.generate_image(skin_id="s", category="c", seed=2**32),
        "seed",
        "at most 4294967295",
    ),
    (
        "generate nsfw enum",
        lambda c: c.media.generate_image(skin_id="s", category="c", nsfw_level="explicit"),
        lambda c: c.media.generate_image(skin_id="s", category="c", nsfw_level="max"),
        "nsfw_level",
        "none",
    ),
    (
        "generate category required",
        lambda c: c.media.generate_video(skin_id="s", category="c"),
        lambda c: c.media.generate_video(skin_id="s"),
        "category",
        "required",
    ),
    (
        "first_frame_source enum",
        lambda c: c.media.generate_video(skin_id="s", category="c", first_frame_source="generate"),
        lambda c: c.media.generate_video(skin_id="s", category="c", first_frame_source="x"),
        "first_frame_source",
        "skin_reference",
    ),
    (
        "scratchpad needs companion_id",
        lambda c: c.scratchpad.get("comp"),
        lambda c: c.scratchpad.get(),
        "companion_id",
        "required",
    ),
    (
        "scratchpad needs conversation_id",
        lambda c: c.scratchpad.get(type="conversation", conversation_id="v"),
        lambda c: c.scratchpad.get(type="conversation"),
        "conversation_id",
        "required",
    ),
    (
        "scratchpad max_words",
        lambda c: c.scratchpad.get("comp", max_words=10000),
        lambda c: c.scratchpad.get("comp", max_words=10001),
        "max_words",
        "at most 10000",
    ),
    (
        "scratchpad content max",
        lambda c: c.scratchpad.update("x" * 64000, 1, "comp"),
        lambda c: c.scratchpad.update("x" * 64001, 1, "comp"),
        "content",
        "at most 64000",
    ),
    (
        "scratchpad version min",
        lambda c: c.scratchpad.update("x", 0, "comp"),
        lambda c: c.scratchpad.update("x", -1, "comp"),
        "version",
        "at least 0",
    ),
    (
        "page limit",
        lambda c: c.activities.list(limit=100),
        lambda c: c.activities.list(limit=101),
        "limit",
        "at most 100",
    ),
    (
        "page cursor",
        lambda c: c.activities.list(cursor="c" * 512),
        lambda c: c.activities.list(cursor="c" * 513),
        "cursor",
        "at most 512",
    ),
    (
        "activity category",
        lambda c: c.activities.list(category="c" * 100),
        lambda c: c.activities.list(category="c" * 101),
        "category",
        "at most 100",
    ),
    (
        "path id length",
        lambda c: c.skins.get("s" * 512),
        lambda c: c.skins.get("s" * 513),
        "id",
        "at most 512",
    ),
    (
        "path id type",
        lambda c: c.skins.get("s"),
        lambda c: c.skins.get(None),
        "id",
        "must be a string",
    ),
]

ALL = EDGES + NPC + OTHER


@pytest.mark.parametrize(("name", "good", "bad", "field", "fragment"), ALL, ids=[a[0] for a in ALL])
async def test_edge_accepted_and_past_edge_refused(
    anyc: Any, mock: respx.MockRouter, name: str, good: Call, bad: Call, field: str, fragment: str
) -> None:
    route = mock.route().mock(return_value=httpx.Response(200, json=ANY_JSON))
    with pytest.raises(InvalidInputError) as info:
        result = bad(anyc)
        if hasattr(result, "__await__"):
            await result
    assert route.call_count == 0, "nothing may be sent for invalid input"
    err = info.value
    assert field in err.fields, err.errors
    msg = dict(err.errors)[field]
    assert fragment in msg, msg
    assert field in str(err) and fragment in str(err)

    result = await resolve(good(anyc))  # at the edge: accepted
    if isinstance(result, Stream | AsyncStream):
        return  # validated on the call; the request goes out when iteration starts
    assert route.call_count == 1


async def test_model_instances_are_revalidated(anyc: Any, mock: respx.MockRouter) -> None:
    route = mock.route().mock(return_value=httpx.Response(200, json=ANY_JSON))
    sneaky = m.CompanionPersona.model_construct(name="x" * 500)  # bypasses validation
    with pytest.raises(InvalidInputError, match=r"persona\.name: at most 120 characters"):
        await resolve(anyc.companion.chat(chat_id="c", persona=sneaky, messages=[USER]))
    assert route.call_count == 0


async def test_errors_list_every_problem(anyc: Any) -> None:
    with pytest.raises(InvalidInputError) as info:
        await resolve(
            anyc.companion.chat(
                chat_id="bad id",
                persona={"name": ""},
                messages=[{"role": "user", "content": ""}],
                temperature=3,
            )
        )
    assert sorted(info.value.fields) == sorted(
        ["chat_id", "persona.name", "messages[0].content", "temperature"]
    )
    assert "input" not in str(info.value).lower().replace("invalid input", "")
