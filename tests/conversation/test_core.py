"""The conversation core (phantom_cli.conversation) against a real local backend."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from phantom_cli.client import models as m
from phantom_cli.conversation import (
    CompanionChat,
    Delta,
    Done,
    InstanceChat,
    NpcSession,
    Player,
    default_session_id,
)
from phantom_cli.conversation.transcripts import Transcript

PERSONA = {"name": "Mira", "personality": "warm"}


async def play(events: Any) -> tuple[list[str], Done]:
    deltas: list[str] = []
    done: Done | None = None
    async for ev in events:
        if isinstance(ev, Delta):
            assert done is None, "no Delta after Done"
            deltas.append(ev.text)
        else:
            assert isinstance(ev, Done) and done is None, "exactly one Done"
            done = ev
    assert done is not None
    return deltas, done


def sid() -> str:
    return "core-" + uuid.uuid4().hex[:10]


async def test_npc_path_is_the_servers_path_live_and_on_reopen(live_server: Any) -> None:
    """Issue 14: the server sends the whole state_path every turn; the side panel path must
    not repeat (greeting → negotiation → greeting → …) and must be the same on reopen."""
    session = sid()
    async with live_server.async_client() as client:
        conv = NpcSession(client, "abc123", session, player=Player("Alex", "female"))
        opening = await conv.open()
        assert opening[0].marks == ["greeting"] and conv.path == ["greeting"]
        paths = []
        for text in ("What's for sale?", "Hmm.", "Would you take a secret instead?"):
            deltas, done = await play(conv.send(text))
            assert isinstance(done.response, m.NpcMessageResponse)
            assert "".join(deltas) == done.reply == done.response.message
            assert done.turn_id and done.turn_id == done.response.turn_id == conv.last_turn_id
            assert done.latency_ms is not None and done.latency_ms > 0
            assert done.idempotency_key
            assert conv.path == done.response.state_path
            paths.append(list(conv.path))
        assert paths == [
            ["greeting", "negotiation"],
            ["greeting", "negotiation"],
            ["greeting", "negotiation", "the_price"],
        ]
        assert conv.panel["current_state"] == "the_price"

        again = NpcSession(client, "abc123", session, player=Player("Alex", "female"))
        turns = await again.open()
        assert again.path == conv.path == ["greeting", "negotiation", "the_price"]
        assert [t.role for t in turns] == ["assistant", *["user", "assistant"] * 3]
        assert again.last_user == "Would you take a secret instead?" and again.last_answered
        assert again.states and "negotiation" in again.states
        assert again.machine is not None and again.machine.initial_state == "greeting"


async def test_npc_send_without_open_and_not_streamed(live_server: Any) -> None:
    """The CLI's `npc say`: no open(), one awaited call (stream=False) → only a Done."""
    session = sid()
    async with live_server.async_client() as client:
        await NpcSession(client, "abc123", session).init()
        conv = NpcSession(client, "abc123", session)
        deltas, done = await play(conv.send("What's for sale?", stream=False))
        assert deltas == [] and done.response is not None
        assert done.response.current_state == "negotiation"
        assert conv.path == ["greeting", "negotiation"]


async def test_npc_reset_starts_over(live_server: Any) -> None:
    session = sid()
    async with live_server.async_client() as client:
        conv = NpcSession(client, "abc123", session)
        await conv.open()
        await play(conv.send("What's for sale?"))
        turns = await conv.reset()
        assert [t.marks for t in turns] == [["greeting"]]
        assert conv.path == ["greeting"] and not conv.started and conv.last_user is None


async def test_npc_stop_keeps_the_text_so_far(live_server: Any) -> None:
    session = sid()
    async with live_server.async_client() as client:
        conv = NpcSession(client, "abc123", session)
        await conv.open()
        got: list[Any] = []
        async for ev in conv.send("What's for sale?"):
            got.append(ev)
            if isinstance(ev, Delta):
                conv.stop()
        assert isinstance(got[0], Delta) and isinstance(got[-1], Done)
        assert len(got) == 2 and got[-1].marks == ["stopped"] and got[-1].reply == got[0].text
        assert got[-1].response is None


