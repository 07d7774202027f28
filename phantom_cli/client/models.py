"""Wire models for every request and response of spec/api.md (pydantic v2).

One definition of each wire shape, shared by the client (validates before sending) and the
embedded backend (validates again on arrival).

- Request models carry every limit the seeds state; a violation raises pydantic's
  ``ValidationError`` whose ``loc`` names the field and whose message names the limit.
  The client turns it into :class:`phantom_cli.client.errors.InvalidInputError`.
- Response models keep unknown fields (``extra="allow"``): the hosted API may add fields.
- Limits marked "(decided)" are not in the seeds; spec/api.md or this module decided them.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from . import enums as E

# --------------------------------------------------------------------------- base classes


class RequestModel(BaseModel):
    """A body or query the caller builds. Unknown fields are ignored, limits are enforced."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, defer_build=True)

    def to_wire(self) -> dict[str, Any]:
        """The JSON body as it goes on the wire (aliases, no unset optionals)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ResponseModel(BaseModel):
    """A server answer. Unknown fields are kept (the hosted API may add some)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


# --------------------------------------------------------------------------- enums / limits

def _not_blank(value: str | None) -> str | None:
    if value is not None and E.is_blank(value):
        raise ValueError("must not be blank (only whitespace)")
    return value


NotBlank = AfterValidator(_not_blank)  # a name needs a visible character

# the values live in enums.py (stdlib only: the CLI checks its options against them)
Role = Literal[E.ROLES]  # type: ignore[valid-type]
PlayerGender = Literal[E.PLAYER_GENDERS]  # type: ignore[valid-type]
InstanceStatus = Literal[E.INSTANCE_STATUSES]  # type: ignore[valid-type]
MessageRole = Literal[E.MESSAGE_ROLES]  # type: ignore[valid-type]
Medium = Literal[E.MEDIUMS]  # type: ignore[valid-type]
MediaType = Literal[E.MEDIA_TYPES]  # type: ignore[valid-type]
RelationType = Literal[E.RELATION_TYPES]  # type: ignore[valid-type]
ScratchpadType = Literal[E.SCRATCHPAD_TYPES]  # type: ignore[valid-type]
NsfwLevel = Literal[E.NSFW_LEVELS]  # type: ignore[valid-type]
GenerationMode = Literal[E.GENERATION_MODES]  # type: ignore[valid-type]
FirstFrameSource = Literal[E.FIRST_FRAME_SOURCES]  # type: ignore[valid-type]
JobStatus = Literal[E.JOB_STATUSES]  # type: ignore[valid-type]
Style = Literal[E.STYLES]  # type: ignore[valid-type]  # (decided) skins and persona style_preference
SkinGender = Literal[E.SKIN_GENDERS]  # type: ignore[valid-type]

CHAT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$"
ID_PATTERN = CHAT_ID_PATTERN  # (decided) session / companion ids follow chat_id's pattern

MAX_MESSAGES = 100
MAX_CONTENT = 16000
MAX_TOKENS = 32000
MAX_SCRATCHPAD = 64000  # (decided) characters of scratchpad content
PAGE_LIMIT_MAX = 100
PAGE_LIMIT_DEFAULT = 20

Content = Annotated[str, Field(min_length=1, max_length=MAX_CONTENT)]
ChatId = Annotated[str, Field(min_length=1, max_length=128, pattern=CHAT_ID_PATTERN)]
SessionId = Annotated[str, Field(min_length=1, max_length=128, pattern=ID_PATTERN)]
Limit = Annotated[int, Field(ge=1, le=PAGE_LIMIT_MAX)]


def _s(max_length: int, min_length: int = 0) -> Any:
    return Field(default=None, min_length=min_length, max_length=max_length)


# --------------------------------------------------------------------------- errors


class ErrorBody(ResponseModel):
    code: str
    message: str
    details: list[Any] | dict[str, Any] | None = None


class ErrorEnvelope(ResponseModel):
    error: ErrorBody


# --------------------------------------------------------------------------- pagination

T = TypeVar("T")


class Page(ResponseModel, Generic[T]):
    data: list[T]
    next_cursor: str | None = None
    has_more: bool = False


class PageQuery(RequestModel):
    limit: Limit | None = None
    cursor: str | None = Field(default=None, max_length=512)


# --------------------------------------------------------------------------- companion (seed 000)


