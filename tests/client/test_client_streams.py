"""SSE and text streams: awkward chunk boundaries, errors, JSON fallback, interruption."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from phantom_cli.client import APIConnectionError, paths
from phantom_cli.client import errors as E
from phantom_cli.client import models as m
from phantom_cli.client._sse import ServerSentEvent, SSEParser, TextDecoder
from phantom_cli.client._streams import AsyncStream

from .client_helpers import chunked, collect, resolve

CHAT = dict(chat_id="c1", persona={"name": "Mira"}, messages=[{"role": "user", "content": "hi"}])
FINAL = {"reply": "Grüße, ✨ friend", "chat_id": "c1", "turn_id": "t1"}
NPC_FINAL = {
    "message": "Halt — wer da?",
    "current_state": "gate",
    "score": 1.0,
    "session_id": "u1",
    "scoring_mode": "llm",
}


def sse(*events: tuple[str, Any], eol: str = "\n") -> bytes:
    out = ""
    for name, data in events:
        payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        out += f"event: {name}{eol}" + "".join(f"data: {ln}{eol}" for ln in payload.split("\n"))
        out += eol
    return out.encode()


STREAM = sse(
    ("delta", {"text": "Grüße, "}),
    ("delta", {"text": "✨ friend"}),
    ("done", FINAL),
)


def split_every(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# --------------------------------------------------------------------------- the parser


def parse_all(chunks: list[bytes]) -> list[ServerSentEvent]:
    p = SSEParser()
    out: list[ServerSentEvent] = []
    for c in chunks:
        out.extend(p.feed(c))
    out.extend(p.close())
    return out


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_parser_every_split_point(eol: str) -> None:
    data = sse(("delta", {"text": "é✨"}), ("done", {"a": "b\nc"}), eol=eol)
    whole = parse_all([data])
    assert [e.event for e in whole] == ["delta", "done"]
    assert json.loads(whole[0].data) == {"text": "é✨"}
    for i in range(1, len(data)):
        assert parse_all([data[:i], data[i:]]) == whole, f"split at {i}"
    assert parse_all(split_every(data, 1)) == whole


def test_parser_comments_multiline_ids_and_bom() -> None:
    data = (
        b"\xef\xbb\xbf: keep-alive comment\r\n"
        b"id: 7\r\nretry: 1500\r\n"
        b"data: line one\r\ndata:line two\r\ndata\r\n\r\n"
        b"event: ping\n\n"  # no data: not dispatched
        b"data: x\n\n"
    )
    for size in (1, 2, 3, 5, len(data)):
        events = parse_all(split_every(data, size))
        assert events == [
            ServerSentEvent("message", "line one\nline two\n", "7", 1500),
            ServerSentEvent("message", "x", "7", None),
        ]


def test_parser_unterminated_tail() -> None:
    # all lines ended but no blank line: still delivered (lenient); a half line is dropped
    assert parse_all([b"event: done\ndata: {}\n"]) == [ServerSentEvent("done", "{}")]
    assert parse_all([b'event: done\ndata: {"rep']) == []


def test_text_decoder_keeps_split_characters() -> None:
    text = "añ✨😀 ok"
    data = text.encode()
    for i in range(len(data) + 1):
        d = TextDecoder()
        assert d.decode(data[:i]) + d.decode(data[i:]) + d.flush() == text


# --------------------------------------------------------------------------- SSE over HTTP


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
async def test_companion_stream_awkward_chunks(
    anyc: Any, mock: respx.MockRouter, size: int
) -> None:
    route = mock.post(paths.COMPANION_CHAT).mock(
        return_value=chunked(split_every(STREAM.replace(b"\n", b"\r\n"), size))
    )
    items = await collect(await resolve(anyc.companion.chat(**CHAT, stream=True)))
    assert [type(i) for i in items] == [m.StreamDelta, m.StreamDelta, m.CompanionChatResponse]
    assert "".join(i.text for i in items[:2]) == FINAL["reply"]
    assert items[-1].reply == FINAL["reply"] and items[-1].model_extra == {"turn_id": "t1"}
    req = route.calls.last.request
    assert dict(req.url.params) == {"stream": "true"}
    assert "text/event-stream" in req.headers["accept"]


async def test_async_stream_await_then_iterate(aclient: Any, mock: respx.MockRouter) -> None:
    """``chat`` is an ``async def`` (as openai-python): await it, then iterate the stream."""
    import inspect

    route = mock.post(paths.COMPANION_CHAT).mock(return_value=chunked([STREAM]))
    assert inspect.iscoroutinefunction(aclient.companion.chat)
    assert inspect.iscoroutinefunction(aclient.npc.message)
    assert inspect.iscoroutinefunction(aclient.instances.chat_stream)
    stream = await aclient.companion.chat(**CHAT, stream=True)
    assert isinstance(stream, AsyncStream)
    assert route.call_count == 0  # the request goes out when iteration starts
    items = [x async for x in stream]
    assert isinstance(items[-1], m.CompanionChatResponse)


async def test_npc_stream(anyc: Any, mock: respx.MockRouter) -> None:
    body = sse(("delta", {"text": "Halt — "}), ("delta", {"text": "wer da?"}), ("done", NPC_FINAL))
    route = mock.post("/api/v1/chat/abc123/message").mock(
        return_value=chunked(split_every(body, 5))
    )
    stream = anyc.npc.message(
        "abc123", message="hi", user_session_id="u1", machine_id="gate", stream=True
    )
    items = await collect(await resolve(stream))
    assert isinstance(items[-1], m.NpcMessageResponse)
    assert "".join(i.text for i in items[:-1]) == NPC_FINAL["message"]
    assert dict(route.calls.last.request.url.params) == {"stream": "true", "machine_id": "gate"}


async def test_json_answer_to_a_stream_request(anyc: Any, mock: respx.MockRouter) -> None:
    mock.post(paths.COMPANION_CHAT).mock(return_value=httpx.Response(200, json=FINAL))
    items = await collect(await resolve(anyc.companion.chat(**CHAT, stream=True)))
    assert len(items) == 1 and isinstance(items[0], m.CompanionChatResponse)
    assert items[0].reply == FINAL["reply"]


async def test_error_event_raises_matching_class(anyc: Any, mock: respx.MockRouter) -> None:
    body = sse(
        ("delta", {"text": "par"}),
        ("error", {"error": {"code": "SERVICE_UNAVAILABLE", "message": "engine died"}}),
    )
    mock.post(paths.COMPANION_CHAT).mock(
        return_value=chunked([body], headers={"x-request-id": "r-7"})
    )
    got: list[Any] = []
    with pytest.raises(E.ServiceUnavailableError) as info:
        async for item in _aiter(await resolve(anyc.companion.chat(**CHAT, stream=True))):
            got.append(item)
    assert [g.text for g in got] == ["par"]
    assert info.value.message == "engine died" and info.value.request_id == "r-7"
    assert info.value.code == "SERVICE_UNAVAILABLE"


async def test_unknown_events_are_ignored(anyc: Any, mock: respx.MockRouter) -> None:
    body = b": hi\n\nevent: ping\ndata: {}\n\n" + STREAM
    mock.post(paths.COMPANION_CHAT).mock(return_value=chunked([body]))
    items = await collect(await resolve(anyc.companion.chat(**CHAT, stream=True)))
    assert len(items) == 3


async def test_stream_cut_after_bytes(anyc: Any, mock: respx.MockRouter, sleeps: Any) -> None:
    head = sse(("delta", {"text": "Hello "}), ("delta", {"text": "wor"}))
    route = mock.post(paths.COMPANION_CHAT).mock(
        return_value=chunked([head, b"event: del"], error=httpx.ReadError("reset by peer"))
    )
    got: list[Any] = []
    with pytest.raises(E.StreamInterruptedError) as info:
        async for item in _aiter(await resolve(anyc.companion.chat(**CHAT, stream=True))):
            got.append(item)
    assert [g.text for g in got] == ["Hello ", "wor"]
    assert info.value.partial == "Hello wor"
    assert "reset by peer" in str(info.value)
    assert route.call_count == 1 and sleeps == []  # never retried once bytes arrived


async def test_stream_ends_without_done(anyc: Any, mock: respx.MockRouter) -> None:
    mock.post(paths.COMPANION_CHAT).mock(return_value=chunked([sse(("delta", {"text": "a"}))]))
    with pytest.raises(E.StreamInterruptedError, match="before its final event") as info:
        await collect(await resolve(anyc.companion.chat(**CHAT, stream=True)))
    assert info.value.partial == "a"


async def test_stream_retried_before_any_byte(
    anyc: Any, mock: respx.MockRouter, sleeps: Any
) -> None:
    route = mock.post(paths.COMPANION_CHAT).mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.Response(503, headers={"retry-after": "1"}, json={}),
            chunked([STREAM]),
        ]
    )
    items = await collect(await resolve(anyc.companion.chat(**CHAT, stream=True)))
    assert isinstance(items[-1], m.CompanionChatResponse)
    assert route.call_count == 3 and len(sleeps) == 2 and sleeps[1] == 1.0


async def test_stream_error_status(anyc: Any, mock: respx.MockRouter) -> None:
    mock.post(paths.COMPANION_CHAT).mock(
        return_value=httpx.Response(
            401, json={"error": {"code": "UNAUTHORIZED", "message": "bad key"}}
        )
    )
    with pytest.raises(E.AuthenticationError, match="bad key"):
        await collect(await resolve(anyc.companion.chat(**CHAT, stream=True)))


async def test_stream_connection_refused(anyc: Any, mock: respx.MockRouter) -> None:
    anyc.max_retries = 0
    mock.post(paths.COMPANION_CHAT).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(APIConnectionError):
        await collect(await resolve(anyc.companion.chat(**CHAT, stream=True)))


async def test_stream_records_last_exchange(anyc: Any, mock: respx.MockRouter) -> None:
    mock.post(paths.COMPANION_CHAT).mock(return_value=chunked(split_every(STREAM, 4)))
    await collect(await resolve(anyc.companion.chat(**CHAT, stream=True)))
    ex = anyc.last_exchange
    assert ex.status == 200 and ex.response_body == STREAM.decode()
    assert ex.request_json()["chat_id"] == "c1"


# --------------------------------------------------------------------------- text stream


@pytest.mark.parametrize("size", [1, 2, 3, 5])
async def test_instance_chat_stream_utf8_splits(
    anyc: Any, mock: respx.MockRouter, size: int
) -> None:
    text = "Ça va? 😀 — très bien ✨"
    route = mock.post("/api/v1/activity-instances/i1/chat").mock(
        return_value=chunked(split_every(text.encode(), size), "text/plain; charset=utf-8")
    )
    chunks = await collect(await resolve(anyc.instances.chat_stream("i1", "hello", medium="text")))
    assert "".join(chunks) == text
    assert all("\ufffd" not in c for c in chunks)
    assert json.loads(route.calls.last.request.content) == {"content": "hello", "medium": "text"}


async def test_instance_chat_stream_cut(anyc: Any, mock: respx.MockRouter, sleeps: Any) -> None:
    data = "partial ✨".encode()
    route = mock.post("/api/v1/activity-instances/i1/chat").mock(
        return_value=chunked(
            [data[:-1]], "text/plain", error=httpx.RemoteProtocolError("incomplete")
        )
    )
    got: list[str] = []
    with pytest.raises(E.StreamInterruptedError) as info:
        async for c in _aiter(await resolve(anyc.instances.chat_stream("i1", "x"))):
            got.append(c)
    assert info.value.partial == "partial " == "".join(got)
    assert route.call_count == 1 and sleeps == []


async def test_instance_chat_stream_conflict(anyc: Any, mock: respx.MockRouter) -> None:
    mock.post("/api/v1/activity-instances/i1/chat").mock(
        return_value=httpx.Response(
            409, json={"error": {"code": "CONFLICT", "message": "archived"}}
        )
    )
    with pytest.raises(E.ConflictError, match="archived"):
        await collect(await resolve(anyc.instances.chat_stream("i1", "x")))


def test_sync_stream_close_stops_early(client: Any, mock: respx.MockRouter) -> None:
    mock.post(paths.COMPANION_CHAT).mock(return_value=chunked(split_every(STREAM, 8)))
    with client.companion.chat(**CHAT, stream=True) as stream:
        first = next(stream)
    assert isinstance(first, m.StreamDelta)
    with pytest.raises(StopIteration):
        next(stream)


async def _aiter(stream: Any) -> Any:
    if hasattr(stream, "__aiter__"):
        async for x in stream:
            yield x
    else:
        for x in stream:
            yield x


async def test_stream_cut_before_any_byte_is_retried(
    anyc: Any, mock: respx.MockRouter, sleeps: Any
) -> None:
    route = mock.post(paths.COMPANION_CHAT).mock(
        side_effect=[chunked([], error=httpx.ReadError("reset")), chunked(split_every(STREAM, 9))]
    )
    items = await collect(await resolve(anyc.companion.chat(**CHAT, stream=True)))
    assert isinstance(items[-1], m.CompanionChatResponse)
    assert route.call_count == 2 and len(sleeps) == 1


async def test_stream_read_timeout_before_any_byte(
    anyc: Any, mock: respx.MockRouter, sleeps: Any
) -> None:
    route = mock.post("/api/v1/activity-instances/i1/chat").mock(
        return_value=chunked([], "text/plain", error=httpx.ReadTimeout("slow"))
    )
    with pytest.raises(E.APITimeoutError, match="waiting for the answer"):
        await collect(await resolve(anyc.instances.chat_stream("i1", "x")))
    assert route.call_count == 1 and sleeps == []
