"""The client against the real embedded backend (tests/conftest.py ``fresh_server``): the
wire format both sides agreed on, end to end over loopback."""

from __future__ import annotations

from typing import Any

import pytest

from phantom_cli.client import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
)
from phantom_cli.client import models as m

CHAT = dict(
    chat_id="live-1",
    persona={"name": "Mira", "bio": "a botanist"},
    messages=[{"role": "user", "content": "hello there"}],
)


@pytest.fixture
def server(fresh_server: Any) -> Any:
    return fresh_server


def test_companion_chat_plain_and_streamed(server: Any) -> None:
    with server.client() as c:
        assert c.backend == "local"
        reply = c.companion.chat(**CHAT)
        assert isinstance(reply, m.CompanionChatResponse) and reply.reply
        items = list(c.companion.chat(**CHAT, stream=True))
        assert isinstance(items[-1], m.CompanionChatResponse)
        deltas = [i.text for i in items if isinstance(i, m.StreamDelta)]
        assert "".join(deltas) == items[-1].reply


async def test_async_companion_stream(server: Any) -> None:
    async with server.async_client() as c:
        items = [i async for i in await c.companion.chat(**CHAT, stream=True)]
        assert isinstance(items[-1], m.CompanionChatResponse)
        info = await c.local.info()
        assert info.engine == "scripted"


def test_instances_pagination_and_text_stream(server: Any) -> None:
    activity = server.add_activity(title="Live tea")
    with server.client() as c:
        created = [c.instances.create(activity).id for _ in range(5)]
        page = c.instances.list(limit=2)
        assert len(page.data) == 2 and page.has_more and page.next_cursor
        seen = [i.id for i in c.instances.iter(page_size=2)]
        assert set(created) <= set(seen) and len(seen) == len(set(seen))
        chunks = list(c.instances.chat_stream(created[0], "hi"))
        assert "".join(chunks)
        msgs = list(c.instances.messages.iter(created[0]))
        assert {x.role for x in msgs} >= {"user", "assistant"}
        c.instances.archive(created[0])
        with pytest.raises(ConflictError):
            c.instances.messages.create(created[0], "after archive")


def test_errors_from_the_backend(server: Any) -> None:
    with server.client() as c:
        with pytest.raises(NotFoundError):
            c.activities.get("does-not-exist")
    with server.client(api_key="wrong-key") as c, pytest.raises(AuthenticationError):
        c.skins.list()
    weak = server.make_key(scopes=["skins"])
    with server.client(api_key=weak) as c, pytest.raises(PermissionDeniedError):
        c.companion.chat(**CHAT)