class CompanionPersona(RequestModel):
    """The companion character (seed 000). Stateless: sent on every turn."""

    name: Annotated[str, NotBlank] = Field(min_length=1, max_length=120)
    nickname: str | None = _s(120)
    gender: str | None = _s(200)
    date_of_birth: str | None = _s(200)
    language: str | None = _s(200)
    lives_in_country: str | None = _s(200)
    lives_in_city: str | None = _s(200)
    comes_from_country: str | None = _s(200)
    comes_from_city: str | None = _s(200)
    living_situation: str | None = _s(2000)
    daily_routine: str | None = _s(2000)
    goals: str | None = _s(2000)
    bio: str | None = _s(4000)
    boundaries: str | None = _s(2000)
    chat_style: str | None = _s(80)
    custom_instructions: str | None = _s(8000)


def field_limits(model: type[BaseModel]) -> dict[str, tuple[int, int | None, bool]]:
    """``{field: (min_length, max_length, required)}`` for a model's string fields.

    Used by forms (the playground) to show and check limits live from the one definition.
    """
    out: dict[str, tuple[int, int | None, bool]] = {}
    for name, info in model.model_fields.items():
        lo, hi = 0, None
        for m in info.metadata:
            lo = getattr(m, "min_length", None) or lo
            hi = getattr(m, "max_length", None) or hi
        out[name] = (lo, hi, info.is_required())
    return out


PERSONA_LIMITS = field_limits(CompanionPersona)


class ChatMessage(RequestModel):
    role: Role
    content: Content


class CompanionChatRequest(RequestModel):
    chat_id: ChatId
    persona: CompanionPersona
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    model: str | None = Field(default=None, min_length=1, max_length=200)
    temperature: float | None = Field(default=None, ge=0, le=2)  # server default 0.8
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    extract_memory: bool | None = None  # server default true
    # local-backend extension: the attempt seed (a retry/swipe sends another one for another
    # reply; the same seed gives the same scripted reply). None: the server's `seed` setting.
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)

    @model_validator(mode="after")
    def _last_from_user(self) -> CompanionChatRequest:
        if self.messages and self.messages[-1].role != "user":
            raise ValueError('messages: the last message must have role "user"')
        return self


class Moderation(ResponseModel):
    inbound_prohibited: bool = False
    outbound_filtered: bool = False
    # seed 000: "present when moderation acted" — absent, not null, otherwise
    reason: str | None = Field(default=None, exclude_if=lambda v: v is None)


class MemoryInfo(ResponseModel):
    retrieved_count: int = 0
    profile_used: bool = False


class CompanionChatResponse(ResponseModel):
    reply: str
    chat_id: str
    moderation: Moderation = Field(default_factory=Moderation)
    memory: MemoryInfo = Field(default_factory=MemoryInfo)
    extraction_enqueued: bool = False


class StreamDelta(ResponseModel):
    """One ``event: delta`` of a streamed companion or NPC turn."""

    text: str


# --------------------------------------------------------------------------- NPC (seed 001)


class NpcMachineQuery(RequestModel):
    """``?machine_id=`` of the NPC calls (optional: the persona's entry machine)."""

    machine_id: str | None = Field(default=None, min_length=1, max_length=128, pattern=ID_PATTERN)


class NpcSessionQuery(NpcMachineQuery):
    """``?user_session_id=&machine_id=`` of NPC history and reset."""

    user_session_id: SessionId


class NpcInitRequest(RequestModel):
    user_session_id: SessionId
    player_name: Annotated[str, NotBlank] = Field(min_length=1, max_length=120)  # (decided) limit
    player_gender: PlayerGender


class NpcInitResponse(ResponseModel):
    message: str
    session_id: str
    player_name: str
    player_gender: str
    machine_id: str


class NpcMessageRequest(RequestModel):
    message: Content
    user_session_id: SessionId


class NpcMessageResponse(ResponseModel):
    message: str
    current_state: str
    score: float
    outcome: str | None = None
    decision: str | None = None
    follow_up: bool = False
    redirect_count: int | None = None
    session_id: str
    scoring_mode: str
    machine_completed: bool = False
    unlocked_machines: list[str] = Field(default_factory=list)
    # local-backend extensions (absent on the hosted API: then the defaults)
    score_delta: float | None = None
    state_path: list[str] = Field(default_factory=list)  # the session's whole path so far
    turn_id: str | None = None
    engine: str | None = None
    machine_id: str | None = None


class NpcHistoryMessage(ResponseModel):
    role: Literal["npc", "player"]
    content: str
    created_at: str
    state: str | None = None
    turn_id: str | None = None  # local extension: the turn the message belongs to (None: opening)


