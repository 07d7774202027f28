"""Property tests (hypothesis) of every client request model against the seed limits.

The limits below are transcribed from the seeds and spec/api.md independently of models.py
("(decided)" where spec/api.md or models.py decided them). For each model:

- everything valid is accepted and goes on the wire unchanged (one request);
- everything invalid (one field pushed past a limit, a required field left out, a value
  outside its enum, a broken pattern) is refused before anything is sent, and the error
  names the field.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phantom_cli.client import InvalidInputError, Phantom, Stream
from phantom_cli.client import models as m

from .client_helpers import ANY_JSON, BASE, KEY

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)

ID_RE = r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}"  # seed 000 chat_id; (decided) session ids too


# --------------------------------------------------------------------------- field specs


@dataclass(frozen=True)
class Str:
    hi: int
    lo: int = 0
    required: bool = False
    pattern: bool = False  # the id pattern of seed 000
    blank_ok: bool = True  # (decided) False: a name, refused when only whitespace


@dataclass(frozen=True)
class Int:
    lo: int
    hi: int | None  # None: no upper limit
    required: bool = False


@dataclass(frozen=True)
class Num:
    lo: float
    hi: float


@dataclass(frozen=True)
class Enum:
    values: tuple[str, ...]
    required: bool = False


@dataclass(frozen=True)
class Bool:
    pass


@dataclass(frozen=True)
class Obj:
    pass


Spec = Str | Int | Num | Enum | Bool | Obj

PERSONA_FIELDS: dict[str, Spec] = {  # seed 000 "persona"
    "name": Str(120, 1, required=True, blank_ok=False),
    "nickname": Str(120),
    "gender": Str(200),
    "date_of_birth": Str(200),
    "language": Str(200),
    "lives_in_country": Str(200),
    "lives_in_city": Str(200),
    "comes_from_country": Str(200),
    "comes_from_city": Str(200),
    "living_situation": Str(2000),
    "daily_routine": Str(2000),
    "goals": Str(2000),
    "bio": Str(4000),
    "boundaries": Str(2000),
    "chat_style": Str(80),
    "custom_instructions": Str(8000),
}
PAGE = {"limit": Int(1, 100), "cursor": Str(512)}  # (decided) limit 1–100, cursor ≤ 512

USER = {"role": "user", "content": "hi"}
PERSONA_OK = {"name": "Mira"}


@dataclass(frozen=True)
class ModelCase:
    model: type[m.RequestModel]
    fields: dict[str, Spec]
    send: Callable[[Phantom, dict[str, Any]], Any]
    prefix: str = ""  # where the model sits in the request (persona., messages[0].)
    where: str = "body"  # "body" | "query" | "nested"
    at_least_one: bool = False


def _kw(names: dict[str, str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda d: {names.get(k, k): v for k, v in d.items()}


_media_q = _kw({"relationType": "relation_type"})

CASES: list[ModelCase] = [
    ModelCase(m.PageQuery, PAGE, lambda c, d: c.personas.list(**d), where="query"),
    ModelCase(
        m.CompanionPersona,
        PERSONA_FIELDS,
        lambda c, d: c.companion.chat(chat_id="c1", persona=d, messages=[USER]),
        prefix="persona.",
        where="nested",
    ),
    ModelCase(
        m.ChatMessage,
        {
            "role": Enum(("user", "assistant"), required=True),
            "content": Str(16000, 1, required=True),
        },
        lambda c, d: c.companion.chat(chat_id="c1", persona=PERSONA_OK, messages=[d, USER]),
        prefix="messages[0].",
        where="nested",
    ),
    ModelCase(
        m.CompanionChatRequest,
        {
            "chat_id": Str(128, 1, required=True, pattern=True),
            "model": Str(200, 1),
            "temperature": Num(0, 2),
            "max_tokens": Int(1, 32000),
            "extract_memory": Bool(),
        },
        lambda c, d: c.companion.chat({"persona": PERSONA_OK, "messages": [USER], **d}),
    ),
    ModelCase(
        m.NpcMachineQuery,
        {"machine_id": Str(128, 1, pattern=True)},
        lambda c, d: c.npc.init_session(
            "p", user_session_id="u", player_name="A", player_gender="male", **d
        ),
        where="query",
    ),
    ModelCase(
        m.NpcSessionQuery,
        {
            "user_session_id": Str(128, 1, required=True, pattern=True),
            "machine_id": Str(128, 1, pattern=True),
        },
        lambda c, d: c.npc.history("p", **d),
        where="query",
    ),
    ModelCase(
        m.NpcListQuery,
        {"user_session_id": Str(128, 1, pattern=True)},
        lambda c, d: c.local.npcs(**d),
        where="query",
    ),
    ModelCase(
        m.NpcInitRequest,
        {
            "user_session_id": Str(128, 1, required=True, pattern=True),
            "player_name": Str(120, 1, required=True, blank_ok=False),  # (decided) 120
            "player_gender": Enum(("female", "male", "non-binary"), required=True),
        },
        lambda c, d: c.npc.init_session("p", body=d),
    ),
    ModelCase(
        m.NpcMessageRequest,
        {
            "message": Str(16000, 1, required=True),
            "user_session_id": Str(128, 1, required=True, pattern=True),
        },
        lambda c, d: c.npc.message("p", body=d),
    ),
    ModelCase(
        m.ScratchpadUpdate,
        {"content": Str(64000, required=True), "version": Int(0, None, required=True)},
        lambda c, d: c.scratchpad.update(companion_id="comp", body=d),
    ),
    ModelCase(
        m.SkinQuery,
        {  # (decided) the skins' genders are the players'; styles as personas'
            **PAGE,
            "gender": Enum(("female", "male", "non-binary")),
            "style": Enum(("anime", "realistic")),
        },
        lambda c, d: c.skins.list(**d),
        where="query",
    ),
    ModelCase(
        m.MediaQuery,
        {
            **PAGE,
            "type": Enum(("image", "video", "other")),
            "favorite": Bool(),
            "relationType": Enum(("generated", "favorited", "uploaded", "unlocked")),
        },
        lambda c, d: c.media.collection.list(**_media_q(d)),
        where="query",
    ),
    ModelCase(
        m.MediaAdd,
        {
            "mediaId": Str(128, 1, required=True),
            "relationType": Enum(("generated", "favorited", "uploaded", "unlocked")),
        },
        lambda c, d: c.media.collection.add(body=d),
    ),
    ModelCase(
        m.MediaUpdate,
        {"isFavorite": Bool(), "metadata": Obj()},
        lambda c, d: c.media.collection.update("c1", body=d),
        at_least_one=True,
    ),
    ModelCase(
        m.GenerateImageRequest,
        {
            "skin_id": Str(128, 1, required=True),
            "category": Str(100, 1, required=True),
            "seed": Int(0, 2**32 - 1),
            "user_id": Str(128),
            "activity_instance_id": Str(128),
            "activity_id": Str(128),
            "generation_mode": Enum(("llm",)),
            "nsfw_level": Enum(("none", "suggestive", "explicit")),
        },
        lambda c, d: c.media.generate_image(body=d),
    ),
    ModelCase(
        m.GenerateVideoRequest,
        {
            "skin_id": Str(128, 1, required=True),
            "category": Str(100, 1, required=True),
            "seed": Int(0, 2**32 - 1),
            "first_frame_source": Enum(("generate", "skin_reference")),
            "reference_image_type": Str(100),
            "nsfw_level": Enum(("none", "suggestive", "explicit")),
        },
        lambda c, d: c.media.generate_video(body=d),
    ),
    ModelCase(
        m.ActivityQuery,
        {**PAGE, "category": Str(100), "featured": Bool(), "is_companion": Bool()},
        lambda c, d: c.activities.list(**d),
        where="query",
    ),
    ModelCase(
        m.InstanceQuery,
        {**PAGE, "status": Enum(("active", "archived")), "activity_id": Str(128)},
        lambda c, d: c.instances.list(**d),
        where="query",
    ),
    ModelCase(
        m.InstanceCreate,
        {"activity_id": Str(128, 1, required=True), "assigned_voice_id": Str(128)},
        lambda c, d: c.instances.create(body=d),
    ),
    ModelCase(
        m.InstanceUpdate,
        {"assigned_voice_id": Str(128), "status": Enum(("active", "archived"))},
        lambda c, d: c.instances.update("i1", body=d),
        at_least_one=True,
    ),
    ModelCase(
        m.MessageQuery,
        {
            **PAGE,
            "role": Enum(("user", "assistant", "system")),
            "medium": Enum(("text", "voice", "image", "video")),
        },
        lambda c, d: c.instances.messages.list("i1", **d),
        where="query",
    ),
    ModelCase(
        m.MessageCreate,
        {
            "role": Enum(("user", "assistant", "system")),
            "medium": Enum(("text", "voice", "image", "video")),
            "content": Str(16000, 1, required=True),
        },
        lambda c, d: c.instances.messages.create("i1", body=d),
    ),
    ModelCase(
        m.MessageUpdate,
        {"content": Str(16000, 1, required=True)},
        lambda c, d: c.instances.messages.update("i1", "m1", body=d),
    ),
    ModelCase(
        m.InstanceChatRequest,
        {
            "content": Str(16000, 1, required=True),
            "medium": Enum(("text", "voice", "image", "video")),
            "skin_id": Str(128),
        },
        lambda c, d: c.instances.chat_stream("i1", body=d),
    ),
    ModelCase(
        m.NpcForkRequest,  # (decided) local extension, issue 19 (forks)
        {
            "user_session_id": Str(128, 1, required=True, pattern=True),
            "new_user_session_id": Str(128, 1, required=True, pattern=True),
            "at": Int(0, 100000, required=True),
            "machine_id": Str(128, 1, pattern=True),
        },
        lambda c, d: c.local.npc_fork(
            "p", **{"user_session_id": None, "new_user_session_id": None, "at": None, **d}
        ),
    ),
    ModelCase(
        m.PersonaCreate,
        {
            "name": Str(120, 1, required=True, blank_ok=False),
            "gender": Enum(("female", "male", "non-binary")),
            "description": Str(4000),
            "style_preference": Enum(("anime", "realistic")),
            "is_default": Bool(),
        },
        lambda c, d: c.personas.create(body=d),
    ),
    ModelCase(
        m.PersonaUpdate,
        {
            "name": Str(120, 1, blank_ok=False),
            "gender": Enum(("female", "male", "non-binary")),
            "description": Str(4000),
            "style_preference": Enum(("anime", "realistic")),
        },
        lambda c, d: c.personas.update("p1", body=d),
        at_least_one=True,
    ),
]
# ScratchpadQuery / ScratchpadGetQuery have a cross-field rule (type ↔ id): own tests below.
CROSS_FIELD = {m.ScratchpadQuery, m.ScratchpadGetQuery}
IDS = [c.model.__name__ for c in CASES]


# --------------------------------------------------------------------------- strategies

CHARS = st.characters(codec="utf-8", exclude_categories=("Cs",))


def text_of_length(lo: int, hi: int) -> st.SearchStrategy[str]:
    """Strings of lo..hi characters, biased to the edges; long ones cheaply built."""
    lengths = st.one_of(
        st.sampled_from(sorted({lo, hi, min(lo + 1, hi), max(hi - 1, lo)})), st.integers(lo, hi)
    )
    short = st.text(CHARS, min_size=lo, max_size=min(hi, 30))
    built = st.builds(lambda n, ch: ch * n, lengths, CHARS)
    return st.one_of(short, built) if hi >= lo else st.nothing()


def id_string(lo: int, hi: int) -> st.SearchStrategy[str]:
    return st.from_regex(ID_RE, fullmatch=True).filter(lambda s: lo <= len(s) <= hi)


def valid_value(spec: Spec) -> st.SearchStrategy[Any]:
    if isinstance(spec, Str):
        if spec.pattern:
            return id_string(spec.lo, spec.hi)
        text = text_of_length(spec.lo, spec.hi)
        return text if spec.blank_ok else text.map(lambda t: t if t.strip() else "x" + t[1:])
    if isinstance(spec, Int):
        edges = [spec.lo] if spec.hi is None else [spec.lo, spec.hi]
        return st.one_of(st.sampled_from(edges), st.integers(spec.lo, spec.hi))
    if isinstance(spec, Num):
        return st.one_of(
            st.sampled_from([spec.lo, spec.hi]),
            st.floats(spec.lo, spec.hi, allow_nan=False, allow_infinity=False),
        )
    if isinstance(spec, Enum):
        return st.sampled_from(spec.values)
    if isinstance(spec, Bool):
        return st.booleans()
    return st.dictionaries(
        st.text(string.ascii_letters, min_size=1, max_size=8), st.integers(), max_size=3
    )


def is_required(spec: Spec) -> bool:
    return bool(getattr(spec, "required", False))


@st.composite
def valid_data(draw: st.DrawFn, case: ModelCase) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, spec in case.fields.items():
        if is_required(spec) or draw(st.booleans()):
            data[name] = draw(valid_value(spec))
    if case.at_least_one and not data:
        name = draw(st.sampled_from(sorted(case.fields)))
        data[name] = draw(valid_value(case.fields[name]))
    return data


BAD_ID_CHARS = " /#?é\t\n\\\"'<>%&+,;=[]{}|^`~!$*()"


def invalid_value(spec: Spec) -> st.SearchStrategy[Any] | None:
    """Values refused for this field (None: there are none)."""
    if isinstance(spec, Str):
        options = [st.builds(lambda n, ch: ch * n, st.integers(spec.hi + 1, spec.hi + 40), CHARS)]
        if spec.lo >= 1:
            options.append(st.just(""))
        if not spec.blank_ok:
            options.append(st.sampled_from([" ", " \t ", "\n", "\u3000"]))
        if spec.pattern:
            options.append(
                st.builds(
                    lambda s, i, ch: s[:i] + ch + s[i:],
                    id_string(1, spec.hi - 1),
                    st.integers(1, 127),
                    st.sampled_from(BAD_ID_CHARS),
                )
            )
            options.append(
                st.builds(lambda ch, s: ch + s, st.sampled_from("_.:@-"), id_string(1, spec.hi - 1))
            )
        return st.one_of(options)
    if isinstance(spec, Int):
        options = [st.integers(max_value=spec.lo - 1), st.just(spec.lo - 1)]
        if spec.hi is not None:
            options += [st.integers(min_value=spec.hi + 1), st.just(spec.hi + 1)]
        return st.one_of(options)
    if isinstance(spec, Num):
        return st.one_of(
            st.floats(max_value=spec.lo, exclude_max=True, allow_nan=False),
            st.floats(min_value=spec.hi, exclude_min=True, allow_nan=False),
            st.just(float("nan")),
        )
    if isinstance(spec, Enum):
        return st.text(CHARS, max_size=20).filter(lambda s: s not in spec.values)
    if isinstance(spec, Bool):  # not a boolean, not one pydantic's lax mode reads as one
        return st.sampled_from(["maybe", "2", 2, -1, 0.5, [True], {"a": 1}])
    return st.sampled_from(["text", 5, [1, 2], True])  # Obj: not a JSON object


@st.composite
def invalid_data(draw: st.DrawFn, case: ModelCase) -> tuple[dict[str, Any], str]:
    """A valid object with one field broken (or a required one dropped); the field's name."""
    data = draw(valid_data(case))
    breakable = {n: s for n, s in case.fields.items() if invalid_value(s) is not None}
    required = [n for n, s in case.fields.items() if is_required(s)]
    choices = [("bad", n) for n in sorted(breakable)] + [("drop", n) for n in required]
    how, name = draw(st.sampled_from(choices))
    if how == "drop":
        data.pop(name, None)
    else:
        strategy = invalid_value(breakable[name])
        assert strategy is not None
        data[name] = draw(strategy)
    return data, name


