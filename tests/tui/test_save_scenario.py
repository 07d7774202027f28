"""The chat screen's "save this conversation as a scenario" (ctrl+s, command palette): a modal
asks for the path; the file is what `phantom test record` writes and passes when run."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
import yaml
from helpers import settle, type_and_send
from phantom_cli.tui.app import PhantomApp
from phantom_cli.tui.chat import ChatScreen
from phantom_cli.tui.context import AppContext
from phantom_cli.tui.conversations import CompanionConversation, NpcConversation
from phantom_cli.tui.modals import AskModal
from textual.widgets import Input
from typer.testing import CliRunner


def make_ctx(live_server) -> AppContext:
    return AppContext(client=live_server.async_client(), backend="local", profile="test",
                      player_name="Alex", user_session_id=f"tui-{uuid.uuid4().hex[:10]}")


async def run_suite(live_server, monkeypatch, path: Path):
    """``phantom test PATH`` against the live server (in a thread: it runs its own event loop)."""
    from phantom_cli.cli.main import app

    monkeypatch.setenv("PHANTOM_BASE_URL", live_server.base_url)
    monkeypatch.setenv("PHANTOM_API_KEY", live_server.api_key)
    return await asyncio.to_thread(CliRunner().invoke, app, ["test", str(path)])


async def _save(app, pilot, path: Path) -> None:
    await pilot.press("ctrl+s")
    await pilot.pause()
    modal = app.screen
    assert isinstance(modal, AskModal)
    assert modal.query_one("#answer", Input).value.endswith(".scenario.yaml")  # a default is offered
    modal.query_one("#answer", Input).value = str(path)
    modal.query_one("#answer", Input).focus()
    await pilot.press("enter")
    await settle(app, pilot)


async def test_save_npc_conversation_as_scenario(live_server, monkeypatch, tmp_path: Path) -> None:
    ctx = make_ctx(live_server)
    app = PhantomApp(ctx, start="chat", source=NpcConversation(ctx, "abc123"))
    out = tmp_path / "saved" / "merchant.yaml"
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        footer_keys = {b.key for b in screen.BINDINGS if getattr(b, "show", True)}
        assert "ctrl+s" in footer_keys
        titles = [t for t, _h, _cb in screen.palette_actions()]
        assert "Save conversation as scenario" in titles
        await type_and_send(pilot, "I heard you have something rare for sale.")
        await settle(app, pilot)
        await type_and_send(pilot, "I can pay in gold.")
        await settle(app, pilot)
        await _save(app, pilot, out)
        assert app.screen is screen
    doc = yaml.safe_load(out.read_text())
    sc = doc["scenarios"][0]
    assert sc["npc"] == "abc123" and sc["player"]["name"] == "Alex"
    assert [s["say"] for s in sc["steps"]] == ["I heard you have something rare for sale.", "I can pay in gold."]
    assert sc["steps"][0]["expect"]["state"] == "negotiation" and sc["steps"][0]["expect"]["score"] == 1
    assert sc["steps"][1]["expect"]["state"] == "haggling" and sc["steps"][1]["expect"]["reply"]["contains"]
    r = await run_suite(live_server, monkeypatch, out)
    assert r.exit_code == 0, r.output


async def test_save_companion_with_reset_history_and_nothing_yet(live_server, monkeypatch, tmp_path: Path) -> None:
    ctx = make_ctx(live_server)
    persona = tmp_path / "luna.toml"
    persona.write_text('name = "Luna"\npersonality = "warm"\n', encoding="utf-8")
    conv = CompanionConversation(ctx, {"name": "Luna", "personality": "warm"}, f"tui-{uuid.uuid4().hex[:8]}",
                                 source=str(persona))
    app = PhantomApp(ctx, start="chat", source=conv)
    out = tmp_path / "luna.yaml"
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        await pilot.press("ctrl+s")  # nothing said yet: a warning, no modal
        await pilot.pause()
        assert app.screen is screen and not out.exists()
        await type_and_send(pilot, "Hi Luna! My cat is called Pixel.")
        await settle(app, pilot)
        await _save(app, pilot, out)
    sc = yaml.safe_load(out.read_text())["scenarios"][0]
    assert sc["persona"] == "luna.toml"  # the persona file, relative to the scenario
    exp = sc["steps"][0]["expect"]
    assert exp["moderation"] == {"inbound_prohibited": False, "outbound_filtered": False}
    r = await run_suite(live_server, monkeypatch, out)
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("bad", ["/proc/no/such/dir/x.yaml"])
async def test_save_to_a_bad_path_says_so(live_server, tmp_path: Path, bad: str) -> None:
    ctx = make_ctx(live_server)
    app = PhantomApp(ctx, start="chat", source=NpcConversation(ctx, "abc123"))
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        await type_and_send(pilot, "Show me your wares.")
        await settle(app, pilot)
        await _save(app, pilot, Path(bad))
        assert app.screen is screen
        notes = [str(n.message) for n in app._notifications]
        assert any("Could not save the scenario" in n for n in notes)


def test_tape_history_retry_edit_reset_and_errors() -> None:
    from types import SimpleNamespace as NS

    from phantom_cli.tui.scenario import ScenarioTape, error_actual, target_of

    from phantom_cli.client.errors import APIStatusError
    from phantom_cli.scenarios.record import Recorder

    tape = ScenarioTape()
    tape.history([NS(role="assistant", content="Well, well."), NS(role="user", content="Earlier line")])
    tape.played("Show me your wares.", {"status": 200, "reply": "Rare goods here", "state": "negotiation"})
    tape.played(None, {"status": 200, "reply": "Rare goods indeed", "state": "haggling"})  # a retry
    tape.edited("Show me the rare thing.")
    tape.reset()
    assert tape.turns == 1
    target, ref = target_of(NS(persona_id="abc123", machine_id=None), NS(player_name="Alex", player_gender="male"))
    assert ref is None and target.kind == "npc" and target.player_gender == "male"
    rec = Recorder(target, "t")
    for step in tape.steps:
        rec.reset() if step["kind"] == "reset" else rec.say(step["text"], step["actual"])
    steps = rec.document()["scenarios"][0]["steps"]
    assert steps[0] == {"say": "Earlier line"}  # replayed without expectations
    assert steps[1]["say"] == "Show me the rare thing." and steps[1]["expect"]["state"] == "haggling"
    assert steps[2] == {"reset": True}
    exc = APIStatusError("too long", status=400, code="INVALID_REQUEST")
    assert error_actual(exc) == {"status": 400, "error.code": "INVALID_REQUEST"}
    assert error_actual(ConnectionError("gone")) is None