class NpcHistory(ResponseModel):
    session_id: str
    machine_id: str
    messages: list[NpcHistoryMessage] = Field(default_factory=list)


class NpcResetResponse(ResponseModel):
    reset: bool
    session_id: str


# --------------------------------------------------------------------------- scratchpad


class ScratchpadQuery(RequestModel):
    companion_id: str | None = Field(default=None, min_length=1, max_length=128)
    type: ScratchpadType = "companion"
    conversation_id: str | None = Field(default=None, min_length=1, max_length=128)

    @model_validator(mode="after")
    def _target(self) -> ScratchpadQuery:
        if self.type == "companion" and not self.companion_id:
            raise ValueError('companion_id: required when type is "companion"')
        if self.type == "conversation" and not self.conversation_id:
            raise ValueError('conversation_id: required when type is "conversation"')
        return self


class ScratchpadGetQuery(ScratchpadQuery):
    max_words: int | None = Field(default=None, ge=1, le=10000)
    hint: str | None = Field(default=None, min_length=1, max_length=500)


class ScratchpadUpdate(RequestModel):
    content: str = Field(max_length=MAX_SCRATCHPAD)
    version: int = Field(ge=0)


class Scratchpad(ResponseModel):
    id: str
    content: str
    version: int
    type: str
    updated_at: str


# --------------------------------------------------------------------------- skins


class Skin(ResponseModel):
    id: str
    name: str
    gender: str | None = None
    style: str | None = None
    cover_photo_url: str | None = None


class SkinQuery(PageQuery):
    gender: SkinGender | None = None
    style: Style | None = None


# --------------------------------------------------------------------------- media


class MediaItem(ResponseModel):
    id: str
    mediaId: str
    mediaType: MediaType | str
    cdnUrl: str | None = None
    relationType: RelationType | str
    isFavorite: bool = False
    createdAt: str
    metadata: dict[str, Any] | None = None


class MediaQuery(PageQuery):
    type: MediaType | None = None
    favorite: bool | None = None
    relationType: RelationType | None = None


class MediaAdd(RequestModel):
    mediaId: str = Field(min_length=1, max_length=128)
    relationType: RelationType = "favorited"


class MediaUpdate(RequestModel):
    isFavorite: bool | None = None
    metadata: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _something(self) -> MediaUpdate:
        if self.isFavorite is None and self.metadata is None:
            raise ValueError("isFavorite or metadata: give at least one")
        return self


GENERATION_CATEGORIES = (
    "portrait",
    "selfie",
    "full_body",
    "outfit",
    "scene",
    "action",
)  # (decided) the local backend's pre-defined categories; the hosted API may have others


class GenerateImageRequest(RequestModel):
    skin_id: str = Field(min_length=1, max_length=128)
    category: str = Field(min_length=1, max_length=100)
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)
    user_id: str | None = Field(default=None, max_length=128)
    activity_instance_id: str | None = Field(default=None, max_length=128)
    activity_id: str | None = Field(default=None, max_length=128)
    generation_mode: GenerationMode | None = None
    nsfw_level: NsfwLevel | None = None


class GenerateVideoRequest(GenerateImageRequest):
    first_frame_source: FirstFrameSource | None = None
    reference_image_type: str | None = Field(default=None, max_length=100)


class GenerateResponse(ResponseModel):
    job_id: str
    generation_id: str


class GenerationJob(ResponseModel):
    """Local extension: ``GET /api/v1/generate/jobs/{job_id}``."""

    job_id: str
    generation_id: str
    status: JobStatus | str
    kind: Literal["image", "video"] | str
    error: str | None = None
    media: MediaItem | None = None
    created_at: str
    updated_at: str


# --------------------------------------------------------------------------- activities


