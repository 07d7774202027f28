"""A fake OpenAI-compatible server with the structured-output behaviours real servers show.

``mode``:

- ``json_schema``: accepts ``{"type": "json_schema"}`` (OpenAI, vLLM);
- ``refuse-400`` / ``refuse-422`` / ``refuse-500``: refuses ``json_schema`` with that status and
  accepts ``{"type": "json_object", "schema": …}`` (``refuse-500`` answers like llama-cpp-python's
  server: a pydantic message, a file path and a traceback in the error text);
- ``ignored``: ignores ``response_format`` and answers in prose naming one choice;
- ``garbage``: answers every structured request with text that names no choice and is no JSON;
- ``broken``: answers everything with llama-cpp-python's HTTP 500.

Non-streamed requests are the structured ones (decisions, ``complete_json``); ``decision`` is the
choice the fake "model" makes, ``facts`` what it extracts. Streamed requests get ``reply`` split
into chunks. Every request body is kept in ``requests``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from phantom_cli.backend.testing import FakeOpenAIServer

LLAMA_CPP_500 = (
    "[{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
    "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema', "
    "'ctx': {'expected': \"'text' or 'json_object'\"}}]\n"
    "Traceback (most recent call last):\n"
    '  File "/opt/venv/lib/python3.11/site-packages/llama_cpp/server/errors.py", line 173, in '
    "custom_route_handler\n    response = await original_route_handler(request)\n"
)


class FakeStructured(FakeOpenAIServer):
    def __init__(self, mode: str = "json_schema") -> None:
        super().__init__()
        self.mode = mode
        self.decision = "accept"
        self.facts: list[dict[str, str]] = [
            {"slot": "pets", "key": "cat", "value": "Miso", "text": "The user has a cat named Miso."}
        ]
        self.reply = ["Ha. ", "A sharp one, ", "you are. ", "Let me think on that price and "]

    def forms(self) -> list[str]:
        """The structured-output form of each non-streamed request, in order."""
        out = []
        for b in self.requests:
            if b.get("stream"):
                continue
            rf = b.get("response_format")
            out.append(rf["type"] if rf else "prompt")
        return out

    def _answer(self, body: dict[str, Any]) -> str:
        system = body["messages"][0]["content"]
        if "Extract durable facts" in system:
            return json.dumps({"facts": self.facts})
        return json.dumps({"decision": self.decision})

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        if self.mode == "broken":
            return JSONResponse({"error": {"message": LLAMA_CPP_500}}, status_code=500)
        if body.get("stream"):
            return StreamingResponse(self._stream(), media_type="text/event-stream")
        rf = body.get("response_format") or {}
        kind = rf.get("type")
        if self.mode.startswith("refuse-") and kind == "json_schema":
            status = int(self.mode.split("-")[1])
            if status == 500:
                return JSONResponse({"error": {"message": LLAMA_CPP_500, "type": "internal_server_error"}},
                                    status_code=500)
            if status == 422:
                return JSONResponse({"detail": [{"type": "literal_error", "loc": ["body", "response_format", "type"],
                                                 "msg": "Input should be 'text' or 'json_object'",
                                                 "input": "json_schema"}]}, status_code=422)
            return JSONResponse({"error": {"message": "response_format json_schema is not supported",
                                           "type": "invalid_request_error"}}, status_code=400)
        if self.mode == "garbage":
            content = "lorem ipsum dolor sit amet"
        elif self.mode == "ignored":
            content = (f"Well, the player clearly wants to {self.decision}." if "Extract" not in
                       body["messages"][0]["content"] else "Here you go: " + self._answer(body))
        else:
            content = self._answer(body)
        return JSONResponse({"id": "x", "object": "chat.completion", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]})

    async def _stream(self) -> AsyncIterator[bytes]:
        data = self.sse
        for piece in self.reply:
            yield data({"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
        yield data({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})
        yield b"data: [DONE]\n\n"
