"""The ``openai`` engine: any OpenAI-compatible ``/v1/chat/completions`` endpoint.

Ollama, llama.cpp's server, vLLM, LM Studio and hosted providers all speak it. Replies stream as
server-sent events (``data: {...}`` lines ending with ``data: [DONE]``); the parser tolerates a
role-only first chunk, empty deltas, usage-only chunks with no choices, comments, extra fields
and a plain JSON answer from servers that ignore ``stream``. NPC decisions use
``response_format`` with a JSON schema whose ``decision`` is an enum of the choices. Provider
errors, timeouts and disconnects raise :class:`EngineUnavailable` (503).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from . import EngineUnavailable, Prompt, setting

DEFAULT_BASE_URL = "http://127.0.0.1:11434/v1"  # Ollama's default
LOCAL_KEY = "sk-local"  # local servers ignore the key but some clients/proxies require one


def endpoint(base_url: str, path: str) -> str:
    """``base_url`` (with or without ``/v1``) + ``path`` (``chat/completions``, ``embeddings``)."""
    base = base_url.rstrip("/")
    for suffix in ("/chat/completions", "/embeddings"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    if not re.search(r"/v\d+$", base):
        base += "/v1"
    return f"{base}/{path}"


def _provider_message(status: int, body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
        err = data.get("error", data) if isinstance(data, dict) else data
        if isinstance(err, dict):
            text = str(err.get("message") or err)
        elif isinstance(err, str):
            text = err
    except ValueError:
        pass
    text = " ".join(text.split())[:300]
    return f"model provider answered HTTP {status}" + (f": {text}" if text else "")


class OpenAIEngine:
    name = "openai"

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        model: str = "",
        api_key: str | None = None,
        *,
        embedding_model: str | None = None,
        timeout_connect: float = 5.0,
        timeout_read: float = 60.0,
    ) -> None:
        self.base_url = base_url or DEFAULT_BASE_URL
        self.model = model or "default"
        self._key = api_key or LOCAL_KEY  # always a non-empty key
        self.embedding_model = embedding_model or None
        self._timeout = (timeout_connect, timeout_read)

    @classmethod
    def from_settings(cls, settings: Any) -> OpenAIEngine:
        key = setting(settings, "engine_api_key")
        env_name = setting(settings, "engine_api_key_env")
        if not key and env_name:
            import os

            key = os.environ.get(str(env_name))
        return cls(
            base_url=str(setting(settings, "engine_base_url", DEFAULT_BASE_URL)),
            model=str(setting(settings, "engine_model", "")),
            api_key=key,
            embedding_model=setting(settings, "engine_embedding_model"),
            timeout_read=float(setting(settings, "engine_timeout", 60.0)),
        )

    # ------------------------------------------------------------------ http

    def _client(self) -> Any:
        import httpx

        connect, read = self._timeout
        return httpx.AsyncClient(
            timeout=httpx.Timeout(read, connect=connect),
            headers={"Authorization": f"Bearer {self._key}", "Accept": "application/json"},
        )

    def _body(self, prompt: Prompt, *, temperature: float, max_tokens: int | None,
              seed: int | None, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": str(prompt.context.get("model_override") or self.model),
            "messages": [m.to_dict() for m in prompt.messages],
            "temperature": temperature,
            "stream": stream,
        }
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if seed is not None:
            body["seed"] = seed
        return body

    async def _post_json(self, path: str, body: dict[str, Any]) -> Any:
        import httpx

        try:
            async with self._client() as client:
                resp = await client.post(endpoint(self.base_url, path), json=body)
        except httpx.TimeoutException as exc:
            raise EngineUnavailable(f"model provider timed out ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise EngineUnavailable(f"model provider unreachable: {type(exc).__name__}: {exc}") from exc
        if resp.status_code >= 400:
            raise EngineUnavailable(_provider_message(resp.status_code, resp.content))
        try:
            return resp.json()
        except ValueError as exc:
            raise EngineUnavailable("model provider answered with invalid JSON") from exc

    # ------------------------------------------------------------------ engine API

    async def stream(
        self,
        prompt: Prompt,
        *,
        temperature: float = 0.8,
        max_tokens: int | None = None,
        seed: int = 0,
    ) -> AsyncIterator[str]:
        import httpx

        body = self._body(prompt, temperature=temperature, max_tokens=max_tokens, seed=seed, stream=True)
        url = endpoint(self.base_url, "chat/completions")
        try:
            async with self._client() as client, client.stream("POST", url, json=body) as resp:
                if resp.status_code >= 400:
                    raise EngineUnavailable(_provider_message(resp.status_code, await resp.aread()))
                ctype = resp.headers.get("content-type", "")
                if "text/event-stream" not in ctype:
                    # A server that ignored "stream": one JSON completion.
                    data = json.loads(await resp.aread())
                    text = _message_text(data)
                    if text:
                        yield text
                    return
                finished = False
                async for line in resp.aiter_lines():
                    line = line.strip()
                    if not line or line.startswith(":") or not line.startswith("data:"):
                        continue  # blank separators, comments, event:/id: lines
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        finished = True
                        break
                    try:
                        chunk = json.loads(payload)
                    except ValueError:
                        continue
                    if isinstance(chunk, dict) and chunk.get("error"):
                        err = chunk["error"]
                        msg = err.get("message") if isinstance(err, dict) else str(err)
                        raise EngineUnavailable(f"model provider error mid-stream: {msg}")
                    for choice in (chunk.get("choices") or []) if isinstance(chunk, dict) else []:
                        delta = choice.get("delta") or choice.get("message") or {}
                        piece = delta.get("content") if isinstance(delta, dict) else None
                        if piece is None and isinstance(choice.get("text"), str):
                            piece = choice["text"]  # legacy completions shape
                        if piece:
                            yield piece
                        if choice.get("finish_reason"):
                            finished = True
                if not finished:
                    raise EngineUnavailable("model provider closed the stream before it finished")
        except EngineUnavailable:
            raise
        except httpx.TimeoutException as exc:
            raise EngineUnavailable(f"model provider timed out ({type(exc).__name__})") from exc
        except httpx.ConnectError as exc:
            raise EngineUnavailable(f"model provider unreachable at {url}: {exc}") from exc
        except (httpx.HTTPError, ValueError) as exc:
            raise EngineUnavailable(f"model provider stream failed: {type(exc).__name__}: {exc}") from exc

    async def decide(self, prompt: Prompt, choices: Sequence[str]) -> str:
        from ..prompts import decision_prompt
        from .scripted import rule_decision

        if not choices:
            raise ValueError("choices: give at least one choice")
        dp = decision_prompt(prompt, choices)
        body = self._body(dp, temperature=0.0, max_tokens=50, seed=0, stream=False)
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": "npc_decision",
                "strict": True,
                "schema": {
                    "type": "object",
                    "properties": {"decision": {"type": "string", "enum": list(choices)}},
                    "required": ["decision"],
                    "additionalProperties": False,
                },
            },
        }
        data = await self._post_json("chat/completions", body)
        return parse_choice(_message_text(data), choices) or rule_decision(prompt, choices)

    async def complete_json(self, prompt: Prompt, schema: dict[str, Any], name: str) -> Any:
        """A non-streamed completion constrained to ``schema``; the parsed JSON (or None)."""
        body = self._body(prompt, temperature=0.0, max_tokens=800, seed=0, stream=False)
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": name, "strict": True, "schema": schema},
        }
        text = _message_text(await self._post_json("chat/completions", body))
        return _loose_json(text)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not self.embedding_model:
            raise EngineUnavailable("embeddings: no embedding model configured for the openai engine")
        data = await self._post_json("embeddings", {"model": self.embedding_model, "input": list(texts)})
        try:
            rows = sorted(data["data"], key=lambda r: r.get("index", 0))
            return [[float(x) for x in r["embedding"]] for r in rows]
        except (KeyError, TypeError, ValueError) as exc:
            raise EngineUnavailable("embeddings: unexpected answer from the model provider") from exc


def _message_text(data: Any) -> str:
    try:
        choice = data["choices"][0]
    except (KeyError, IndexError, TypeError):
        return ""
    msg = choice.get("message") or choice.get("delta") or {}
    content = msg.get("content") if isinstance(msg, dict) else None
    if content is None:
        content = choice.get("text")
    return content if isinstance(content, str) else ""


def _loose_json(text: str) -> Any:
    text = text.strip()
    if text.startswith("```"):
        text = re.sub(r"^```[a-zA-Z]*\s*|\s*```$", "", text)
    try:
        return json.loads(text)
    except ValueError:
        m = re.search(r"\{.*\}", text, re.S)
        if m:
            try:
                return json.loads(m.group(0))
            except ValueError:
                return None
    return None


def parse_choice(text: str, choices: Sequence[str]) -> str | None:
    """The decision in a model's answer: JSON ``{"decision": …}``, else a lone choice word."""
    data = _loose_json(text)
    if isinstance(data, dict) and data.get("decision") in choices:
        return str(data["decision"])
    found = [c for c in choices if re.search(r"(?<!\w)" + re.escape(c) + r"(?!\w)", text, re.I)]
    return found[0] if len(found) == 1 else None
