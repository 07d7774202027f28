"""Fault mode: injected 4xx/5xx, latency and cut streams; the client recovers within budget."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from phantom_cli.backend.faults import parse_faults
from phantom_cli.backend.testing import LiveServer
from phantom_cli.client import errors as E

from .helpers import error_of


@pytest.fixture
def faulty(tmp_path: Path):
    server = LiveServer(tmp_path / "srv", faults="503:0.2,429:0.1,retry-after:0", fault_seed=7).start()
    try:
        yield server
    finally:
        server.stop()


def set_faults(server: LiveServer, spec: str | None) -> None:
    server.app.state.fault_state.faults = parse_faults(spec) if spec else None


def test_parse_faults() -> None:
    spec = parse_faults("503:0.2,429:0.1,latency:300ms,cut-stream:0.1,402:0.05")
    assert spec.statuses == [(503, 0.2), (429, 0.1), (402, 0.05)]
    assert spec.latency == (0.3, 0.3) and spec.cut_stream == 0.1 and spec.retry_after == 1
    assert parse_faults("latency:100-300ms,seed:3").latency == (0.1, 0.3)
    assert parse_faults("latency:0.5s").latency == (0.5, 0.5)
    for bad, needle in [("503:1.5", "between 0 and 1"), ("200:0.1", "400 and 599"), ("bogus:1", "unknown item"),
                        ("503", "key:value"), ("503:0.6,429:0.6", "more than 1"), ("latency:fast", "latency"),
                        ("retry-after:-1", "retry-after")]:
        with pytest.raises(ValueError, match=needle):
            parse_faults(bad)


def test_settings_reject_bad_spec(tmp_path: Path) -> None:
    from phantom_cli.backend.settings import ServerSettings

    with pytest.raises(ValueError, match="faults"):
        ServerSettings.for_home(tmp_path, faults="503:2")


def test_statuses_have_envelope_and_retry_after_never_on_health(fresh_server) -> None:
    set_faults(fresh_server, "503:1")
    with fresh_server.http() as c:
        for _ in range(5):
            assert c.get("/health").status_code == 200
        r = c.get("/api/v1/activities")
        assert r.status_code == 503 and error_of(r)["code"] == "SERVICE_UNAVAILABLE"
        assert r.headers["retry-after"] == "1"
        set_faults(fresh_server, "429:1,retry-after:2")
        r = c.get("/api/v1/personas")
        assert r.status_code == 429 and error_of(r)["code"] == "RATE_LIMITED"
        assert r.headers["retry-after"] == "2"
        set_faults(fresh_server, "402:1")
        r = c.get("/api/v1/skins")
        assert r.status_code == 402 and error_of(r)["code"] == "PAYMENT_REQUIRED"
        set_faults(fresh_server, "500:1")  # the envelope's code is the one of errors.CODES
        r = c.get("/api/v1/skins")
        assert r.status_code == 500 and error_of(r)["code"] == "INTERNAL_ERROR"
    set_faults(fresh_server, "402:1")
    with fresh_server.client(max_retries=3) as cl, pytest.raises(E.PaymentRequiredError):
        cl.skins.list()


def test_latency(fresh_server) -> None:
    set_faults(fresh_server, "latency:500ms")
    with fresh_server.http() as c:
        t0 = time.monotonic()
        c.get("/api/v1/activities")
        assert time.monotonic() - t0 >= 0.5
        t0 = time.monotonic()
        c.get("/health")
        assert time.monotonic() - t0 < 0.5


def test_listings_and_conversations_finish_under_faults(faulty) -> None:
    for i in range(30):
        faulty.add_activity(title=f"F{i}", category="faulty")
    with faulty.client(max_retries=6) as c:
        acts = list(c.activities.iter(category="faulty", page_size=4))
        assert len(acts) == 30 and len({a.id for a in acts}) == 30
        inst = c.instances.create(acts[0].id)
        for turn in range(5):
            reply = "".join(c.instances.chat_stream(inst.id, f"turn {turn}"))
            assert reply
        msgs = list(c.instances.messages.iter(inst.id))
        assert [m.role for m in msgs].count("user") == 5
        assert [m.role for m in msgs].count("assistant") == 5
        for turn in range(3):
            resp = c.companion.chat(chat_id="fault-chat", persona={"name": "Mira"},
                                    messages=[{"role": "user", "content": f"hello {turn}"}])
            assert resp.reply and resp.chat_id == "fault-chat"
    # the faults were real: count what the server injected through a raw client
    with faulty.http() as raw:
        codes = [raw.get("/api/v1/activities").status_code for _ in range(40)]
    assert {503, 429} & set(codes) and 200 in codes


def test_cut_stream_then_retry_does_not_duplicate(fresh_server) -> None:
    aid = fresh_server.add_activity(title="Cutter", first_message="Hello there, this is a long greeting")
    with fresh_server.client(max_retries=0) as c:
        inst = c.instances.create(aid)
        set_faults(fresh_server, "cut-stream:1")
        with pytest.raises(E.StreamInterruptedError) as info:
            "".join(c.instances.chat_stream(inst.id, "hello?", idempotency_key="send-1"))
        assert info.value.partial  # some text arrived before the cut
        set_faults(fresh_server, None)
        time.sleep(0.3)
        # the cut stops the generation half-way: nothing of the turn is kept (no half-written
        # reply, and its user message goes too); the greeting the instance opened with stays
        assert [m.role for m in c.instances.messages.list(inst.id).data] == ["assistant"]

        # retries (same key) on a 50% cut rate until one completes: one turn in the end
        set_faults(fresh_server, "cut-stream:0.5,seed:3")
        done, attempts, text = False, 0, ""
        while not done and attempts < 30:
            attempts += 1
            try:
                text = "".join(c.instances.chat_stream(inst.id, "hello?", idempotency_key="send-1"))
                done = True
            except E.StreamInterruptedError:
                continue
        assert done and text
        set_faults(fresh_server, None)
        msgs = c.instances.messages.list(inst.id, limit=100).data
    assert [m.role for m in msgs] == ["assistant", "user", "assistant"], msgs  # newest first
    assert msgs[0].content == text  # newest first; the greeting last


def test_faults_through_serve_flag_and_profile_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`connect` passes the profile's faults to the auto-started server."""
    from phantom_cli.backend import runtime

    try:
        info = runtime.ensure_server({"idle_timeout": 60, "faults": "503:1", "fault_seed": 1})
        assert httpx.get(info["base_url"] + "/health").status_code == 200
        assert httpx.get(info["base_url"] + "/api/v1/activities").status_code == 503
    finally:
        runtime.stop_server()
