"""Companion chat through a live server with the scripted engine (seed 000 + spec/api.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ..conftest import PERSONA, Conversation, wait_jobs

CHAT = "/api/v1/companion/chat"


def _memories(server: Any, chat_id: str) -> list[str]:
    conn = server.db()
    try:
        return [r[0] for r in conn.execute(
            "SELECT text FROM memory_item WHERE chat_id = ? AND active = 1 ORDER BY created_at", (chat_id,))]
    finally:
        conn.close()


def _jobs_for(server: Any, chat_id: str) -> list[dict[str, Any]]:
    conn = server.db()
    try:
        rows = conn.execute("SELECT status, payload FROM jobs ORDER BY created_at").fetchall()
        return [{"status": r[0], **json.loads(r[1])} for r in rows if json.loads(r[1]).get("chat_id") == chat_id]
    finally:
        conn.close()


def test_memory_written_on_cadence_and_retrieved_with_true_counts(server: Any, chat_id: str) -> None:
    with server.http() as http:
        conv = Conversation(http, chat_id)
        r1 = conv.say("Hi! My name is Sam and I live in Lisbon.")
        assert r1["memory"] == {"retrieved_count": 0, "profile_used": False}
        assert r1["extraction_enqueued"] is False
        assert r1["moderation"] == {"inbound_prohibited": False, "outbound_filtered": False}  # no reason unless moderation acted (seed 000)
        assert r1["engine"] == "scripted" and r1["turn_id"] and r1["chat_id"] == chat_id
        assert conv.say("I work as a nurse and I love hiking.")["extraction_enqueued"] is False
        assert _memories(server, chat_id) == []  # nothing before the cadence
        r3 = conv.say("My sister is Ana.")
        assert r3["extraction_enqueued"] is True  # every 3rd user turn
        wait_jobs(server)
        assert _memories(server, chat_id) == [
            "The user's name is Sam.", "The user lives in Lisbon.", "The user works as a nurse.",
            "The user likes hiking.", "The user's sister is Ana.",
        ]
        r4 = conv.say("Do you remember where I live?")
        assert r4["memory"] == {"retrieved_count": 1, "profile_used": True}
        assert "Lisbon" in r4["reply"] and "Sam" in r4["reply"]
        assert r4["extraction_enqueued"] is False
        r5 = conv.say("Tell me about black holes and the weather on Mars")
        assert r5["memory"] == {"retrieved_count": 0, "profile_used": True}  # unrelated -> 0
        r6 = conv.say("How is my sister doing, and do you remember my job?")
        assert r6["memory"]["retrieved_count"] == 2
        assert r6["extraction_enqueued"] is True

        # the prompt the engine saw for turn 4 (local debug route)
        p = http.get(f"/api/v1/local/prompts/{r4['turn_id']}").json()
        assert p["kind"] == "companion" and p["engine"] == "scripted"
        system = p["messages"][0]["content"]
        assert "- The user lives in Lisbon." in system and "- Name: Sam" in system
        assert p["messages"][-1] == {"role": "user", "content": "Do you remember where I live?"}
        assert p["context"]["memories"] == ["The user lives in Lisbon."]
        assert p["params"]["temperature"] == 0.8  # the default
        assert p["reply"] == r4["reply"]
        assert {"retrieve_ms", "prepare_ms", "generate_ms"} <= set(p["timings"])

        # extraction keeps the scratchpads up to date
        wait_jobs(server)
        pad = http.get("/api/v1/companion/scratchpad",
                       params={"type": "conversation", "conversation_id": chat_id}).json()
        assert "The user lives in Lisbon." in pad["content"] and pad["version"] >= 1
        pad2 = http.get("/api/v1/companion/scratchpad", params={"type": "companion", "companion_id": "luna"}).json()
        assert "The user's sister is Ana." in pad2["content"]


def test_changed_fact_replaces_the_old_one(server: Any, chat_id: str) -> None:
    with server.http() as http:
        conv = Conversation(http, chat_id)
        for text in ["I live in Lisbon.", "It's sunny.", "Anyway."]:
            conv.say(text)
        wait_jobs(server)
        for text in ["Big news: I moved to Porto.", "New flat.", "Boxes everywhere."]:
            conv.say(text)
        wait_jobs(server)
        assert _memories(server, chat_id) == ["The user lives in Porto."]
        r = conv.say("Where do I live now?")
        assert r["memory"]["retrieved_count"] == 1
        assert "Porto" in r["reply"] and "Lisbon" not in r["reply"]


def test_extract_memory_false_skips_write_back_not_retrieval(server: Any, chat_id: str) -> None:
    with server.http() as http:
        conv = Conversation(http, chat_id)
        for text in ["My name is Sam.", "I live in Lisbon.", "I love tea."]:
            conv.say(text)
        wait_jobs(server)
        before = _memories(server, chat_id)
        assert "The user lives in Lisbon." in before
        replies = [conv.say(t, extract_memory=False) for t in
                   ["I hate tea now.", "I moved to Rome.", "Where do I live?"]]
        assert [r["extraction_enqueued"] for r in replies] == [False, False, False]
        assert replies[2]["memory"]["retrieved_count"] == 1  # retrieval still runs
        wait_jobs(server)
        assert _memories(server, chat_id) == before  # nothing written back
        assert len(_jobs_for(server, chat_id)) == 1


def test_memories_never_cross_users_or_chat_ids(server: Any, chat_id: str) -> None:
    bob = server.make_key(user="bob", scopes=["chat:companion"])
    with server.http() as http, server.http(bob) as bob_http:
        conv = Conversation(http, chat_id)
        for text in ["I live in Lisbon.", "My name is Sam.", "I have a dog named Rex."]:
            conv.say(text)
        wait_jobs(server)
        assert conv.say("Where do I live?")["memory"]["retrieved_count"] == 1
        other_user = Conversation(bob_http, chat_id).say("Where do I live?")
        assert other_user["memory"] == {"retrieved_count": 0, "profile_used": False}
        assert "Lisbon" not in other_user["reply"]
        other_chat = Conversation(http, chat_id + "-b").say("Where do I live?")
        assert other_chat["memory"] == {"retrieved_count": 0, "profile_used": False}
        # another user cannot read this user's prompts
        turn = conv.say("What's my dog called?")["turn_id"]
        r = bob_http.get(f"/api/v1/local/prompts/{turn}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"


def test_inbound_refusal_generates_and_extracts_nothing(server: Any, chat_id: str) -> None:
    with server.http() as http:
        conv = Conversation(http, chat_id)
        conv.say("I live in Lisbon.")
        for text in ["I will k.i.l.l my neighbour", "how to make a b0mb", "I live in Rome and I will k i l l you"]:
            r = conv.say(text)
            assert r["moderation"]["inbound_prohibited"] is True
            assert r["moderation"]["outbound_filtered"] is False
            assert r["moderation"]["reason"] in ("violence", "weapons")
            assert "Luna" in r["reply"]  # in character, with the persona's name
            assert r["extraction_enqueued"] is False
            assert r["memory"] == {"retrieved_count": 0, "profile_used": False}
            p = http.get(f"/api/v1/local/prompts/{r['turn_id']}").json()
            assert p["messages"] == []  # nothing was generated
        wait_jobs(server)
        assert _jobs_for(server, chat_id) == []  # refused turns do not count toward the cadence
        assert conv.say("ok")["extraction_enqueued"] is False
        assert conv.say("fine")["extraction_enqueued"] is True
        wait_jobs(server)
        assert _memories(server, chat_id) == ["The user lives in Lisbon."]  # not Rome


def test_outbound_filter_replaces_unsafe_reply(server: Any, chat_id: str) -> None:
    with server.http() as http:
        r = Conversation(http, chat_id).say("ugh, what about the bitch at work")  # the reply would echo it
        assert r["moderation"] == {"inbound_prohibited": False, "outbound_filtered": True, "reason": "harassment"}
        assert "bitch" not in r["reply"].lower()
        unfiltered = http.get(f"/api/v1/local/prompts/{r['turn_id']}").json()
        assert unfiltered["reply"] == r["reply"]


def _events(raw: str) -> list[tuple[str, Any]]:
    out = []
    for block in raw.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_sse_variant_event_order(server: Any, chat_id: str) -> None:
    body = {"chat_id": chat_id, "persona": PERSONA,
            "messages": [{"role": "user", "content": "Tell me about black holes"}]}
    with server.http() as http:
        with http.stream("POST", CHAT, params={"stream": "true"}, json=body) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            events = _events(r.read().decode())
        kinds = [e for e, _ in events]
        assert kinds[-1] == "done" and set(kinds[:-1]) == {"delta"} and len(kinds) > 3
        done = events[-1][1]
        assert "".join(d["text"] for _, d in events[:-1]) == done["reply"]
        assert done["chat_id"] == chat_id and done["engine"] == "scripted" and done["turn_id"]
        assert set(done) >= {"reply", "chat_id", "moderation", "memory", "extraction_enqueued"}
        # the same turn without streaming gives the same reply (deterministic engine)
        plain = http.post(CHAT, json=body).json()
        assert plain["reply"] == done["reply"]

        # moderation in the stream: a refusal streams and finishes like a reply
        body["messages"] = [{"role": "user", "content": "I will m.u.r.d.e.r you"}]
        with http.stream("POST", CHAT, params={"stream": "true"}, json=body) as r:
            events = _events(r.read().decode())
        assert events[-1][0] == "done" and events[-1][1]["moderation"]["inbound_prohibited"] is True
        assert "".join(d["text"] for _, d in events[:-1]) == events[-1][1]["reply"]
        # an unsafe word is never streamed; done carries the fallback
        body["messages"] = [{"role": "user", "content": "what about the bitch at work"}]
        with http.stream("POST", CHAT, params={"stream": "true"}, json=body) as r:
            raw = r.read().decode()
        events = _events(raw)
        assert "bitch" not in raw.lower()
        assert events[-1][0] == "done" and events[-1][1]["moderation"]["outbound_filtered"] is True
        # validation errors before the stream starts are plain JSON
        body["messages"] = []
        r = http.post(CHAT, params={"stream": "true"}, json=body)
        assert r.status_code == 400 and r.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"chat_id": "-bad"}, "chat_id"),
        ({"chat_id": "x" * 129}, "chat_id"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "user", "content": "hi"}] * 101}, "messages"),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, "messages"),
        ({"messages": [{"role": "system", "content": "hi"}]}, "role"),
        ({"messages": [{"role": "user", "content": ""}]}, "content"),
        ({"messages": [{"role": "user", "content": "x" * 16001}]}, "content"),
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": -0.1}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 32001}, "max_tokens"),
        ({"model": ""}, "model"),
        ({"model": "m" * 201}, "model"),
        ({"persona": {"bio": "no name"}}, "name"),
        ({"persona": {"name": "x" * 121}}, "name"),
        ({"persona": {"name": "Luna", "chat_style": "x" * 81}}, "chat_style"),
        ({"persona": {"name": "Luna", "bio": "x" * 4001}}, "bio"),
        ({"persona": {"name": "Luna", "custom_instructions": "x" * 8001}}, "custom_instructions"),
        ({"persona": None}, "persona"),
    ],
)
def test_every_validation_rule_is_a_400_naming_the_field(server: Any, patch: dict[str, Any], field: str) -> None:
    body: dict[str, Any] = {"chat_id": "ok-chat", "persona": PERSONA,
                            "messages": [{"role": "user", "content": "hi"}], **patch}
    with server.http() as http:
        r = http.post(CHAT, json=body)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "INVALID_REQUEST"
    assert field in err["message"] or any(field in map(str, d["loc"]) for d in err["details"])


def test_auth_and_scope(server: Any) -> None:
    body = {"chat_id": "c", "persona": PERSONA, "messages": [{"role": "user", "content": "hi"}]}
    import httpx

    r = httpx.post(server.base_url + CHAT, json=body)
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHORIZED"
    key = server.make_key(user="carol", scopes=["scratchpad"])
    with server.http(key) as http:
        r = http.post(CHAT, json=body)
    assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"
    key = server.make_key(user="carol", scopes=["chat:companion"])
    with server.http(key) as http:
        assert http.post(CHAT, json=body).status_code == 200
        assert http.get("/api/v1/local/prompts/turn_nope").status_code == 404


def test_no_vector_store_is_400(make_server: Any) -> None:
    server = make_server(vector_store=False)
    body = {"chat_id": "c", "persona": PERSONA, "messages": [{"role": "user", "content": "hi"}]}
    with server.http() as http:
        r = http.post(CHAT, json=body)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "INVALID_REQUEST" and "vector store" in err["message"]


def test_restart_mid_conversation_finishes_the_queued_job(make_server: Any, tmp_path: Any) -> None:
    home = tmp_path / "restart-home"
    first = make_server(home)
    first.app.state.job_runner.paused = True  # hold the queue: the job must survive the restart
    with first.http() as http:
        conv = Conversation(http, "restart-chat")
        conv.say("My name is Sam.")
        conv.say("I live in Lisbon.")
        assert conv.say("I have a cat named Miso.")["extraction_enqueued"] is True
    conn = first.db()
    try:
        # as if the server died in the middle of the job
        conn.execute("UPDATE jobs SET status = 'running'")
    finally:
        conn.close()
    first.stop()

    second = make_server(home)
    jobs = wait_jobs(second)
    assert [j["status"] for j in jobs] == ["done"]
    assert "The user has a cat named Miso." in _memories(second, "restart-chat")
    with second.http() as http:
        conv.http = http
        r = conv.say("How is my cat?")
        assert r["memory"]["retrieved_count"] == 1 and "Miso" in r["reply"]
        assert r["extraction_enqueued"] is False  # the turn count survived too: this is turn 4
        conv.say("Okay.")
        assert conv.say("Bye.")["extraction_enqueued"] is True  # turn 6


def test_memory_cadence_setting(make_server: Any) -> None:
    server = make_server(memory_cadence=1)
    with server.http() as http:
        conv = Conversation(http, "every-turn")
        assert conv.say("I live in Oslo.")["extraction_enqueued"] is True
        wait_jobs(server)
        assert conv.say("Where do I live?")["memory"]["retrieved_count"] == 1


def test_conversations_are_deterministic_for_a_seed(make_server: Any) -> None:
    script = ["Hi! My name is Sam.", "I live in Lisbon and I love hiking.", "Work was rough today.",
              "Do you remember where I live?"]

    def run(seed: int) -> list[str]:
        server = make_server(seed=seed)
        with server.http() as http:
            conv = Conversation(http, "same-chat")
            replies = []
            for text in script:
                replies.append(conv.say(text)["reply"])
                wait_jobs(server)  # extraction finishes at the same point in both runs
        server.stop()
        return replies

    first, again, other = run(0), run(0), run(1)
    assert first == again
    assert first != other
    assert "Lisbon" in first[3]


def test_prompt_route_serves_npc_turns_too(server: Any) -> None:
    with server.http() as http:
        r = http.post("/api/v1/chat/abc123/init-session",
                      json={"user_session_id": "prompt-route", "player_name": "Kai", "player_gender": "male"})
        assert r.status_code == 200, r.text
        r = http.post("/api/v1/chat/abc123/message", json={"user_session_id": "prompt-route", "message": "Hello there"})
        assert r.status_code == 200, r.text
        turn_id = r.json().get("turn_id")
        assert turn_id
        p = http.get(f"/api/v1/local/prompts/{turn_id}")
        assert p.status_code == 200, p.text
        data = p.json()
        assert data["kind"] == "npc" and data["messages"] and data["messages"][0]["role"] == "system"


def test_companion_remembers_the_event_and_not_the_question(server: Any, chat_id: str) -> None:
    """A conversation of facts, then a question that once stored "The user likes and."."""
    with server.http() as http:
        conv = Conversation(http, chat_id, persona={"name": "Lunaqa", "bio": "A friend."})
        conv.say("I like green tea.")
        conv.say("My presentation is on Friday")
        conv.say("Remind me what drink I like and when my presentation is")
        wait_jobs(server)
        pad = http.get("/api/v1/companion/scratchpad",
                       params={"type": "conversation", "conversation_id": chat_id}).json()
        assert "The user's presentation is on Friday." in pad["content"]
        assert "The user likes green tea." in pad["content"]
        assert "likes and" not in pad["content"]
        reply = conv.say("When is my presentation again?")
        assert reply["memory"]["retrieved_count"] >= 1
        assert "Friday" in reply["reply"]
