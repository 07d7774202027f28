"""A fake OpenAI-compatible server for the openai engine tests (loopback only).

Modes (``server.mode``): ``ok`` streams a reply the way real servers do (a role-only first
chunk, content chunks with extra fields, a usage-only chunk with no choices, an empty last delta,
then ``[DONE]``); ``unsafe`` streams a reply the outbound filter must catch (``split``: with the
unsafe phrase split across chunks mid-word); ``error`` answers
HTTP 500 with an error body; ``disconnect`` drops the connection mid-stream; ``slow`` waits
before answering. Every request is recorded in ``server.requests``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from phantom_cli.backend.testing import FakeOpenAIServer

REPLY = ["Hello", " there", ", Sam", "! The stars", " are out tonight."]


class FakeOpenAI(FakeOpenAIServer):
    def __init__(self) -> None:
        super().__init__(routes=(("/v1/embeddings", self.embeddings),))
        self.mode = "ok"
        self.decision: str | None = None  # None: the first enum value
        self.facts: list[dict[str, str]] = []

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append({"headers": dict(request.headers), "body": body})
        if self.mode == "error":
            return JSONResponse({"error": {"message": "model overloaded", "type": "server_error"}}, status_code=500)
        if self.mode == "slow":
            await asyncio.sleep(1.0)
        rf = body.get("response_format")
        if rf:
            schema = rf["json_schema"]
            if schema["name"] == "user_facts":
                content = json.dumps({"facts": self.facts})
            else:
                enum = schema["schema"]["properties"]["decision"]["enum"]
                content = json.dumps({"decision": self.decision or enum[0]})
            return JSONResponse({"id": "x", "object": "chat.completion", "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1}})
        if not body.get("stream"):
            return JSONResponse({"choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(REPLY)}}]})
        return StreamingResponse(self._stream(), media_type="text/event-stream")

    async def _stream(self) -> AsyncIterator[bytes]:
        data = self.sse
        base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "fake",
                "system_fingerprint": "fp_x"}
        yield b": keep-alive comment\n\n"
        yield data({**base, "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]})
        pieces = {"unsafe": ["You", " are", " such", " an", " ass."],
                  "split": ["Well", " go", " d", "ie", " then", "."]}.get(self.mode, REPLY)
        for i, piece in enumerate(pieces):
            if self.mode == "disconnect" and i == 2:
                raise ConnectionError("provider went away")  # the connection drops mid-stream
            yield data({**base, "choices": [{"index": 0, "delta": {"content": piece}, "logprobs": None,
                                             "finish_reason": None}], "extra_field": {"x": 1}})
        yield data({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        yield data({**base, "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5}})
        yield b"data: [DONE]\n\n"

    async def embeddings(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append({"headers": dict(request.headers), "body": body})
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        out = []
        for i, t in enumerate(texts):
            vec = [0.0] * 8
            for w in t.lower().split():
                vec[sum(map(ord, w)) % 8] += 1.0
            out.append({"object": "embedding", "index": i, "embedding": vec})
        return JSONResponse({"object": "list", "data": list(reversed(out)), "model": body["model"]})
