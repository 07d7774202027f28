"""The resources of :class:`AsyncPhantom` (every endpoint of spec/api.md + local extensions).

Hand-written. ``_resources_sync.py`` (``Phantom``) is generated from this file by
``_unasync.py``. Every call validates its input with the request models of ``models.py``
before anything is sent; bad input raises :class:`InvalidInputError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, overload

import httpx

from . import paths
from ._common import DEFAULT_MAX_RETRIES, DebugHook, TimeoutArg
from ._core_async import AsyncAPIClient
from ._streams import AsyncStream, SleepFn
from ._validate import build, fill
from .errors import APITimeoutError, InvalidInputError
from .models import (
    Activity,
    ActivityInstance,
    ActivityQuery,
    ChatMessage,
    CompanionChatRequest,
    CompanionChatResponse,
    CompanionPersona,
    GenerateImageRequest,
    GenerateResponse,
    GenerateVideoRequest,
    GenerationJob,
    InstanceChatRequest,
    InstanceCreate,
    InstanceQuery,
    InstanceUpdate,
    MediaAdd,
    MediaItem,
    MediaQuery,
    MediaUpdate,
    Message,
    MessageCreate,
    MessageQuery,
    MessageUpdate,
    NpcForkRequest,
    NpcForkResponse,
    NpcHistory,
    NpcInfo,
    NpcInitRequest,
    NpcInitResponse,
    NpcList,
    NpcListQuery,
    NpcMachineQuery,
    NpcMessageRequest,
    NpcMessageResponse,
    NpcResetResponse,
    NpcSessionQuery,
    Page,
    PageQuery,
    Persona,
    PersonaCreate,
    PersonaUpdate,
    PromptTurn,
    Scratchpad,
    ScratchpadGetQuery,
    ScratchpadQuery,
    ScratchpadUpdate,
    ServerInfo,
    Skin,
    SkinQuery,
    StreamDelta,
)

__all__ = ["AsyncPhantom"]

CompanionEvent = StreamDelta | CompanionChatResponse
NpcEvent = StreamDelta | NpcMessageResponse
CompanionResult = CompanionChatResponse | AsyncStream[CompanionEvent]
NpcResult = NpcMessageResponse | AsyncStream[NpcEvent]
FINAL_JOB_STATES = ("succeeded", "failed")


class _Resource:
    def __init__(self, client: AsyncAPIClient) -> None:
        self._c = client


# --------------------------------------------------------------------------- companion


class AsyncCompanionAPI(_Resource):
    @overload
    async def chat(
        self,
        body: CompanionChatRequest | Mapping[str, Any] | None = None,
        *,
        chat_id: str | None = None,
        persona: CompanionPersona | Mapping[str, Any] | None = None,
        messages: Sequence[ChatMessage | Mapping[str, Any]] | None = None,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        extract_memory: bool | None = None,
        idempotency_key: str | None = None,
        stream: Literal[False] = False,
    ) -> CompanionChatResponse: ...

    @overload
    async def chat(
        self,
        body: CompanionChatRequest | Mapping[str, Any] | None = None,
        *,
        chat_id: str | None = None,
        persona: CompanionPersona | Mapping[str, Any] | None = None,
        messages: Sequence[ChatMessage | Mapping[str, Any]] | None = None,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        extract_memory: bool | None = None,
        idempotency_key: str | None = None,
        stream: Literal[True],
    ) -> AsyncStream[CompanionEvent]: ...

    @overload
    async def chat(
        self,
        body: CompanionChatRequest | Mapping[str, Any] | None = None,
        *,
        chat_id: str | None = None,
        persona: CompanionPersona | Mapping[str, Any] | None = None,
        messages: Sequence[ChatMessage | Mapping[str, Any]] | None = None,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        extract_memory: bool | None = None,
        idempotency_key: str | None = None,
        stream: bool,
    ) -> CompanionResult: ...

    async def chat(
        self,
        body: CompanionChatRequest | Mapping[str, Any] | None = None,
        *,
        chat_id: str | None = None,
        persona: CompanionPersona | Mapping[str, Any] | None = None,
        messages: Sequence[ChatMessage | Mapping[str, Any]] | None = None,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        extract_memory: bool | None = None,
        idempotency_key: str | None = None,
        stream: bool = False,
    ) -> CompanionResult:
        """One companion turn (stateless: persona and history travel with every call).

        Await it, then iterate when streaming (``stream = await c.companion.chat(...,
        stream=True); async for ev in stream``). Input is validated when awaited.
        ``stream=True`` returns a stream of :class:`StreamDelta` then the final
        :class:`CompanionChatResponse`; against a server that answers JSON, just the latter.
        ``idempotency_key``: the ``Idempotency-Key`` to send (default: a new one per call); pass
        the key of an earlier, failed call to retry it without a second exchange.
        """
        req = build(
            CompanionChatRequest,
            body,
            chat_id=chat_id,
            persona=persona,
            messages=messages,
            model=model,
            temperature=temperature,
            max_tokens=max_tokens,
            extract_memory=extract_memory,
        )
        if stream:
            return self._c._event_stream(
                "POST",
                paths.COMPANION_CHAT,
                CompanionChatResponse,
                params={"stream": "true"},
                json=req.to_wire(),
                idempotency_key=idempotency_key,
            )
        return await self._c._call(
            "POST",
            paths.COMPANION_CHAT,
            CompanionChatResponse,
            json=req.to_wire(),
            idempotency_key=idempotency_key,
        )


# --------------------------------------------------------------------------- NPC


class AsyncNpcAPI(_Resource):
    async def init_session(
        self,
        persona_id: str,
        *,
        user_session_id: str | None = None,
        player_name: str | None = None,
        player_gender: str | None = None,
        machine_id: str | None = None,
        body: NpcInitRequest | Mapping[str, Any] | None = None,
    ) -> NpcInitResponse:
        req = build(
            NpcInitRequest,
            body,
            user_session_id=user_session_id,
            player_name=player_name,
            player_gender=player_gender,
        )
        query = build(NpcMachineQuery, machine_id=machine_id)
        return await self._c._call(
            "POST",
            fill(paths.NPC_INIT, persona_id=persona_id),
            NpcInitResponse,
            params=query.to_wire(),
            json=req.to_wire(),
        )

    @overload
    async def message(
        self,
        persona_id: str,
        *,
        message: str | None = None,
        user_session_id: str | None = None,
        machine_id: str | None = None,
        idempotency_key: str | None = None,
        stream: Literal[False] = False,
        body: NpcMessageRequest | Mapping[str, Any] | None = None,
    ) -> NpcMessageResponse: ...

    @overload
    async def message(
        self,
        persona_id: str,
        *,
        message: str | None = None,
        user_session_id: str | None = None,
        machine_id: str | None = None,
        idempotency_key: str | None = None,
        stream: Literal[True],
        body: NpcMessageRequest | Mapping[str, Any] | None = None,
    ) -> AsyncStream[NpcEvent]: ...

    @overload
    async def message(
        self,
        persona_id: str,
        *,
        message: str | None = None,
        user_session_id: str | None = None,
        machine_id: str | None = None,
        idempotency_key: str | None = None,
        stream: bool,
        body: NpcMessageRequest | Mapping[str, Any] | None = None,
    ) -> NpcResult: ...

    async def message(
        self,
        persona_id: str,
        *,
        message: str | None = None,
        user_session_id: str | None = None,
        machine_id: str | None = None,
        idempotency_key: str | None = None,
        stream: bool = False,
        body: NpcMessageRequest | Mapping[str, Any] | None = None,
    ) -> NpcResult:
        """One player message; ``stream=True`` as for ``companion.chat``."""
        path = fill(paths.NPC_MESSAGE, persona_id=persona_id)
        req = build(NpcMessageRequest, body, message=message, user_session_id=user_session_id)
        query = build(NpcMachineQuery, machine_id=machine_id).to_wire()
        if stream:
            return self._c._event_stream(
                "POST",
                path,
                NpcMessageResponse,
                params={**query, "stream": "true"},
                json=req.to_wire(),
                idempotency_key=idempotency_key,
            )
        return await self._c._call(
            "POST",
            path,
            NpcMessageResponse,
            params=query,
            json=req.to_wire(),
            idempotency_key=idempotency_key,
        )

    async def history(
        self,
        persona_id: str,
        *,
        user_session_id: str | None = None,
        machine_id: str | None = None,
    ) -> NpcHistory:
        query = build(NpcSessionQuery, user_session_id=user_session_id, machine_id=machine_id)
        return await self._c._call(
            "GET",
            fill(paths.NPC_HISTORY, persona_id=persona_id),
            NpcHistory,
            params=query.to_wire(),
        )

    async def reset(
        self,
        persona_id: str,
        *,
        user_session_id: str | None = None,
        machine_id: str | None = None,
    ) -> NpcResetResponse:
        query = build(NpcSessionQuery, user_session_id=user_session_id, machine_id=machine_id)
        return await self._c._call(
            "POST",
            fill(paths.NPC_RESET, persona_id=persona_id),
            NpcResetResponse,
            params=query.to_wire(),
        )


# --------------------------------------------------------------------------- activities


class AsyncActivitiesAPI(_Resource):
    async def list(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        category: str | None = None,
        featured: bool | None = None,
        is_companion: bool | None = None,
    ) -> Page[Activity]:
        query = build(
            ActivityQuery,
            limit=limit,
            cursor=cursor,
            category=category,
            featured=featured,
            is_companion=is_companion,
        )
        return await self._c._get_page(Activity, paths.ACTIVITIES, query.to_wire())

    def iter(
        self,
        *,
        category: str | None = None,
        featured: bool | None = None,
        is_companion: bool | None = None,
        page_size: int | None = None,
    ) -> AsyncStream[Activity]:
        """Every published activity, fetched page by page as the iteration goes."""
        query = build(
            ActivityQuery,
            limit=page_size,
            category=category,
            featured=featured,
            is_companion=is_companion,
        )
        return self._c._iter_pages(Activity, paths.ACTIVITIES, query.to_wire())

    async def get(self, id: str) -> Activity:
        return await self._c._call("GET", fill(paths.ACTIVITY, id=id), Activity)


# --------------------------------------------------------------------------- instances


class AsyncMessagesAPI(_Resource):
    async def list(
        self,
        instance_id: str,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        role: str | None = None,
        medium: str | None = None,
    ) -> Page[Message]:
        query = build(MessageQuery, limit=limit, cursor=cursor, role=role, medium=medium)
        return await self._c._get_page(
            Message, fill(paths.INSTANCE_MESSAGES, instance_id=instance_id), query.to_wire()
        )

    def iter(
        self,
        instance_id: str,
        *,
        role: str | None = None,
        medium: str | None = None,
        page_size: int | None = None,
    ) -> AsyncStream[Message]:
        query = build(MessageQuery, limit=page_size, role=role, medium=medium)
        return self._c._iter_pages(
            Message, fill(paths.INSTANCE_MESSAGES, instance_id=instance_id), query.to_wire()
        )

    async def create(
        self,
        instance_id: str,
        content: str | None = None,
        role: str | None = None,
        medium: str | None = None,
        *,
        body: MessageCreate | Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Message:
        """Add a message (role defaults to ``user``, medium to ``text``)."""
        req = build(MessageCreate, body, content=content, role=role, medium=medium)
        return await self._c._call(
            "POST",
            fill(paths.INSTANCE_MESSAGES, instance_id=instance_id),
            Message,
            json=req.to_wire(),
            idempotency_key=idempotency_key,
        )

    async def get(self, instance_id: str, message_id: str) -> Message:
        return await self._c._call(
            "GET",
            fill(paths.INSTANCE_MESSAGE, instance_id=instance_id, message_id=message_id),
            Message,
        )

    async def update(
        self,
        instance_id: str,
        message_id: str,
        content: str | None = None,
        *,
        body: MessageUpdate | Mapping[str, Any] | None = None,
    ) -> Message:
        req = build(MessageUpdate, body, content=content)
        return await self._c._call(
            "PATCH",
            fill(paths.INSTANCE_MESSAGE, instance_id=instance_id, message_id=message_id),
            Message,
            json=req.to_wire(),
        )


class AsyncInstancesAPI(_Resource):
    def __init__(self, client: AsyncAPIClient) -> None:
        super().__init__(client)
        self.messages = AsyncMessagesAPI(client)

    async def list(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        status: str | None = None,
        activity_id: str | None = None,
    ) -> Page[ActivityInstance]:
        query = build(
            InstanceQuery, limit=limit, cursor=cursor, status=status, activity_id=activity_id
        )
        return await self._c._get_page(ActivityInstance, paths.INSTANCES, query.to_wire())

    def iter(
        self,
        *,
        status: str | None = None,
        activity_id: str | None = None,
        page_size: int | None = None,
    ) -> AsyncStream[ActivityInstance]:
        query = build(InstanceQuery, limit=page_size, status=status, activity_id=activity_id)
        return self._c._iter_pages(ActivityInstance, paths.INSTANCES, query.to_wire())

    async def create(
        self,
        activity_id: str | None = None,
        assigned_voice_id: str | None = None,
        *,
        body: InstanceCreate | Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> ActivityInstance:
        req = build(
            InstanceCreate, body, activity_id=activity_id, assigned_voice_id=assigned_voice_id
        )
        return await self._c._call(
            "POST",
            paths.INSTANCES,
            ActivityInstance,
            json=req.to_wire(),
            idempotency_key=idempotency_key,
        )

    async def get(self, id: str) -> ActivityInstance:
        return await self._c._call("GET", fill(paths.INSTANCE, id=id), ActivityInstance)

    async def update(
        self,
        id: str,
        assigned_voice_id: str | None = None,
        status: str | None = None,
        *,
        body: InstanceUpdate | Mapping[str, Any] | None = None,
    ) -> ActivityInstance:
        req = build(InstanceUpdate, body, assigned_voice_id=assigned_voice_id, status=status)
        return await self._c._call(
            "PATCH", fill(paths.INSTANCE, id=id), ActivityInstance, json=req.to_wire()
        )

    async def archive(self, id: str) -> ActivityInstance:
        return await self.update(id, status="archived")

    async def chat_stream(
        self,
        instance_id: str,
        content: str | None = None,
        medium: str | None = None,
        skin_id: str | None = None,
        *,
        body: InstanceChatRequest | Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> AsyncStream[str]:
        """The assistant's reply as text chunks, as they arrive (saved when generated, even if
        this stream is abandoned). Retry a failed or interrupted send with the same
        ``idempotency_key`` to get the stored reply instead of a second exchange."""
        req = build(InstanceChatRequest, body, content=content, medium=medium, skin_id=skin_id)
        return self._c._text_stream(
            "POST",
            fill(paths.INSTANCE_CHAT, instance_id=instance_id),
            json=req.to_wire(),
            idempotency_key=idempotency_key,
        )


# --------------------------------------------------------------------------- personas


class AsyncPersonasAPI(_Resource):
    async def list(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Persona]:
        query = build(PageQuery, limit=limit, cursor=cursor)
        return await self._c._get_page(Persona, paths.PERSONAS, query.to_wire())

    def iter(self, *, page_size: int | None = None) -> AsyncStream[Persona]:
        query = build(PageQuery, limit=page_size)
        return self._c._iter_pages(Persona, paths.PERSONAS, query.to_wire())

    async def create(
        self,
        name: str | None = None,
        gender: str | None = None,
        description: str | None = None,
        style_preference: str | None = None,
        is_default: bool | None = None,
        *,
        body: PersonaCreate | Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Persona:
        req = build(
            PersonaCreate,
            body,
            name=name,
            gender=gender,
            description=description,
            style_preference=style_preference,
            is_default=is_default,
        )
        return await self._c._call(
            "POST", paths.PERSONAS, Persona, json=req.to_wire(), idempotency_key=idempotency_key
        )

    async def get(self, id: str) -> Persona:
        return await self._c._call("GET", fill(paths.PERSONA, id=id), Persona)

    async def update(
        self,
        id: str,
        *,
        name: str | None = None,
        gender: str | None = None,
        description: str | None = None,
        style_preference: str | None = None,
        body: PersonaUpdate | Mapping[str, Any] | None = None,
    ) -> Persona:
        req = build(
            PersonaUpdate,
            body,
            name=name,
            gender=gender,
            description=description,
            style_preference=style_preference,
        )
        wire = req.to_wire()
        if not wire:
            raise InvalidInputError(
                [("name, gender, description or style_preference", "give at least one")]
            )
        return await self._c._call("PATCH", fill(paths.PERSONA, id=id), Persona, json=wire)

    async def set_default(self, id: str) -> Persona:
        return await self._c._call("POST", fill(paths.PERSONA_DEFAULT, id=id), Persona)


# --------------------------------------------------------------------------- skins


class AsyncSkinsAPI(_Resource):
    async def list(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        gender: str | None = None,
        style: str | None = None,
    ) -> Page[Skin]:
        query = build(SkinQuery, limit=limit, cursor=cursor, gender=gender, style=style)
        return await self._c._get_page(Skin, paths.SKINS, query.to_wire())

    def iter(
        self,
        *,
        gender: str | None = None,
        style: str | None = None,
        page_size: int | None = None,
    ) -> AsyncStream[Skin]:
        query = build(SkinQuery, limit=page_size, gender=gender, style=style)
        return self._c._iter_pages(Skin, paths.SKINS, query.to_wire())

    async def get(self, id: str) -> Skin:
        return await self._c._call("GET", fill(paths.SKIN, id=id), Skin)


# --------------------------------------------------------------------------- media


class AsyncCollectionAPI(_Resource):
    async def list(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        type: str | None = None,
        favorite: bool | None = None,
        relation_type: str | None = None,
    ) -> Page[MediaItem]:
        query = build(
            MediaQuery,
            limit=limit,
            cursor=cursor,
            type=type,
            favorite=favorite,
            relationType=relation_type,
        )
        return await self._c._get_page(MediaItem, paths.MEDIA_COLLECTION, query.to_wire())

    def iter(
        self,
        *,
        type: str | None = None,
        favorite: bool | None = None,
        relation_type: str | None = None,
        page_size: int | None = None,
    ) -> AsyncStream[MediaItem]:
        query = build(
            MediaQuery,
            limit=page_size,
            type=type,
            favorite=favorite,
            relationType=relation_type,
        )
        return self._c._iter_pages(MediaItem, paths.MEDIA_COLLECTION, query.to_wire())

    async def add(
        self,
        media_id: str | None = None,
        relation_type: str | None = None,
        *,
        body: MediaAdd | Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> MediaItem:
        """Add a media item to the collection (relation ``favorited`` unless given)."""
        req = build(MediaAdd, body, mediaId=media_id, relationType=relation_type)
        return await self._c._call(
            "POST",
            paths.MEDIA_COLLECTION,
            MediaItem,
            json=req.to_wire(),
            idempotency_key=idempotency_key,
        )

    async def update(
        self,
        id: str,
        is_favorite: bool | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        body: MediaUpdate | Mapping[str, Any] | None = None,
    ) -> MediaItem:
        req = build(MediaUpdate, body, isFavorite=is_favorite, metadata=metadata)
        return await self._c._call(
            "PATCH", fill(paths.MEDIA_COLLECTION_ITEM, id=id), MediaItem, json=req.to_wire()
        )


class AsyncMediaAPI(_Resource):
    def __init__(self, client: AsyncAPIClient) -> None:
        super().__init__(client)
        self.collection = AsyncCollectionAPI(client)

    async def generate_image(
        self,
        *,
        skin_id: str | None = None,
        category: str | None = None,
        seed: int | None = None,
        user_id: str | None = None,
        activity_instance_id: str | None = None,
        activity_id: str | None = None,
        generation_mode: str | None = None,
        nsfw_level: str | None = None,
        body: GenerateImageRequest | Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> GenerateResponse:
        req = build(
            GenerateImageRequest,
            body,
            skin_id=skin_id,
            category=category,
            seed=seed,
            user_id=user_id,
            activity_instance_id=activity_instance_id,
            activity_id=activity_id,
            generation_mode=generation_mode,
            nsfw_level=nsfw_level,
        )
        return await self._c._call(
            "POST",
            paths.GENERATE_IMAGE,
            GenerateResponse,
            json=req.to_wire(),
            idempotency_key=idempotency_key,
        )

    async def generate_video(
        self,
        *,
        skin_id: str | None = None,
        category: str | None = None,
        seed: int | None = None,
        user_id: str | None = None,
        activity_instance_id: str | None = None,
        activity_id: str | None = None,
        generation_mode: str | None = None,
        nsfw_level: str | None = None,
        first_frame_source: str | None = None,
        reference_image_type: str | None = None,
        body: GenerateVideoRequest | Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> GenerateResponse:
        req = build(
            GenerateVideoRequest,
            body,
            skin_id=skin_id,
            category=category,
            seed=seed,
            user_id=user_id,
            activity_instance_id=activity_instance_id,
            activity_id=activity_id,
            generation_mode=generation_mode,
            nsfw_level=nsfw_level,
            first_frame_source=first_frame_source,
            reference_image_type=reference_image_type,
        )
        return await self._c._call(
            "POST",
            paths.GENERATE_VIDEO,
            GenerateResponse,
            json=req.to_wire(),
            idempotency_key=idempotency_key,
        )

    async def job(self, job_id: str) -> GenerationJob:
        """Local-backend extension: the state of a generation job."""
        return await self._c._call("GET", fill(paths.GENERATE_JOB, job_id=job_id), GenerationJob)

    async def wait(
        self,
        job_id: str,
        poll_interval: float = 0.5,
        timeout: float = 300.0,
        on_update: Callable[[GenerationJob], object] | None = None,
    ) -> GenerationJob:
        """Poll a job until it succeeded or failed (returned either way); APITimeoutError
        after ``timeout`` seconds. ``on_update`` is called with every polled state."""
        if not poll_interval > 0:
            raise InvalidInputError([("poll_interval", "must be greater than 0")])
        if not timeout >= 0:
            raise InvalidInputError([("timeout", "must be at least 0")])
        start = time.monotonic()
        waited = 0.0
        while True:
            job = await self.job(job_id)
            if on_update is not None:
                on_update(job)
            if job.status in FINAL_JOB_STATES:
                return job
            if max(waited, time.monotonic() - start) + poll_interval > timeout:
                raise APITimeoutError(
                    f"generation job {job_id}: still {job.status} after {timeout:g} s"
                )
            await self._c._sleep(poll_interval)
            waited += poll_interval


# --------------------------------------------------------------------------- scratchpad


class AsyncScratchpadAPI(_Resource):
    async def get(
        self,
        companion_id: str | None = None,
        type: str = "companion",
        conversation_id: str | None = None,
        max_words: int | None = None,
        hint: str | None = None,
    ) -> Scratchpad:
        query = build(
            ScratchpadGetQuery,
            companion_id=companion_id,
            type=type,
            conversation_id=conversation_id,
            max_words=max_words,
            hint=hint,
        )
        return await self._c._call("GET", paths.SCRATCHPAD, Scratchpad, params=query.to_wire())

    async def update(
        self,
        content: str | None = None,
        version: int | None = None,
        companion_id: str | None = None,
        type: str = "companion",
        conversation_id: str | None = None,
        *,
        body: ScratchpadUpdate | Mapping[str, Any] | None = None,
    ) -> Scratchpad:
        """Replace the scratchpad; ``version`` must be the current one (else ConflictError)."""
        query = build(
            ScratchpadQuery, companion_id=companion_id, type=type, conversation_id=conversation_id
        )
        req = build(ScratchpadUpdate, body, content=content, version=version)
        return await self._c._call(
            "PUT", paths.SCRATCHPAD, Scratchpad, params=query.to_wire(), json=req.to_wire()
        )


# --------------------------------------------------------------------------- local extensions


class AsyncLocalAPI(_Resource):
    """Calls only the embedded backend serves (404 elsewhere: "not available on this backend")."""

    async def info(self) -> ServerInfo:
        return await self._c._call("GET", paths.LOCAL_INFO, ServerInfo)

    async def prompt(self, turn_id: str) -> PromptTurn:
        """The prompt the engine assembled for a turn (``turn_id`` of a local reply)."""
        return await self._c._call("GET", fill(paths.LOCAL_PROMPT, turn_id=turn_id), PromptTurn)

    async def npcs(self, *, user_session_id: str | None = None) -> NpcList:
        """NPC personas with their machines (states, transitions); with ``user_session_id``
        each machine carries the player's progress (``player``)."""
        query = build(NpcListQuery, user_session_id=user_session_id)
        return await self._c._call("GET", paths.LOCAL_NPCS, NpcList, params=query.to_wire())

    async def npc(self, persona_id: str, *, user_session_id: str | None = None) -> NpcInfo:
        """One NPC persona with its machines (404 when unknown)."""
        query = build(NpcListQuery, user_session_id=user_session_id)
        return await self._c._call(
            "GET", fill(paths.LOCAL_NPC, persona_id=persona_id), NpcInfo, params=query.to_wire()
        )

    async def npc_fork(
        self,
        persona_id: str,
        *,
        user_session_id: str,
        new_user_session_id: str,
        at: int,
        machine_id: str | None = None,
    ) -> NpcForkResponse:
        """A new NPC session whose first ``at`` turns (and state as of then) are those of
        ``user_session_id`` (409 when ``new_user_session_id`` exists)."""
        req = build(
            NpcForkRequest,
            user_session_id=user_session_id,
            new_user_session_id=new_user_session_id,
            at=at,
            machine_id=machine_id,
        )
        return await self._c._call(
            "POST",
            fill(paths.LOCAL_NPC_FORK, persona_id=persona_id),
            NpcForkResponse,
            json=req.to_wire(),
        )

    async def health(self) -> dict[str, Any]:
        data = await self._c._call_json("GET", paths.HEALTH)
        return data if isinstance(data, dict) else {"status": data}