# --------------------------------------------------------------------------- the tests


@dataclass
class Wire:
    """One client and one respx router for the whole module (a router per example costs
    ~15 ms); ``fresh()`` forgets the previous example's calls."""

    client: Phantom
    router: respx.MockRouter
    route: respx.Route

    def fresh(self) -> respx.Route:
        self.router.reset()
        return self.route


@pytest.fixture(scope="module")
def wire() -> Iterator[Wire]:
    with (
        Phantom(base_url=BASE, api_key=KEY, max_retries=0) as c,
        respx.mock(base_url=BASE, assert_all_called=False) as router,
    ):
        route = router.route().mock(return_value=httpx.Response(200, json=ANY_JSON))
        yield Wire(c, router, route)


def send(wire: Wire, case: ModelCase, data: dict[str, Any]) -> respx.Route:
    route = wire.fresh()
    result = case.send(wire.client, data)
    if isinstance(result, Stream):
        list(result)
    return route


def wire_value(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def on_the_wire(case: ModelCase, request: httpx.Request) -> dict[str, Any]:
    if case.where == "query":
        return dict(request.url.params)
    body = json.loads(request.content)
    if case.prefix == "persona.":
        return body["persona"]
    if case.prefix == "messages[0].":
        return body["messages"][0]
    return body


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_valid_is_accepted_unchanged(wire: Wire, case: ModelCase) -> None:
    @SETTINGS
    @given(data=valid_data(case))
    def check(data: dict[str, Any]) -> None:
        route = send(wire, case, data)
        assert route.call_count == 1
        sent = on_the_wire(case, route.calls.last.request)
        for k, v in data.items():
            if case.where == "query":
                assert sent[k] == wire_value(v), k
            else:
                assert sent[k] == v or (v != v and sent[k] != sent[k]), k

    check()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_invalid_is_refused_before_sending(wire: Wire, case: ModelCase) -> None:
    @SETTINGS
    @given(bad=invalid_data(case))
    def check(bad: tuple[dict[str, Any], str]) -> None:
        data, field = bad
        route = wire.fresh()
        with pytest.raises(InvalidInputError) as info:
            case.send(wire.client, data)
        assert route.call_count == 0
        assert case.prefix + field in info.value.fields, info.value.errors
        assert case.prefix + field in str(info.value)

    check()


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.at_least_one], ids=lambda c: c.model.__name__
)
def test_updates_need_a_field(wire: Wire, case: ModelCase) -> None:
    route = wire.fresh()
    with pytest.raises(InvalidInputError, match="at least one"):
        case.send(wire.client, {})
    assert route.call_count == 0


