"""The openai engine against a fake OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from phantom_cli.backend.engines import EngineUnavailable, complete, get_engine
from phantom_cli.backend.engines.openai import OpenAIEngine, endpoint
from phantom_cli.backend.prompts import companion_prompt, npc_prompt

from ..conftest import PERSONA, Conversation, wait_jobs
from .fake_openai import REPLY, FakeOpenAI


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    f = FakeOpenAI().start()
    yield f
    f.stop()


@pytest.fixture(autouse=True)
def _reset(fake: FakeOpenAI) -> None:
    fake.mode, fake.decision, fake.facts = "ok", None, []
    fake.requests.clear()


def _prompt() -> Any:
    return companion_prompt(PERSONA, [{"role": "user", "content": "hi"}])


def test_endpoint_urls() -> None:
    assert endpoint("http://h:1", "chat/completions") == "http://h:1/v1/chat/completions"
    assert endpoint("http://h:1/v1/", "embeddings") == "http://h:1/v1/embeddings"
    assert endpoint("http://h:1/v1/chat/completions", "chat/completions") == "http://h:1/v1/chat/completions"


async def test_stream_tolerates_real_world_chunks(fake: FakeOpenAI) -> None:
    engine = OpenAIEngine(fake.base_url, "fake-model")
    chunks = [c async for c in engine.stream(_prompt(), temperature=0.3, max_tokens=50, seed=7)]
    assert chunks == REPLY  # role-only, empty and usage-only chunks yield nothing
    req = fake.requests[-1]
    assert req["headers"]["authorization"] == "Bearer sk-local"  # never an empty key
    body = req["body"]
    assert body["stream"] is True and body["model"] == "fake-model"
    assert body["temperature"] == 0.3 and body["max_tokens"] == 50 and body["seed"] == 7
    assert body["messages"][0]["role"] == "system" and body["messages"][-1] == {"role": "user", "content": "hi"}


async def test_key_and_model_from_settings(fake: FakeOpenAI) -> None:
    engine = get_engine({"engine": "openai", "engine_base_url": fake.base_url, "engine_model": "m1",
                         "engine_api_key": "sk-real"})
    assert engine.name == "openai" and engine.model == "m1"
    assert await complete(engine, _prompt()) == "".join(REPLY)
    assert fake.requests[-1]["headers"]["authorization"] == "Bearer sk-real"


async def test_decide_uses_a_json_schema_enum(fake: FakeOpenAI) -> None:
    engine = OpenAIEngine(fake.base_url, "fake-model")
    p = npc_prompt(npc_name="Merchant", state="haggle", history=[{"role": "player", "content": "no way"}],
                   decision_rules=[{"decision": "pass", "keywords": ["deal"]}], default_decision="redirect")
    fake.decision = "fail"
    assert await engine.decide(p, ["pass", "fail", "redirect"]) == "fail"
    rf = fake.requests[-1]["body"]["response_format"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["strict"] is True
    assert rf["json_schema"]["schema"]["properties"]["decision"]["enum"] == ["pass", "fail", "redirect"]
    assert fake.requests[-1]["body"]["stream"] is False


async def test_embeddings(fake: FakeOpenAI) -> None:
    engine = OpenAIEngine(fake.base_url, "m", embedding_model="embed-1")
    vecs = await engine.embed(["hello world", "bye"])
    assert len(vecs) == 2 and len(vecs[0]) == 8 and vecs[0] != vecs[1]
    assert fake.requests[-1]["body"] == {"model": "embed-1", "input": ["hello world", "bye"]}
    with pytest.raises(EngineUnavailable, match="embedding model"):
        await OpenAIEngine(fake.base_url, "m").embed(["x"])


@pytest.mark.parametrize("mode", ["error", "disconnect"])
async def test_provider_failures_raise_unavailable(fake: FakeOpenAI, mode: str) -> None:
    fake.mode = mode
    with pytest.raises(EngineUnavailable) as info:
        await complete(OpenAIEngine(fake.base_url, "m"), _prompt())
    if mode == "error":
        assert "500" in info.value.message and "model overloaded" in info.value.message


async def test_timeout_and_unreachable(fake: FakeOpenAI) -> None:
    fake.mode = "slow"
    with pytest.raises(EngineUnavailable, match="timed out"):
        await complete(OpenAIEngine(fake.base_url, "m", timeout_read=0.2), _prompt())
    with pytest.raises(EngineUnavailable, match="unreachable"):
        await complete(OpenAIEngine("http://127.0.0.1:9/v1", "m", timeout_connect=0.5), _prompt())


# --------------------------------------------------------------------------- through the server


@pytest.fixture
def llm_server(make_server: Any, fake: FakeOpenAI) -> Any:
    return make_server(engine="openai", engine_base_url=fake.base_url, engine_model="fake-model")


def test_companion_chat_with_the_openai_engine(llm_server: Any, fake: FakeOpenAI) -> None:
    with llm_server.http() as http:
        r = Conversation(http, "llm-chat").say("hi")
        assert r["reply"] == "".join(REPLY) and r["engine"] == "openai"
        fake.mode = "unsafe"
        r = Conversation(http, "llm-chat-2").say("hi")
        assert r["moderation"]["outbound_filtered"] is True and "ass" not in r["reply"].split()


def test_model_override_reaches_the_provider(llm_server: Any, fake: FakeOpenAI) -> None:
    with llm_server.http() as http:
        Conversation(http, "override").say("hi", model="other-model")
    assert fake.requests[-1]["body"]["model"] == "other-model"


def test_provider_error_is_503(llm_server: Any, fake: FakeOpenAI) -> None:
    fake.mode = "error"
    body = {"chat_id": "c", "persona": PERSONA, "messages": [{"role": "user", "content": "hi"}]}
    with llm_server.http() as http:
        r = http.post("/api/v1/companion/chat", json=body)
    assert r.status_code == 503
    err = r.json()["error"]
    assert err["code"] == "SERVICE_UNAVAILABLE" and "500" in err["message"]


def test_disconnect_mid_stream_is_an_error_event(llm_server: Any, fake: FakeOpenAI) -> None:
    fake.mode = "disconnect"
    body = {"chat_id": "c", "persona": PERSONA, "messages": [{"role": "user", "content": "hi"}]}
    with llm_server.http() as http:
        with http.stream("POST", "/api/v1/companion/chat", params={"stream": "true"}, json=body) as r:
            assert r.status_code == 200
            raw = r.read().decode()
        events = [b.split("\n") for b in raw.strip().split("\n\n")]
        assert events[-1][0] == "event: error"
        err = json.loads(events[-1][1][len("data: "):])["error"]
        assert err["code"] == "SERVICE_UNAVAILABLE"
        assert all(e[0] == "event: delta" for e in events[:-1])
        # not streamed: a plain 503
        r = http.post("/api/v1/companion/chat", json=body)
        assert r.status_code == 503


def test_llm_extraction_with_a_json_schema(llm_server: Any, fake: FakeOpenAI) -> None:
    fake.facts = [{"slot": "location", "key": "", "value": "Lisbon", "text": "The user lives in Lisbon."},
                  {"slot": "pets", "key": "cat", "value": "Miso", "text": "The user has a cat named Miso."}]
    with llm_server.http() as http:
        conv = Conversation(http, "llm-extract")
        for text in ["hello", "so", "anyway"]:
            conv.say(text)
        wait_jobs(llm_server)
        extraction = [r for r in fake.requests if r["body"].get("response_format", {}).get("json_schema", {})
                      .get("name") == "user_facts"]
        assert len(extraction) == 1
        assert extraction[0]["body"]["response_format"]["json_schema"]["schema"]["properties"]["facts"]
        assert conv.say("where do I live?")["memory"]["retrieved_count"] == 1


@pytest.mark.parametrize("mode", ["unsafe", "split"])
def test_unsafe_words_are_never_streamed(llm_server: Any, fake: FakeOpenAI, mode: str) -> None:
    fake.mode = mode
    body = {"chat_id": "c", "persona": PERSONA, "messages": [{"role": "user", "content": "hi"}]}
    with llm_server.http() as http:
        with http.stream("POST", "/api/v1/companion/chat", params={"stream": "true"}, json=body) as r:
            raw = r.read().decode()
    events = [(b.split("\n")[0][len("event: "):], json.loads(b.split("\n")[1][len("data: "):]))
              for b in raw.strip().split("\n\n")]
    streamed = "".join(d["text"] for e, d in events if e == "delta")
    assert events[-1][0] == "done" and events[-1][1]["moderation"]["outbound_filtered"] is True
    assert events[-1][1]["moderation"]["reason"] == "harassment"
    assert "ass" not in streamed.split() and "die" not in streamed and " d" not in streamed
    assert events[-1][1]["reply"] != streamed


def test_llm_extraction_falls_back_to_rules_when_the_model_gives_nothing(llm_server: Any, fake: FakeOpenAI) -> None:
    fake.facts = []  # the model found nothing usable
    with llm_server.http() as http:
        conv = Conversation(http, "llm-fallback")
        for text in ["I live in Oslo.", "so", "anyway"]:
            conv.say(text)
        wait_jobs(llm_server)
        r = conv.say("where do I live?")
        assert r["memory"]["retrieved_count"] == 1
    conn = llm_server.db()
    try:
        assert [t for (t,) in conn.execute("SELECT text FROM memory_item WHERE chat_id = 'llm-fallback'")] == [
            "The user lives in Oslo."]
    finally:
        conn.close()


def test_memory_uses_the_engine_embeddings_when_configured(make_server: Any, fake: FakeOpenAI) -> None:
    server = make_server(engine="openai", engine_base_url=fake.base_url, engine_model="fake-model",
                         engine_embedding_model="embed-1")
    fake.facts = [{"slot": "location", "key": "", "value": "Lisbon", "text": "The user lives in Lisbon."}]
    with server.http() as http:
        conv = Conversation(http, "engine-embed")
        for text in ["I live in Lisbon.", "so", "anyway"]:
            conv.say(text)
        wait_jobs(server)
        assert conv.say("where do I live in Lisbon?")["memory"]["retrieved_count"] == 1
    conn = server.db()
    try:
        assert conn.execute("SELECT embedder, dim FROM memory_item").fetchall()[0][:] == ("engine:embed-1", 8)
    finally:
        conn.close()
    embeds = [r for r in fake.requests if "input" in r["body"]]
    assert embeds and all(r["body"]["model"] == "embed-1" for r in embeds)