# --------------------------------------------------------------------------- the client


class AsyncPhantom(AsyncAPIClient):
    """The async Phantom API client.

    ``AsyncPhantom(base_url=None, api_key=None, timeout=None, max_retries=2, debug_hook=None)``;
    base_url and api_key fall back to ``PHANTOM_BASE_URL`` / ``PHANTOM_API_KEY``. Extra
    keyword-only options: ``backend`` ("local"/"hosted"; default guessed from a loopback
    base URL), ``headers``, ``sleep`` (injectable, for tests), ``http_client``, ``transport``.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: TimeoutArg = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        debug_hook: DebugHook | None = None,
        *,
        backend: Literal["local", "hosted"] | None = None,
        headers: Mapping[str, str] | None = None,
        sleep: SleepFn | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url,
            api_key,
            timeout,
            max_retries,
            debug_hook,
            backend=backend,
            headers=headers,
            sleep=sleep,
            http_client=http_client,
            transport=transport,
        )
        self.companion = AsyncCompanionAPI(self)
        self.npc = AsyncNpcAPI(self)
        self.activities = AsyncActivitiesAPI(self)
        self.instances = AsyncInstancesAPI(self)
        self.personas = AsyncPersonasAPI(self)
        self.skins = AsyncSkinsAPI(self)
        self.media = AsyncMediaAPI(self)
        self.scratchpad = AsyncScratchpadAPI(self)
        self.local = AsyncLocalAPI(self)

    async def __aenter__(self) -> AsyncPhantom:
        return self