# --------------------------------------------------------------------------- cross-field rules

ROLE = st.sampled_from(["user", "assistant"])


def test_companion_messages_count_and_last_role(wire: Wire) -> None:
    """1–100 messages and the last from the user (seed 000), else refused naming messages."""

    @SETTINGS
    @given(
        n=st.one_of(st.sampled_from([0, 1, 100, 101]), st.integers(0, 130)),
        roles=st.lists(ROLE, min_size=130, max_size=130),
    )
    def check(n: int, roles: list[str]) -> None:
        msgs = [{"role": r, "content": "x"} for r in roles[:n]]
        valid = 1 <= n <= 100 and msgs[-1]["role"] == "user"
        route = wire.fresh()
        if valid:
            wire.client.companion.chat(chat_id="c1", persona=PERSONA_OK, messages=msgs)
            assert route.call_count == 1
            assert json.loads(route.calls.last.request.content)["messages"] == msgs
        else:
            with pytest.raises(InvalidInputError) as info:
                wire.client.companion.chat(chat_id="c1", persona=PERSONA_OK, messages=msgs)
            assert route.call_count == 0
            assert "messages" in info.value.fields

    check()


TARGET = st.one_of(st.none(), id_string(1, 128))


def test_scratchpad_query_rules(wire: Wire) -> None:
    """The target id that ``type`` needs is required; max_words 1–10000, hint 1–500
    (decided)."""

    @SETTINGS
    @given(
        type_=st.sampled_from(["companion", "conversation"]),
        companion_id=TARGET,
        conversation_id=TARGET,
        max_words=st.one_of(st.none(), st.sampled_from([0, 1, 10000, 10001]), st.integers()),
        hint=st.one_of(st.none(), text_of_length(0, 520)),
    )
    def check(
        type_: str,
        companion_id: str | None,
        conversation_id: str | None,
        max_words: int | None,
        hint: str | None,
    ) -> None:
        expected: set[str] = set()
        if type_ == "companion" and not companion_id:
            expected.add("companion_id")
        if type_ == "conversation" and not conversation_id:
            expected.add("conversation_id")
        if max_words is not None and not 1 <= max_words <= 10000:
            expected.add("max_words")
        if hint is not None and not 1 <= len(hint) <= 500:
            expected.add("hint")
        kwargs: dict[str, Any] = dict(
            type=type_,
            companion_id=companion_id,
            conversation_id=conversation_id,
            max_words=max_words,
            hint=hint,
        )
        route = wire.fresh()
        if not expected:
            wire.client.scratchpad.get(**kwargs)
            assert route.call_count == 1
            params = dict(route.calls.last.request.url.params)
            assert params["type"] == type_
            assert {k: v for k, v in kwargs.items() if v is not None} == {
                k: (int(v) if k == "max_words" else v) for k, v in params.items()
            }
        else:
            with pytest.raises(InvalidInputError) as info:
                wire.client.scratchpad.get(**kwargs)
            assert route.call_count == 0
            # field limits are reported first; the type/id rule once the fields are valid
            assert set(info.value.fields) & expected, (info.value.errors, expected)
            assert set(info.value.fields) <= expected, (info.value.errors, expected)

    check()


def test_every_request_model_is_covered() -> None:
    request_models = {
        v
        for v in vars(m).values()
        if isinstance(v, type) and issubclass(v, m.RequestModel) and v is not m.RequestModel
    }
    covered = {c.model for c in CASES} | CROSS_FIELD
    assert request_models - covered == set()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_field_specs_match_the_model_fields(case: ModelCase) -> None:
    """The transcription names real fields (a renamed field must fail here, not pass)."""
    assert set(case.fields) <= set(case.model.model_fields)
