"""A cut reply stream during `phantom companion say`: reported, retried without duplicates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from phantom_cli.backend.faults import parse_faults
from phantom_cli.cli.main import app
from phantom_cli.conversation.transcripts import Transcript


def set_faults(server: Any, spec: str | None) -> None:
    server.app.state.fault_state.faults = parse_faults(spec) if spec else None


def test_cut_stream_is_reported_and_the_retry_does_not_duplicate(
    fresh_server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PHANTOM_BASE_URL", fresh_server.base_url)
    monkeypatch.setenv("PHANTOM_API_KEY", fresh_server.api_key)
    persona = tmp_path / "luna.json"
    persona.write_text('{"name": "Luna", "bio": "Loves astronomy."}', encoding="utf-8")
    runner = CliRunner()

    def say(*args: str) -> Any:
        return runner.invoke(
            app, ["companion", "say", "-P", str(persona), "--chat-id", "cut", *args]
        )

    assert say("first").exit_code == 0
    set_faults(fresh_server, "cut-stream:1")
    cut = say("--stream", "tell me about the stars")
    assert cut.exit_code == 3, cut.output
    assert "interrupted" in cut.stderr
    turns = Transcript("cut").turns()
    assert [(t.user, t.answered) for t in turns] == [
        ("first", True),
        ("tell me about the stars", False),
    ]

    set_faults(fresh_server, None)
    ok = say("--json", "tell me about the stars")  # the retry, same text
    assert ok.exit_code == 0, ok.stderr
    turns = Transcript("cut").turns()
    assert [(t.user, t.answered) for t in turns] == [
        ("first", True),
        ("tell me about the stars", True),
    ]
    sent = fresh_server.client().local.prompt(json.loads(ok.stdout)["turn_id"]).messages
    assert [m["content"] for m in sent if m["role"] == "user"] == [
        "first",
        "tell me about the stars",
    ]