class Activity(ResponseModel):
    id: str
    title: str
    description: str | None = None
    short_description: str | None = None
    scenario: str | None = None
    example_dialogue: str | None = None
    listing_image_url: str | None = None
    secondary_image_urls: list[str] | None = None
    category: str | None = None
    subcategory: str | None = None
    featured: bool = False
    is_companion: bool = False
    anime_cover_image_url: str | None = None
    realistic_cover_image_url: str | None = None
    nsfw_anime_cover_image_url: str | None = None
    nsfw_realistic_cover_image_url: str | None = None
    anime_cover_video_url: str | None = None
    realistic_cover_video_url: str | None = None
    nsfw_anime_cover_video_url: str | None = None
    nsfw_realistic_cover_video_url: str | None = None
    anime_cover_image_urls: list[str] | None = None
    realistic_cover_image_urls: list[str] | None = None
    anime_cover_video_urls: list[str] | None = None
    realistic_cover_video_urls: list[str] | None = None
    default_cover_image_prompt: str | None = None
    anime_cover_image_prompt: str | None = None
    realistic_cover_image_prompt: str | None = None
    nsfw_anime_cover_image_urls: list[str] | None = None
    nsfw_realistic_cover_image_urls: list[str] | None = None
    nsfw_anime_cover_video_urls: list[str] | None = None
    nsfw_realistic_cover_video_urls: list[str] | None = None
    nsfw_default_cover_image_prompt: str | None = None
    nsfw_anime_cover_image_prompt: str | None = None
    nsfw_realistic_cover_image_prompt: str | None = None
    personality: str | None = None
    first_message: str | None = None
    system_prompt: str | None = None
    post_history_instructions: str | None = None
    alternate_greetings: list[str] | None = None
    creator_notes: str | None = None
    creator: str | None = None
    character_version: str | None = None
    tags: list[str] | None = None
    image_gen_character_short_text: str | None = None
    image_gen_character_clothed_text: str | None = None
    image_gen_character_naked_text: str | None = None
    default_outfit_text: str | None = None
    default_footwear_text: str | None = None
    llm_image_prompt_generation_help_text: str | None = None
    video_character_prompt: str | None = None
    nsfw_video_character_prompt: str | None = None
    anime_skin_id: str | None = None
    realistic_skin_id: str | None = None


class ActivityQuery(PageQuery):
    category: str | None = Field(default=None, max_length=100)
    featured: bool | None = None
    is_companion: bool | None = None


# --------------------------------------------------------------------------- instances


class ActivityInstance(ResponseModel):
    id: str
    activity_id: str | None = None  # (decided) which activity it was created from
    snapshot_title: str | None = None
    snapshot_description: str | None = None
    snapshot_short_description: str | None = None
    snapshot_scenario: str | None = None
    snapshot_example_dialogue: str | None = None
    snapshot_listing_image_url: str | None = None
    snapshot_secondary_image_urls: list[str] | None = None
    snapshot_category: str | None = None
    snapshot_subcategory: str | None = None
    snapshot_personality: str | None = None
    snapshot_first_message: str | None = None
    snapshot_system_prompt: str | None = None
    snapshot_post_history_instructions: str | None = None
    snapshot_alternate_greetings: list[str] | None = None
    snapshot_lorebook_ids: list[str] | None = None
    assigned_voice_id: str | None = None
    status: InstanceStatus | str
    last_accessed_at: str | None = None
    created_at: str


class InstanceQuery(PageQuery):
    status: InstanceStatus | None = None
    activity_id: str | None = Field(default=None, max_length=128)


class InstanceCreate(RequestModel):
    activity_id: str = Field(min_length=1, max_length=128)
    assigned_voice_id: str | None = Field(default=None, max_length=128)
    # local extension: which greeting opens the chat (0 = first_message, n = alternate_greetings[n-1])
    greeting: int | None = Field(default=None, ge=0, le=1000)
    # local extension: the player's name for {{user}} (default: the user's default persona's name)
    player_name: str | None = Field(default=None, min_length=1, max_length=120)


class InstanceUpdate(RequestModel):
    assigned_voice_id: str | None = Field(default=None, max_length=128)
    status: InstanceStatus | None = None

    @model_validator(mode="after")
    def _something(self) -> InstanceUpdate:
        if self.assigned_voice_id is None and self.status is None:
            raise ValueError("assigned_voice_id or status: give at least one")
        return self


class Message(ResponseModel):
    id: str
    role: MessageRole | str
    medium: Medium | str
    content: str
    created_at: str


class MessageQuery(PageQuery):
    role: MessageRole | None = None
    medium: Medium | None = None


class MessageCreate(RequestModel):
    role: MessageRole = "user"
    medium: Medium = "text"
    content: Content


class MessageUpdate(RequestModel):
    content: Content


class InstanceChatRequest(RequestModel):
    content: Content
    medium: Medium | None = None
    skin_id: str | None = Field(default=None, max_length=128)


# --------------------------------------------------------------------------- personas (user's)


class Persona(ResponseModel):
    id: str
    name: str
    gender: str | None = None
    description: str | None = None
    style_preference: str | None = None
    is_default: bool = False
    created_at: str
    updated_at: str


