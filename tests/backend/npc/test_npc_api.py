"""NPC chat through a live server: the seed-001 exchange, every field to each outcome, redirects,
unlocks, errors, reset, history, streaming, restarts and user isolation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from phantom_cli.client.errors import ConflictError, NotFoundError

P = "/api/v1/chat/abc123"
FIELDS = {"message", "current_state", "score", "outcome", "decision", "follow_up", "redirect_count",
          "session_id", "scoring_mode", "machine_completed", "unlocked_machines"}


def init(http: Any, sid: str, machine_id: str | None = None, name: str = "Alex",
         gender: str = "non-binary", persona: str = "abc123") -> Any:
    params = {"machine_id": machine_id} if machine_id else None
    return http.post(f"/api/v1/chat/{persona}/init-session", params=params,
                     json={"user_session_id": sid, "player_name": name, "player_gender": gender})


def say(http: Any, sid: str, text: str, machine_id: str | None = None, persona: str = "abc123") -> Any:
    params = {"machine_id": machine_id} if machine_id else None
    return http.post(f"/api/v1/chat/{persona}/message", params=params,
                     json={"message": text, "user_session_id": sid})


def ok(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    return r.json()


# --------------------------------------------------------------------------- the seed example


def test_seed_001_example_exchange_exactly(live_server: Any) -> None:
    import httpx

    body_init = {"user_session_id": "player-session-001", "player_name": "Alex", "player_gender": "non-binary"}
    # the seed's curl has no Authorization header: the local backend, like the spec, answers 401
    with httpx.Client(base_url=live_server.base_url) as anon:
        r = anon.post(f"{P}/init-session", json=body_init, headers={"Content-Type": "application/json"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHORIZED"
    with live_server.http() as http:  # the same request with the local key
        r = http.post(f"{P}/init-session", json=body_init, headers={"Content-Type": "application/json"})
        first = ok(r)
        assert first["message"] == "Well, well... another traveler. What brings you to the Hollow Market, Alex?"
        assert first["player_name"] == "Alex" and first["player_gender"] == "non-binary"
        assert first["machine_id"] == "machine_main" and first["session_id"].startswith("sess_")
        r = http.post(f"{P}/message", json={"message": "I heard you have something rare for sale.",
                                             "user_session_id": "player-session-001"})
        raw = r.text
        out = ok(r)
    assert out["message"] == ("Rare? Everything here is rare, friend. But the real question is — can you "
                              "afford it? Not everything costs gold.")
    expected = {"current_state": "negotiation", "score": 1, "outcome": None, "decision": "pass",
                "follow_up": True, "session_id": first["session_id"], "scoring_mode": "scoring",
                "machine_completed": False, "unlocked_machines": []}
    assert {k: out[k] for k in expected} == expected
    assert '"score":1,' in raw.replace(" ", "")  # an integer score on the wire, as in the seed
    assert FIELDS <= set(out)
    # local extras
    assert out["score_delta"] == 1 and out["state_path"] == ["greeting", "negotiation"]
    assert out["engine"] == "scripted" and out["turn_id"] and out["redirect_count"] == 0


# --------------------------------------------------------------------------- full runs


RUNS = {
    "deal_struck": [
        ("What do you have for sale?", "negotiation", "pass", 1),
        ("I can pay in gold.", "haggling", "pass", 2),
        ("Too much. Make it cheaper.", "haggling", "redirect", 2),
        ("Fine, you have a deal.", "deal_struck", "pass", 4),
    ],
    "secret_revealed": [
        ("I'm looking for something rare.", "negotiation", "pass", 1),
        ("Would you take a secret instead of gold?", "the_price", "pass", 3),
        ("I confess I once stole a bell from the temple.", "secret_revealed", "pass", 6),
    ],
    "thrown_out": [
        ("I want to buy your wares.", "negotiation", "pass", 1),
        ("You are a cheat and a liar.", "thrown_out", "fail", -1),
    ],
    "walked_away": [
        ("Goodbye.", "walked_away", "fail", 0),
    ],
}


@pytest.mark.parametrize("outcome", sorted(RUNS))
def test_full_run_to_each_outcome(http: Any, sid: str, outcome: str) -> None:
    ok(init(http, sid))
    steps = RUNS[outcome]
    path = ["greeting"]
    out: dict[str, Any] = {}
    for i, (text, state, decision, score) in enumerate(steps):
        out = ok(say(http, sid, text))
        last = i == len(steps) - 1
        assert FIELDS <= set(out)
        assert (out["current_state"], out["decision"], out["score"]) == (state, decision, score), text
        if path[-1] != state:
            path.append(state)
        assert out["state_path"] == path
        assert out["machine_completed"] is last
        assert out["outcome"] == (outcome if last else None)
        assert out["follow_up"] is (not last)
        assert out["scoring_mode"] == "scoring"
        assert out["redirect_count"] == (1 if decision == "redirect" else 0)
        assert "{" not in out["message"] and out["message"].strip()
    assert out["unlocked_machines"] == (["machine_secret"] if outcome == "secret_revealed" else [])
    # a completed machine refuses more messages
    r = say(http, sid, "One more thing...")
    assert r.status_code == 409 and r.json()["error"]["code"] == "CONFLICT"
    assert r.json()["error"]["details"]["outcome"] == outcome
    hist = ok(http.get(f"{P}/history", params={"user_session_id": sid}))
    assert len(hist["messages"]) == 1 + 2 * len(steps)
    assert [m["role"] for m in hist["messages"]][:3] == ["npc", "player", "npc"]


def test_redirects_count_per_state_and_past_the_limit(http: Any, sid: str) -> None:
    ok(init(http, sid, name="Bea", gender="female"))
    r1 = ok(say(http, sid, "Lovely weather."))
    assert (r1["decision"], r1["redirect_count"], r1["current_state"]) == ("redirect", 1, "greeting")
    assert "Bea" in r1["message"] and r1["follow_up"] is True and r1["score"] == 0
    r2 = ok(say(http, sid, "The lanterns are pretty."))
    assert (r2["decision"], r2["redirect_count"]) == ("redirect", 2)
    assert r2["message"] != r1["message"]  # the next authored redirect line
    r3 = ok(say(http, sid, "Do you like cats?"))  # limit 2 → the third redirect throws you out
    assert r3["decision"] == "fail" and r3["current_state"] == "thrown_out"
    assert r3["redirect_limit_exceeded"] is True and r3["machine_completed"] is True
    assert r3["outcome"] == "thrown_out" and r3["score"] == -1 and r3["redirect_count"] == 0
    assert "Three times I asked" in r3["message"]


def test_redirect_count_restarts_in_a_new_state(http: Any, sid: str) -> None:
    ok(init(http, sid))
    assert ok(say(http, sid, "Hmm."))["redirect_count"] == 1
    moved = ok(say(http, sid, "What's for sale?"))
    assert moved["current_state"] == "negotiation" and moved["redirect_count"] == 0
    assert ok(say(http, sid, "Hmm."))["redirect_count"] == 1


def test_unlock_and_machine_id_targeting(http: Any, sid: str) -> None:
    ok(init(http, sid))
    # the locked machine cannot be started yet
    r = init(http, sid, machine_id="machine_secret")
    assert r.status_code == 409
    err = r.json()["error"]
    assert "machine_secret" in err["message"] and "locked" in err["message"]
    assert err["details"]["unlocked_by"] == [{"machine_id": "machine_main", "outcome": "secret_revealed"}]
    for text, _, _, _ in RUNS["secret_revealed"][:-1]:
        ok(say(http, sid, text))
    last = ok(say(http, sid, RUNS["secret_revealed"][-1][0]))
    assert last["unlocked_machines"] == ["machine_secret"]
    first = ok(init(http, sid, machine_id="machine_secret"))
    assert first["machine_id"] == "machine_secret" and "the more you take" in first["message"]
    # the primary machine's session is untouched by messages to the other machine
    r = ok(say(http, sid, "A candle?", machine_id="machine_secret"))
    assert (r["decision"], r["scoring_mode"], r["redirect_count"]) == ("redirect", "pass_fail", 1)
    r = ok(say(http, sid, "Footsteps!", machine_id="machine_secret"))
    assert (r["current_state"], r["score"]) == ("oath", 1)
    r = ok(say(http, sid, "I swear it on my name.", machine_id="machine_secret"))
    assert r["outcome"] == "vault_opened" and r["machine_completed"] and r["score"] == 2
    assert r["unlocked_machines"] == []
    hist = ok(http.get(f"{P}/history", params={"user_session_id": sid, "machine_id": "machine_secret"}))
    assert hist["machine_id"] == "machine_secret" and len(hist["messages"]) == 7
    main = ok(http.get(f"{P}/history", params={"user_session_id": sid}))
    assert main["machine_id"] == "machine_main" and main["session_id"] != hist["session_id"]


def test_not_found_and_validation_errors(http: Any, sid: str) -> None:
    r = init(http, sid, persona="no-such-npc")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    r = say(http, sid, "hello?")  # never initialised
    assert r.status_code == 404 and "init-session" in r.json()["error"]["message"]
    r = init(http, sid, machine_id="machine_nope")
    assert r.status_code == 404 and "machine_nope" in r.json()["error"]["message"]
    r = http.post(f"{P}/init-session", json={"user_session_id": sid, "player_name": "A", "player_gender": "robot"})
    assert r.status_code == 400 and r.json()["error"]["details"][0]["loc"] == ["body", "player_gender"]
    r = say(http, sid, "")
    assert r.status_code == 400 and "message" in r.json()["error"]["message"]
    r = http.get(f"{P}/history", params={"user_session_id": sid})
    assert r.status_code == 404
    r = http.post(f"{P}/reset", params={"user_session_id": sid})
    assert r.status_code == 404
    r = http.get(f"{P}/history")
    assert r.status_code == 400 and "user_session_id" in r.json()["error"]["message"]


def test_reinit_returns_the_same_session(http: Any, sid: str) -> None:
    a = ok(init(http, sid))
    ok(say(http, sid, "What do you sell?"))
    b = ok(init(http, sid, name="Alexandra"))
    assert b["session_id"] == a["session_id"] and b["message"] == a["message"]
    assert b["player_name"] == "Alexandra"
    # the state is kept: the session is still in negotiation, and new lines use the new name
    r = ok(say(http, sid, "Would you take a favour?"))
    assert r["current_state"] == "the_price" and "Alexandra" in r["message"]
    assert len(ok(http.get(f"{P}/history", params={"user_session_id": sid}))["messages"]) == 5


def test_reset_clears_history_and_returns_to_initial_state(http: Any, sid: str) -> None:
    a = ok(init(http, sid))
    for text, *_ in RUNS["thrown_out"]:
        ok(say(http, sid, text))
    assert say(http, sid, "sorry").status_code == 409
    r = ok(http.post(f"{P}/reset", params={"user_session_id": sid}))
    assert r == {"reset": True, "session_id": a["session_id"]}
    hist = ok(http.get(f"{P}/history", params={"user_session_id": sid}))
    assert hist["messages"] == []
    again = ok(say(http, sid, "What's for sale?"))
    assert again["current_state"] == "negotiation" and again["score"] == 1
    assert again["state_path"] == ["greeting", "negotiation"]


def test_reset_of_one_machine_keeps_the_other_and_unlocks(http: Any, sid: str) -> None:
    ok(init(http, sid))
    for text, *_ in RUNS["secret_revealed"]:
        ok(say(http, sid, text))
    ok(init(http, sid, machine_id="machine_secret"))
    ok(say(http, sid, "footsteps", machine_id="machine_secret"))
    ok(http.post(f"{P}/reset", params={"user_session_id": sid, "machine_id": "machine_secret"}))
    assert ok(http.get(f"{P}/history", params={"user_session_id": sid, "machine_id": "machine_secret"}))[
        "messages"] == []
    assert len(ok(http.get(f"{P}/history", params={"user_session_id": sid}))["messages"]) == 7
    r = ok(say(http, sid, "footsteps", machine_id="machine_secret"))
    assert r["current_state"] == "oath"  # back at the riddle, answered again
    # a full reset forgets the unlock: the secret machine is locked again
    ok(http.post(f"{P}/reset", params={"user_session_id": sid}))
    assert init(http, sid, machine_id="machine_secret").status_code == 409
    assert say(http, sid, "footsteps", machine_id="machine_secret").status_code == 409


def test_streamed_message_with_the_client(client: Any, sid: str) -> None:
    from phantom_cli.client.models import NpcMessageResponse, StreamDelta

    client.npc.init_session("abc123", user_session_id=sid, player_name="Alex", player_gender="male")
    events = list(client.npc.message("abc123", message="Show me your wares.", user_session_id=sid, stream=True))
    deltas = [e for e in events if isinstance(e, StreamDelta)]
    done = [e for e in events if isinstance(e, NpcMessageResponse)]
    assert len(deltas) > 3 and len(done) == 1
    assert "".join(d.text for d in deltas).strip() == done[0].message
    assert done[0].current_state == "negotiation" and done[0].decision == "pass"
    hist = client.npc.history("abc123", user_session_id=sid)
    assert [m.role for m in hist.messages] == ["npc", "player", "npc"]
    assert hist.messages[-1].content == done[0].message and hist.messages[-1].state == "negotiation"


def test_stream_errors_before_the_first_byte_are_plain_json(http: Any, sid: str) -> None:
    r = http.post(f"{P}/message", params={"stream": "true"}, json={"message": "hi", "user_session_id": sid})
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")


def test_client_errors_map(client: Any, sid: str) -> None:
    with pytest.raises(NotFoundError):
        client.npc.message("abc123", message="hi", user_session_id=sid)
    client.npc.init_session("abc123", user_session_id=sid, player_name="Al", player_gender="male")
    client.npc.message("abc123", message="goodbye", user_session_id=sid)
    with pytest.raises(ConflictError):
        client.npc.message("abc123", message="wait", user_session_id=sid)


def test_user_isolation(live_server: Any, sid: str) -> None:
    bob_key = live_server.make_key(user="bob")
    with live_server.http() as alice, live_server.http(bob_key) as bob:
        a = ok(init(alice, sid))
        ok(say(alice, sid, "What's for sale?"))
        # bob's session of the same id is his own
        assert say(bob, sid, "hi").status_code == 404
        assert bob.get(f"{P}/history", params={"user_session_id": sid}).status_code == 404
        b = ok(init(bob, sid, name="Bob", gender="male"))
        assert b["session_id"] != a["session_id"] and "Bob" in b["message"]
        assert ok(say(bob, sid, "hmm"))["current_state"] == "greeting"
        assert ok(say(alice, sid, "I can pay in gold"))["current_state"] == "haggling"
        ok(bob.post(f"{P}/reset", params={"user_session_id": sid}))
        assert len(ok(alice.get(f"{P}/history", params={"user_session_id": sid}))["messages"]) == 5


def test_scope_is_required(live_server: Any, sid: str) -> None:
    key = live_server.make_key(user="scoped", scopes=["scratchpad"])
    with live_server.http(key) as c:
        r = init(c, sid)
        assert r.status_code == 403 and "chat:npc" in r.json()["error"]["message"]


def test_restart_mid_conversation(tmp_path: Path) -> None:
    from phantom_cli.backend.testing import LiveServer

    home = tmp_path / "srv"
    s1 = LiveServer(home, engine="scripted", seed=0).start()
    try:
        with s1.http() as c:
            a = ok(init(c, "p1"))
            ok(say(c, "p1", "I'm looking for something rare."))
            ok(say(c, "p1", "Hmm."))
    finally:
        s1.stop()
    s2 = LiveServer(home, engine="scripted", seed=0).start()
    try:
        assert s2.api_key == s1.api_key
        with s2.http() as c:
            b = ok(init(c, "p1"))
            assert b["session_id"] == a["session_id"]
            hist = ok(c.get(f"{P}/history", params={"user_session_id": "p1"}))
            assert len(hist["messages"]) == 5
            r = ok(say(c, "p1", "Hmm again."))
            assert r["redirect_count"] == 2 and r["current_state"] == "negotiation" and r["score"] == 1
            r = ok(say(c, "p1", "Would you take a secret instead?"))
            assert r["current_state"] == "the_price" and r["state_path"] == ["greeting", "negotiation", "the_price"]
    finally:
        s2.stop()


def test_local_npcs_lists_machines_and_player_progress(http: Any, sid: str) -> None:
    data = ok(http.get("/api/v1/local/npcs"))["data"]
    ids = [d["id"] for d in data]
    assert "abc123" in ids and "ironbridge" in ids
    ok(init(http, sid))
    ok(say(http, sid, "What's for sale?"))
    one = ok(http.get("/api/v1/local/npcs/abc123", params={"user_session_id": sid}))
    main = next(m for m in one["machines"] if m["id"] == "machine_main")
    assert main["initial_state"] == "greeting" and "negotiation" in main["states"]
    assert {t["to"] for t in main["states"]["greeting"]["transitions"]} >= {"negotiation", "thrown_out"}
    assert set(main["outcomes"]) == {"deal_struck", "secret_revealed", "thrown_out", "walked_away"}
    assert main["player"]["state_path"] == ["greeting", "negotiation"] and main["player"]["score"] == 1
    secret = next(m for m in one["machines"] if m["id"] == "machine_secret")
    assert secret["locked"] and secret["player"]["unlocked"] is False
    assert http.get("/api/v1/local/npcs/nobody").status_code == 404


def test_second_persona_pass_fail(http: Any, sid: str) -> None:
    first = ok(init(http, sid, persona="ironbridge", name="Kim", gender="female"))
    assert "Kim" in first["message"] and first["machine_id"] == "machine_toll"
    r = ok(say(http, sid, "Hello there.", persona="ironbridge"))
    assert r["decision"] == "redirect" and "my lady" in r["message"]
    r = ok(say(http, sid, "I'm a merchant going to market.", persona="ironbridge"))
    assert (r["current_state"], r["scoring_mode"], r["score"]) == ("toll", "pass_fail", 1)
    r = ok(say(http, sid, "Here you go, two coppers.", persona="ironbridge"))
    assert r["outcome"] == "crossed" and r["score"] == 2


def test_admin_import_validates_and_serves(http: Any, live_server: Any, sid: str) -> None:
    doc = json.loads((Path(__file__).resolve().parents[3] / "phantom_cli/backend/npc/data/abc123_hollow_market.json")
                     .read_text(encoding="utf-8"))
    doc["persona"]["id"] = "merchant2"
    doc["machines"][0]["states"]["greeting"]["transitions"][0]["to"] = "nowhere"
    r = http.put("/api/v1/local/admin/npcs/merchant2", json=doc)
    assert r.status_code == 400
    assert "state 'greeting'" in r.json()["error"]["message"] and "nowhere" in r.json()["error"]["message"]
    doc["machines"][0]["states"]["greeting"]["transitions"][0]["to"] = "thrown_out"
    doc["machines"][0]["opening"] = ["Welcome to my second stall, {player_name}."]
    ok(http.put("/api/v1/local/admin/npcs/merchant2", json=doc))
    assert ok(init(http, sid, persona="merchant2"))["message"] == "Welcome to my second stall, Alex."
    user_key = live_server.make_key(user="carol", scopes=["chat:npc"])
    with live_server.http(user_key) as c:
        assert c.put("/api/v1/local/admin/npcs/merchant2", json=doc).status_code == 403
    ok(http.delete("/api/v1/local/admin/npcs/merchant2"))
    assert init(http, sid + "x", persona="merchant2").status_code == 404
    # the body is read like every other: bad JSON is a 400 naming the body, too much is a 413
    r = http.put("/api/v1/local/admin/npcs/merchant2", content=b"{nope",
                 headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["details"][0]["loc"] == ["body"]
    big = b'{"persona": "' + b"x" * (16 * 1024 * 1024) + b'"}'  # past the 16 MiB cap
    r = http.put("/api/v1/local/admin/npcs/merchant2", content=big,
                 headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_abandoned_stream_leaves_no_half_turn_and_no_stuck_session(live_server: Any, http: Any, sid: str) -> None:
    ok(init(http, sid))
    with http.stream("POST", f"{P}/message", params={"stream": "true"},
                     json={"message": "What's for sale?", "user_session_id": sid}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        next(r.iter_lines())  # read one line, then hang up
    # the rule for every stream (backend README): the abandoned turn is played out and saved
    # whole, never half; a retry with its Idempotency-Key would replay it
    import time

    deadline, n = time.monotonic() + 5, 0
    while time.monotonic() < deadline:
        n = len(ok(http.get(f"{P}/history", params={"user_session_id": sid}))["messages"])
        if n == 3:
            break
        time.sleep(0.05)
    assert n == 3
    out = ok(say(http, sid, "I can pay in gold."))  # the session is not stuck
    assert out["current_state"] == "haggling"
    assert len(ok(http.get(f"{P}/history", params={"user_session_id": sid}))["messages"]) == 5


def test_turn_prompt_is_served_for_npc_turns(http: Any, sid: str) -> None:
    ok(init(http, sid))
    out = ok(say(http, sid, "What's for sale?"))
    r = ok(http.get(f"/api/v1/local/prompts/{out['turn_id']}"))
    assert r["kind"] == "npc" and r["engine"] == "scripted" and r["reply"] == out["message"]
    assert r["context"]["state"] == "negotiation" and r["context"]["lines"] == [out["message"]]
    assert r["messages"][-1] == {"role": "user", "content": "What's for sale?"}


class _FakeLLM:
    """An engine that records what it is asked (stands in for openai / llama-cpp)."""

    name = "fake-llm"
    model = "fake-1"

    def __init__(self, choice: str = "interest", fail_decide: bool = False, fail_stream: bool = False) -> None:
        self.choice, self.fail_decide, self.fail_stream = choice, fail_decide, fail_stream
        self.decisions: list[tuple[Any, list[str]]] = []
        self.prompts: list[Any] = []

    async def decide(self, prompt: Any, choices: Any) -> str:
        from phantom_cli.backend.engines import EngineUnavailable

        if self.fail_decide:
            raise EngineUnavailable("provider timed out")
        self.decisions.append((prompt, list(choices)))
        return self.choice

    async def stream(self, prompt: Any, **kw: Any) -> Any:
        from phantom_cli.backend.engines import EngineUnavailable

        self.prompts.append(prompt)
        yield "Rare goods. "  # a whole sentence: NPC replies stream sentence by sentence
        if self.fail_stream:
            raise EngineUnavailable("connection reset mid-stream")
        yield "Rarer prices."


def test_llm_engine_gets_rules_choices_and_the_authored_line(
    http: Any, sid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import phantom_cli.backend.engines as engines

    ok(init(http, sid))
    fake = _FakeLLM(choice="interest")
    monkeypatch.setattr(engines, "get_engine", lambda settings=None: fake)
    out = ok(say(http, sid, "Got anything special?"))
    assert out["message"] == "Rare goods. Rarer prices." and out["engine"] == "fake-llm"
    assert out["current_state"] == "negotiation" and out["decision"] == "pass"
    dprompt, choices = fake.decisions[0]
    assert choices == ["threaten", "leave", "interest", "redirect"]
    rules = {r["decision"]: r for r in dprompt.context["decision_rules"]}
    assert "negotiation" in rules["interest"]["description"] and "rare" in rules["interest"]["description"]
    assert dprompt.context["goal"].startswith("Size up the traveler")
    rprompt = fake.prompts[0]
    assert rprompt.context["lines"][0].startswith("Rare? Everything here is rare")
    assert "Lines you might say" in rprompt.system and rprompt.context["state"] == "negotiation"
    assert rprompt.messages[-1].content == "Got anything special?"


def test_engine_failures_are_503_and_store_nothing(http: Any, sid: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import phantom_cli.backend.engines as engines

    ok(init(http, sid))
    monkeypatch.setattr(engines, "get_engine", lambda settings=None: _FakeLLM(fail_decide=True))
    # no authored rule matches this one, so the model is asked (rules-then-model)
    r = say(http, sid, "Got anything special?")
    assert r.status_code == 503 and r.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert "timed out" in r.json()["error"]["message"]
    monkeypatch.setattr(engines, "get_engine", lambda settings=None: _FakeLLM(fail_stream=True))
    r = say(http, sid, "What's for sale?")
    assert r.status_code == 503
    r = http.post(f"{P}/message", params={"stream": "true"},
                  json={"message": "What's for sale?", "user_session_id": sid})
    assert r.status_code == 200
    events = [line.split(": ", 1)[1] for line in r.text.splitlines() if line.startswith("event: ")]
    assert events == ["delta", "error"]
    assert '"SERVICE_UNAVAILABLE"' in r.text
    hist = ok(http.get(f"{P}/history", params={"user_session_id": sid}))
    assert len(hist["messages"]) == 1  # only the opening line: no half turn
    monkeypatch.undo()
    assert ok(say(http, sid, "What's for sale?"))["current_state"] == "negotiation"


async def test_concurrent_messages_to_one_session_are_serialised(live_server: Any, sid: str) -> None:
    import asyncio

    async with live_server.async_client() as c:
        await c.npc.init_session("ironbridge", user_session_id=sid, player_name="Zed", player_gender="male")
        # the toll-keeper's challenge allows 2 redirects: 2 concurrent off-topic messages
        outs = await asyncio.gather(*[
            c.npc.message("ironbridge", message=f"chatter {k}", user_session_id=sid) for k in range(2)
        ])
        assert sorted(o.redirect_count for o in outs) == [1, 2]
        outs = await asyncio.gather(*[
            c.npc.message("ironbridge", message=f"I'm visiting family {k}", user_session_id=sid, stream=False)
            for k in range(3)
        ], return_exceptions=True)
        # one honest answer moves on to the toll; the others are taken in the toll state, in turn:
        # a redirect, then one past the toll's limit of 1 (turned back)
        assert not [o for o in outs if isinstance(o, BaseException)]
        states = sorted(o.current_state for o in outs)
        assert states == ["toll", "toll", "turned_back"]
        hist = await c.npc.history("ironbridge", user_session_id=sid)
        players = [m for m in hist.messages if m.role == "player"]
        acknowledged = 2 + len(states)
        assert len(players) == acknowledged and len(hist.messages) == 1 + 2 * acknowledged


def test_reinit_after_reset_says_the_opening_again(http: Any, sid: str) -> None:
    a = ok(init(http, sid))
    ok(say(http, sid, "What's for sale?"))
    ok(http.post(f"{P}/reset", params={"user_session_id": sid}))
    ok(say(http, sid, "Hmm."))  # allowed straight after a reset: the state is the initial one
    b = ok(init(http, sid))
    assert b["message"] == a["message"] and b["session_id"] == a["session_id"]
    hist = ok(http.get(f"{P}/history", params={"user_session_id": sid}))["messages"]
    assert [m["role"] for m in hist] == ["player", "npc"]  # the turn after the reset, no stray opening
    ok(http.post(f"{P}/reset", params={"user_session_id": sid}))
    ok(init(http, sid))
    hist = ok(http.get(f"{P}/history", params={"user_session_id": sid}))["messages"]
    assert [(m["role"], m["content"]) for m in hist] == [("npc", a["message"])]


def test_a_cut_npc_stream_releases_the_session(fresh_server) -> None:  # type: ignore[no-untyped-def]
    """A cut (or abandoned) NPC stream left its generator suspended inside the session lock, so
    every later turn of that session hung until the client's read timeout (seen as a flaky
    tests/cli/test_faults_cli.py)."""
    import httpx

    from phantom_cli.backend.faults import parse_faults

    h = {"Authorization": f"Bearer {fresh_server.api_key}"}
    body = {"user_session_id": "cut", "message": "What do you have for sale?"}
    with httpx.Client(base_url=fresh_server.base_url, headers=h, timeout=5) as c:
        r = c.post("/api/v1/chat/abc123/init-session",
                   json={"user_session_id": "cut", "player_name": "A", "player_gender": "male"})
        assert r.status_code == 200
        fresh_server.app.state.fault_state.faults = parse_faults("cut-stream:1")
        for _ in range(4):
            with pytest.raises(httpx.RemoteProtocolError):
                with c.stream("POST", "/api/v1/chat/abc123/message?stream=true", json=body) as resp:
                    for _chunk in resp.iter_bytes():
                        pass
        fresh_server.app.state.fault_state.faults = None
        r = c.post("/api/v1/chat/abc123/message", json=body)  # would time out while locked
        assert r.status_code == 200
