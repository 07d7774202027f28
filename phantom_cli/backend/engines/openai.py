"""The ``openai`` engine: any OpenAI-compatible ``/v1/chat/completions`` endpoint.

Ollama, llama.cpp's server, vLLM, LM Studio and hosted providers all speak it. Replies stream as
server-sent events (``data: {...}`` lines ending with ``data: [DONE]``); the parser tolerates a
role-only first chunk, empty deltas, usage-only chunks with no choices, comments, extra fields
and a plain JSON answer from servers that ignore ``stream``. NPC decisions use
``response_format`` with a JSON schema whose ``decision`` is an enum of the choices. Provider
errors, timeouts and disconnects raise :class:`EngineUnavailable` (503).

**Structured output is negotiated** (NPC decisions and :meth:`OpenAIEngine.complete_json`, which
memory extraction uses). Servers differ: OpenAI and vLLM take ``{"type": "json_schema", …}``,
llama-cpp-python's server refuses it (HTTP 500 "Input should be 'text' or 'json_object'") and
takes ``{"type": "json_object", "schema": …}``, some servers ignore ``response_format``. The forms
are tried strongest first — ``json_schema`` → ``json_object`` (with the schema) → ``prompt`` (no
``response_format``; the schema is described in the prompt and the answer parsed from the text).
An HTTP 400/415/422/500/501 answer to a request with ``response_format`` counts as a refusal of
that form; an answer that does not parse moves on to the next form too. What worked (and what was
refused, once the server has answered another form) is remembered per chat-completions URL for
the life of the process. When no form gives
a valid answer, :meth:`decide_info` falls back to the machine's authored rules and says so
(``source="rules-fallback"``); ``complete_json`` returns None (extraction then uses its rules).

Error messages name the engine, its base URL and what failed; a provider's own message is cut
to its first lines, with file paths and tracebacks removed (:func:`clean_provider_text`).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from . import Decision, EngineUnavailable, Prompt, PromptMessage, setting

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


FORMS = ("json_schema", "json_object", "prompt")
# An HTTP status that, answering a request with ``response_format``, refuses that form.
_FORMAT_REFUSALS = frozenset({400, 415, 422, 500, 501})

_TRACEBACK = re.compile(r"Traceback \(most recent call last\).*", re.S)
_FILE_LINE = re.compile(r"File \"[^\"]*\", line \d+(?:, in \S+)?")
# An absolute file path (POSIX or Windows), not part of a URL ("https://…" keeps its slashes).
_PATH = re.compile(r"(?<![\w:/.])(?:[A-Za-z]:)?[\\/](?:[\w.@+~-]+[\\/])+[\w.@+~-]*")


def clean_provider_text(text: str, limit: int = 300) -> str:
    """A provider's error text fit to show a user: no traceback, no file paths, one line."""
    text = _TRACEBACK.sub("", text)
    text = _FILE_LINE.sub("", text)
    text = _PATH.sub("<path>", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _pydantic_details(detail: Any) -> str | None:
    """FastAPI/pydantic validation errors (``{"detail": [{"loc": […], "msg": …}]}``) in words."""
    if not isinstance(detail, list):
        return None
    out = []
    for item in detail:
        if isinstance(item, dict) and item.get("msg"):
            loc = ".".join(str(x) for x in item.get("loc") or () if x != "body")
            got = item.get("input")
            shown = f" (got {got!r})" if isinstance(got, (str, int, float)) else ""
            out.append((f"{loc}: " if loc else "") + str(item["msg"]) + shown)
    return "; ".join(out) or None


def _provider_message(status: int, body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
        err = data.get("error", data) if isinstance(data, dict) else data
        if isinstance(err, dict):
            text = _pydantic_details(err.get("detail")) or str(err.get("message") or err.get("detail") or err)
        elif isinstance(err, str):
            text = err
        elif isinstance(err, list):
            text = _pydantic_details(err) or text
    except ValueError:
        pass
    text = _python_repr_details(text) or clean_provider_text(text)
    return f"model provider answered HTTP {status}" + (f": {text}" if text else "")


_REPR_ERROR = re.compile(
    r"'loc': \(([^)]*)\).*?'msg': (?:\"([^\"]*)\"|'([^']*)')(?:, 'input': '([^']*)')?", re.S)


def _python_repr_details(text: str) -> str | None:
    """Validation errors printed as Python reprs (llama-cpp-python's server does that) in words:
    ``response_format.type: Input should be 'text' or 'json_object' (got 'json_schema')``."""
    out = []
    for loc, msg1, msg2, got in _REPR_ERROR.findall(text):
        where = ".".join(x.strip(" '") for x in loc.split(",") if x.strip(" '") and x.strip(" '") != "body")
        out.append((f"{where}: " if where else "") + (msg1 or msg2) + (f" (got {got!r})" if got else ""))
    return clean_provider_text("; ".join(out)) if out else None


class ProviderError(EngineUnavailable):
    """The provider answered with an HTTP error (``status``)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _public(url: str) -> str:
    """A URL without user:password@."""
    return re.sub(r"//[^/@]*@", "//", url)


# What each chat-completions URL accepted: the form that last gave a valid answer, and the
# forms it refused. For the server's (this process's) lifetime.
_negotiated: dict[str, str] = {}
_refused: dict[str, set[str]] = {}
_neg_lock = threading.Lock()


def negotiated_form(url: str) -> str | None:
    """The structured-output form that worked for ``url`` (a chat-completions URL), if any."""
    with _neg_lock:
        return _negotiated.get(url)


def forget_negotiation() -> None:
    """Forget every negotiated form (tests)."""
    with _neg_lock:
        _negotiated.clear()
        _refused.clear()


def _form_order(url: str) -> list[str]:
    with _neg_lock:
        worked = _negotiated.get(url)
        refused = set(_refused.get(url, ()))
    order = list(FORMS[FORMS.index(worked):]) if worked else list(FORMS)
    return [f for f in order if f not in refused or f == "prompt"]


def _remember(url: str, form: str, *, ok: bool) -> None:
    with _neg_lock:
        if ok:
            _negotiated[url] = form
        else:
            _refused.setdefault(url, set()).add(form)
            if _negotiated.get(url) == form:
                del _negotiated[url]


def _response_format(form: str, schema: dict[str, Any], name: str) -> dict[str, Any] | None:
    if form == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": schema}}
    if form == "json_object":
        return {"type": "json_object", "schema": schema}
    return None


def _with_schema_hint(prompt: Prompt, schema: dict[str, Any]) -> Prompt:
    """The prompt for the ``prompt`` form: the schema spelled out at the end of the system text."""
    hint = ("\n\nAnswer with one JSON object only, no other text, matching this JSON schema:\n"
            + json.dumps(schema, ensure_ascii=False))
    msgs = list(prompt.messages)
    for i, msg in enumerate(msgs):
        if msg.role == "system":
            msgs[i] = PromptMessage("system", msg.content + hint)
            break
    else:
        msgs.insert(0, PromptMessage("system", hint.strip()))
    return Prompt(msgs, prompt.context)


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

    def _who(self) -> str:
        return f"openai engine ({_public(self.base_url)})"

    async def _post_json(self, path: str, body: dict[str, Any], what: str = "request") -> Any:
        import httpx

        who = f"{self._who()}: {what} failed"
        try:
            async with self._client() as client:
                resp = await client.post(endpoint(self.base_url, path), json=body)
        except httpx.TimeoutException as exc:
            raise EngineUnavailable(f"{who}: model provider timed out ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise EngineUnavailable(f"{who}: model provider unreachable ({type(exc).__name__})") from exc
        if resp.status_code >= 400:
            raise ProviderError(f"{who}: {_provider_message(resp.status_code, resp.content)}", resp.status_code)
        try:
            return resp.json()
        except ValueError as exc:
            raise EngineUnavailable(f"{who}: model provider answered with invalid JSON") from exc

    async def structured(
        self,
        prompt: Prompt,
        schema: dict[str, Any],
        name: str,
        parse: Callable[[str], Any],
        *,
        max_tokens: int,
        what: str,
    ) -> tuple[Any, str | None, list[str]]:
        """Negotiate a structured answer (module docstring): ``(value, form, notes)``.

        ``parse`` turns the answer's text into the value, or None when it is not valid. ``form``
        is the form that gave the value (None when none did); ``notes`` says what each failed
        form did. A transport failure, or an HTTP error to the plain ``prompt`` form, raises
        :class:`EngineUnavailable`.
        """
        url = endpoint(self.base_url, "chat/completions")
        notes: list[str] = []
        refused: list[str] = []  # remembered only once the server answers another form (a
        # server that fails every request is down, not refusing formats)
        for form in _form_order(url):
            p = _with_schema_hint(prompt, schema) if form == "prompt" else prompt
            body = self._body(p, temperature=0.0, max_tokens=max_tokens, seed=0, stream=False)
            rf = _response_format(form, schema, name)
            if rf is not None:
                body["response_format"] = rf
            try:
                data = await self._post_json("chat/completions", body, what)
            except ProviderError as exc:
                if rf is None or exc.status not in _FORMAT_REFUSALS:
                    raise
                refused.append(form)
                notes.append(f"{form}: refused (HTTP {exc.status})")
                continue
            for r in refused:
                _remember(url, r, ok=False)
            refused.clear()
            value = parse(_message_text(data))
            if value is not None:
                _remember(url, form, ok=True)
                return value, form, notes
            notes.append(f"{form}: no valid answer")
        return None, None, notes

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
        who = f"{self._who()}: reply failed"
        try:
            async with self._client() as client, client.stream("POST", url, json=body) as resp:
                if resp.status_code >= 400:
                    msg = _provider_message(resp.status_code, await resp.aread())
                    raise ProviderError(f"{who}: {msg}", resp.status_code)
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
                        raise EngineUnavailable(f"{who}: model provider error mid-stream: "
                                                f"{clean_provider_text(str(msg))}")
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
                    raise EngineUnavailable(f"{who}: model provider closed the stream before it finished")
        except EngineUnavailable:
            raise
        except httpx.TimeoutException as exc:
            raise EngineUnavailable(f"{who}: model provider timed out ({type(exc).__name__})") from exc
        except httpx.ConnectError as exc:
            raise EngineUnavailable(f"{who}: model provider unreachable ({type(exc).__name__})") from exc
        except (httpx.HTTPError, ValueError) as exc:
            raise EngineUnavailable(f"{who}: model provider stream failed ({type(exc).__name__}: "
                                    f"{clean_provider_text(str(exc), 120)})") from exc

    async def decide(self, prompt: Prompt, choices: Sequence[str]) -> str:
        return (await self.decide_info(prompt, choices)).choice

    async def decide_info(self, prompt: Prompt, choices: Sequence[str]) -> Decision:
        """The model's choice with how it was obtained; the authored rules when no form works."""
        from ..prompts import decision_prompt
        from .scripted import rule_decision

        if not choices:
            raise ValueError("choices: give at least one choice")
        schema = {
            "type": "object",
            "properties": {"decision": {"type": "string", "enum": list(choices)}},
            "required": ["decision"],
            "additionalProperties": False,
        }
        value, form, notes = await self.structured(
            decision_prompt(prompt, choices), schema, "npc_decision",
            lambda text: parse_choice(text, choices), max_tokens=60, what="NPC decision",
        )
        if value is not None:
            return Decision(str(value), "model", form, "; ".join(notes) or None)
        detail = f"{self._who()}: no structured-output form gave a valid choice ({'; '.join(notes)})"
        return Decision(rule_decision(prompt, choices), "rules-fallback", None, detail)

    async def complete_json(self, prompt: Prompt, schema: dict[str, Any], name: str) -> Any:
        """A non-streamed completion constrained to ``schema``: the parsed JSON object, or None
        when no structured-output form gave one (see the module docstring)."""

        def parse(text: str) -> Any:
            data = _loose_json(text)
            return data if isinstance(data, dict) else None

        value, form, notes = await self.structured(prompt, schema, name, parse, max_tokens=800,
                                                   what=f"structured completion {name!r}")
        self.last_structured_output = form
        if value is None:
            import logging

            logging.getLogger("phantom.backend.engines").warning(
                "%s: no structured-output form gave valid JSON for %s (%s)", self._who(), name, "; ".join(notes))
        return value

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not self.embedding_model:
            raise EngineUnavailable("embeddings: no embedding model configured for the openai engine")
        data = await self._post_json("embeddings", {"model": self.embedding_model, "input": list(texts)},
                                     "embeddings")
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