class PersonaCreate(RequestModel):
    name: Annotated[str, NotBlank] = Field(min_length=1, max_length=120)  # (decided) limits
    gender: PlayerGender | None = None
    description: str | None = Field(default=None, max_length=4000)
    style_preference: Style | None = None
    is_default: bool | None = None


class PersonaUpdate(RequestModel):
    name: Annotated[str | None, NotBlank] = Field(default=None, min_length=1, max_length=120)
    gender: PlayerGender | None = None
    description: str | None = Field(default=None, max_length=4000)
    style_preference: Style | None = None


# --------------------------------------------------------------------------- local extensions


class ServerInfo(ResponseModel):
    """``GET /api/v1/local/info`` — only the embedded backend serves it."""

    backend: str = "local"
    version: str
    engine: str
    engine_model: str | None = None
    user: str | None = None
    vector_store: bool = True
    # the server's settings (no secrets: engine_api_key is reported as engine_api_key_set)
    settings: dict[str, Any] | None = None


class PromptTurn(ResponseModel):
    """``GET /api/v1/local/prompts/{turn_id}``: what the engine was given for one turn."""

    turn_id: str
    kind: str  # "companion" | "npc"
    engine: str | None = None
    model: str | None = None
    created_at: str | None = None
    messages: list[dict[str, Any]] = Field(default_factory=list)
    context: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    timings: dict[str, float] = Field(default_factory=dict)  # server-side milliseconds
    reply: str | None = None


class NpcUnlockSource(ResponseModel):
    machine_id: str
    outcome: str


class NpcPlayerProgress(ResponseModel):
    """The player's progress on one machine (``?user_session_id=`` given)."""

    unlocked: bool = False
    session_id: str | None = None
    current_state: str | None = None
    score: float | None = None
    redirect_count: int | None = None
    outcome: str | None = None
    machine_completed: bool = False
    state_path: list[str] = Field(default_factory=list)


class NpcMachineInfo(ResponseModel):
    """One state machine of an NPC persona (the authored definition; states keep their keys)."""

    id: str
    title: str = ""
    description: str = ""
    scoring_mode: str = "scoring"
    initial_state: str
    opening: list[str] = Field(default_factory=list)
    locked: bool = False
    states: dict[str, dict[str, Any]] = Field(default_factory=dict)
    unlocks: list[dict[str, Any]] = Field(default_factory=list)
    outcomes: list[str] = Field(default_factory=list)
    unlocked_by: list[NpcUnlockSource] = Field(default_factory=list)
    player: NpcPlayerProgress | None = None

    @property
    def state_names(self) -> list[str]:
        return list(self.states)


class NpcPersonaInfo(ResponseModel):
    id: str
    name: str
    title: str = ""
    description: str = ""
    personality: str = ""
    primary_machine: str | None = None


class NpcInfo(ResponseModel):
    """An NPC persona with its machines: ``GET /api/v1/local/npcs[/{persona_id}]``."""

    id: str
    name: str
    primary_machine: str | None = None
    persona: NpcPersonaInfo
    machines: list[NpcMachineInfo] = Field(default_factory=list)

    @property
    def description(self) -> str:
        return self.persona.title or self.persona.description

    def machine(self, machine_id: str | None = None) -> NpcMachineInfo | None:
        """The machine ``machine_id`` (default: the primary one, else the first)."""
        wanted = machine_id or self.primary_machine
        for m in self.machines:
            if m.id == wanted:
                return m
        return None if machine_id else (self.machines[0] if self.machines else None)


class NpcListQuery(RequestModel):
    """``?user_session_id=`` of ``/local/npcs``: add the player's progress per machine."""

    user_session_id: SessionId | None = None


class NpcForkRequest(RequestModel):
    """``POST /api/v1/local/npcs/{persona_id}/fork`` (local extension): a new session
    ``new_user_session_id`` whose first ``at`` turns are those of ``user_session_id``."""

    user_session_id: SessionId
    new_user_session_id: SessionId
    at: int = Field(ge=0, le=100000)
    machine_id: str | None = Field(default=None, min_length=1, max_length=128, pattern=ID_PATTERN)


class NpcForkResponse(ResponseModel):
    session_id: str
    user_session_id: str
    from_user_session_id: str
    machine_id: str
    at: int
    source_turns: int
    current_state: str
    score: float = 0
    outcome: str | None = None
    machine_completed: bool = False
    state_path: list[str] = Field(default_factory=list)


class NpcList(ResponseModel):
    """``GET /api/v1/local/npcs``."""

    data: list[NpcInfo] = Field(default_factory=list)
