"""Reply engines: one interface, three implementations (docs/architecture.md, "Engines").

```python
from phantom_cli.backend.engines import get_engine, Prompt, PromptMessage
engine = get_engine(settings)              # scripted | openai | llama-cpp
async for chunk in engine.stream(prompt, temperature=0.8, max_tokens=None, seed=0): ...
decision = await engine.decide(prompt, choices=["pass", "fail", "redirect"])
```

A :class:`Prompt` carries two views of the same turn:

- ``messages`` — the chat-completions messages an LLM engine sends (system, then the window);
- ``context`` — the structured facts the prompt was built from (``kind``, ``character``,
  ``memories``, ``profile``, ``user_message``, NPC ``lines`` and ``decision_rules``…), which the
  offline ``scripted`` engine writes from, since it has no model to read the prose.

Decision rules (``context["decision_rules"]``, used by ``scripted``'s :meth:`Engine.decide`; LLM
engines get the same rules described in the prompt and answer with a constrained JSON choice)::

    [{"decision": "pass", "keywords": ["deal", "agreed"], "patterns": ["\\bi'?ll pay\\b"]},
     {"decision": "fail", "keywords": ["never"]}]
    context["default_decision"] = "redirect"

Rules are tried in order against ``context["user_message"]`` (case-insensitive; keywords match
on word boundaries, patterns are regular expressions); the first rule whose decision is one of
``choices`` wins; otherwise ``default_decision`` if it is a choice, else the first choice.

Provider failures (HTTP errors, timeouts, disconnects, a model that will not load) raise
:class:`EngineUnavailable`, which the routes answer as 503 ``SERVICE_UNAVAILABLE``.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from ..errors import ApiError

__all__ = [
    "ENGINE_NAMES",
    "Decision",
    "capped_sentences",
    "trim_to_sentence",
    "Engine",
    "EngineUnavailable",
    "Prompt",
    "PromptMessage",
    "decide",
    "get_engine",
    "setting",
]

ENGINE_NAMES = ("scripted", "openai", "llama-cpp")
PromptRole = Literal["system", "user", "assistant"]


class EngineUnavailable(ApiError):
    """The engine cannot answer (provider error, timeout, disconnect, model missing).

    An :class:`~phantom_cli.backend.errors.ApiError` 503 ``SERVICE_UNAVAILABLE``: routes may
    catch it to reword the message, and one that is not caught still answers 503.
    ``message`` is the engine's own description of the failure.
    """

    def __init__(self, message: str) -> None:
        super().__init__(503, message=message)


@dataclass(frozen=True, slots=True)
class PromptMessage:
    role: PromptRole
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(slots=True)
class Prompt:
    """What an engine is given for one turn."""

    messages: list[PromptMessage]
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def system(self) -> str:
        return "\n\n".join(m.content for m in self.messages if m.role == "system")

    @property
    def last_user(self) -> str:
        """The latest user message (``context["user_message"]`` wins when set)."""
        um = self.context.get("user_message")
        if isinstance(um, str):
            return um
        for m in reversed(self.messages):
            if m.role == "user":
                return m.content
        return ""

    def to_json(self) -> dict[str, Any]:
        """The JSON-able form stored per turn and served by the local prompts debug route."""
        return {
            "messages": [m.to_dict() for m in self.messages],
            "context": _jsonable(self.context),
        }

    def digest(self) -> int:
        """A stable 64-bit hash of the prompt (with the seed it fixes the scripted output)."""
        raw = json.dumps(self.to_json(), sort_keys=True, ensure_ascii=False).encode()
        return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


@dataclass(frozen=True, slots=True)
class Decision:
    """An NPC decision and how it was reached (shown in the turn's metadata).

    ``source``: ``rules`` (an authored rule decided), ``model`` (the model chose) or
    ``rules-fallback`` (the model was asked but gave no valid choice in any structured-output
    form, so the authored rules decided). ``structured_output``: the form that gave the model's
    choice — ``json_schema``, ``json_object``, ``prompt`` (openai engine) or ``grammar``
    (llama-cpp) — None when no model answer was used. ``detail``: what failed, if anything.
    """

    choice: str
    source: str = "rules"
    structured_output: str | None = None
    detail: str | None = None


@runtime_checkable
class Engine(Protocol):
    name: str
    model: str

    def stream(
        self,
        prompt: Prompt,
        *,
        temperature: float = 0.8,
        max_tokens: int | None = None,
        seed: int = 0,
    ) -> AsyncIterator[str]:
        """Yield the reply in chunks (an async generator)."""
        ...

    async def decide(self, prompt: Prompt, choices: Sequence[str]) -> str:
        """Pick one of ``choices`` (an NPC transition) for the prompt's turn."""
        ...


async def decide(engine: Engine, prompt: Prompt, choices: Sequence[str]) -> Decision:
    """``engine``'s choice with its provenance (engines with ``decide_info`` report it)."""
    info = getattr(engine, "decide_info", None)
    if info is not None:
        result: Decision = await info(prompt, choices)
        return result
    choice = await engine.decide(prompt, choices)
    return Decision(choice, "rules" if engine.name == "scripted" else "model")


async def complete(
    engine: Engine,
    prompt: Prompt,
    *,
    temperature: float = 0.8,
    max_tokens: int | None = None,
    seed: int = 0,
) -> str:
    """The whole reply as one string."""
    parts: list[str] = []
    async for chunk in engine.stream(prompt, temperature=temperature, max_tokens=max_tokens, seed=seed):
        parts.append(chunk)
    return "".join(parts)


# A sentence end: terminal punctuation (and closing quotes/brackets) before a space or the end.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]*]*(?=\s|$)")
CHARS_PER_TOKEN = 6  # a generous bound, for servers that ignore max_tokens


def trim_to_sentence(text: str) -> str:
    """``text`` up to its last complete sentence (all of it when it has none)."""
    t = text.rstrip()
    ends = [m.end() for m in _SENTENCE_END.finditer(t)]
    if not ends or ends[-1] == len(t):
        return t
    return t[: ends[-1]]


async def capped_sentences(chunks: AsyncIterator[str], max_tokens: int) -> AsyncIterator[str]:
    """Stream ``chunks`` sentence by sentence, at most ~``max_tokens`` long, and drop an
    unfinished last sentence (a reply cut by the token cap). Text is held back only until the
    sentence it belongs to ends, so the reply still streams."""
    limit = max(1, max_tokens) * CHARS_PER_TOKEN
    buf, sent = "", 0
    async for chunk in chunks:
        buf += chunk
        if len(buf) >= limit:
            buf = buf[:limit]
            break
        ends = [m.end() for m in _SENTENCE_END.finditer(buf) if m.end() < len(buf)]
        if ends and ends[-1] > sent:
            yield buf[sent : ends[-1]]
            sent = ends[-1]
    final = trim_to_sentence(buf)
    if len(final) > sent:
        yield final[sent:]


def setting(settings: Any, name: str, default: Any = None) -> Any:
    """Read a setting from an attribute-style or mapping-style settings object."""
    if settings is None:
        return default
    if isinstance(settings, Mapping):
        value = settings.get(name, default)
    else:
        value = getattr(settings, name, default)
    return default if value is None else value


_cache: dict[tuple[Any, ...], Engine] = {}
_cache_lock = threading.Lock()


def unpaced(engine: Any) -> Any:
    """``engine`` for a reply that is not streamed to anyone: the scripted engine's word-by-word
    pace is for people watching a stream, not for JSON answers and openings (other engines are
    returned as they are)."""
    fn = getattr(engine, "unpaced", None)
    return fn() if callable(fn) else engine


def get_engine(settings: Any = None) -> Engine:
    """The engine the settings select (``engine``: scripted | openai | llama-cpp).

    Engines are cached per configuration, so a llama-cpp model loads once per process.
    """
    name = str(setting(settings, "engine", "scripted")).strip().lower().replace("_", "-")
    if name in ("llama", "llamacpp"):
        name = "llama-cpp"
    if name not in ENGINE_NAMES:
        raise ValueError(f"engine: unknown engine {name!r}; choose one of {', '.join(ENGINE_NAMES)}")
    if name == "scripted":
        key: tuple[Any, ...] = ("scripted", float(setting(settings, "scripted_pace", 40.0)))
    elif name == "openai":
        key = (
            "openai",
            setting(settings, "engine_base_url", ""),
            setting(settings, "engine_model", ""),
            setting(settings, "engine_api_key", ""),
            setting(settings, "engine_api_key_env", ""),
            setting(settings, "engine_embedding_model", ""),
        )
    else:
        key = ("llama-cpp", setting(settings, "llama_model_path", ""))
    with _cache_lock:
        engine = _cache.get(key)
        if engine is None:
            engine = _build(name, settings)
            _cache[key] = engine
    from ..faults import cut_engine  # fault mode's cut-stream: this request's reply, half-way

    return cut_engine(engine)


def _build(name: str, settings: Any) -> Engine:
    if name == "scripted":
        from .scripted import ScriptedEngine

        return ScriptedEngine(pace=float(setting(settings, "scripted_pace", ScriptedEngine.DEFAULT_PACE)))
    if name == "openai":
        from .openai import OpenAIEngine

        return OpenAIEngine.from_settings(settings)
    from .llama_cpp import LlamaCppEngine

    return LlamaCppEngine.from_settings(settings)