def test_default_session_id_and_player() -> None:
    assert default_session_id("local", "Alex") == "cli-local-alex"
    assert Player.resolve("Ana", None) == Player("Ana", "non-binary")
    assert Player.resolve(None, "male").name  # the OS user or "Player"


async def test_companion_records_resumes_and_retries_without_duplicates(
    live_server: Any,
) -> None:
    chat_id = sid()
    async with live_server.async_client() as client:
        conv = CompanionChat(client, PERSONA, chat_id)
        assert await conv.open() == []
        deltas, done = await play(conv.send("Morning! Remember my presentation?"))
        assert isinstance(done.response, m.CompanionChatResponse)
        assert "".join(deltas) == done.reply == done.response.reply
        assert done.turn_id and conv.panel["chat_id"] == chat_id
        _, again = await play(conv.retry())
        assert again.idempotency_key != done.idempotency_key  # a new turn: the last was answered
        recorded = Transcript(chat_id).turns()
        assert len(recorded) == 1 and recorded[0].reply == again.reply  # replaced, not added

        reopened = CompanionChat(client, PERSONA, chat_id)
        turns = await reopened.open()
        assert [(t.role, t.content) for t in turns] == [
            ("user", "Morning! Remember my presentation?"),
            ("assistant", again.reply),
        ]
        _, second = await play(reopened.send("It went fine.", stream=False))
        sent = (await client.local.prompt(second.turn_id)).messages
        assert [x["content"] for x in sent if x["role"] == "user"][-2:] == [
            "Morning! Remember my presentation?",
            "It went fine.",
        ]


async def test_companion_edit_last_retracts_the_old_turn(live_server: Any) -> None:
    chat_id = sid()
    async with live_server.async_client() as client:
        conv = CompanionChat(client, PERSONA, chat_id)
        await play(conv.send("Helo"))
        await play(conv.edit_last("Hello"))
        assert [t.user for t in Transcript(chat_id).turns()] == ["Hello"]


async def test_companion_invalid_input_names_the_message_and_records_nothing(
    live_server: Any,
) -> None:
    from phantom_cli.client.errors import InvalidInputError

    chat_id = sid()
    conv = CompanionChat(None, PERSONA, chat_id)  # no client needed to validate
    with pytest.raises(InvalidInputError) as info:
        conv.send("x" * (m.MAX_CONTENT + 1))
    assert info.value.fields == ["message"]
    assert Transcript(chat_id).turns() == []


async def test_companion_failure_marks_the_turn_unanswered(fresh_server: Any) -> None:
    from phantom_cli.client.errors import APIConnectionError

    chat_id = sid()
    async with fresh_server.async_client(max_retries=0) as client:
        conv = CompanionChat(client, PERSONA, chat_id)
        fresh_server.stop()
        with pytest.raises(APIConnectionError):
            await play(conv.send("anyone there?"))
    (turn,) = Transcript(chat_id).turns()
    assert not turn.answered and turn.errors and "APIConnectionError" in turn.errors[-1]


async def test_instance_chat_create_send_reopen(live_server: Any) -> None:
    act = live_server.add_activity(title="Tea time", first_message="The kettle sings.",
                                   alternate_greetings=["Milk or lemon?"])
    async with live_server.async_client() as client:
        chat = await InstanceChat.create(client, act)
        turns = await chat.open()
        assert turns[0].marks == ["greeting"] and chat.greetings[0] == "The kettle sings."
        deltas, done = await play(chat.send("Lemon, please."))
        assert "".join(deltas) == done.reply and done.reply and done.response is None
        reopened = InstanceChat(client, chat.instance_id)
        again = await reopened.open()
        assert [t.content for t in again if t.role == "user"] == ["Lemon, please."]
        assert again[-1].content == done.reply and reopened.last_answered


def test_run_turn_sync_facade(live_server: Any) -> None:
    from phantom_cli.conversation import run_turn

    session = sid()
    with live_server.client() as c:
        c.npc.init_session("abc123", user_session_id=session, player_name="A",
                           player_gender="male")
    chunks: list[str] = []
    done = run_turn(
        live_server.async_client,
        lambda client: NpcSession(client, "abc123", session).send("What's for sale?"),
        on_delta=chunks.append,
    )
    assert "".join(chunks) == done.reply and done.response is not None
