"""tui/context.py::build_context: what the profile says reaches the app context."""

from __future__ import annotations

from pathlib import Path

from phantom_cli.config import load_settings
from phantom_cli.tui.context import build_context, persona_files


def _write_profile(**values: str) -> None:
    settings = load_settings()
    for key, value in values.items():
        settings.set("local", key, value)
    settings.save()


async def test_profile_settings_reach_the_context(tmp_path: Path) -> None:
    persona = tmp_path / "mara.toml"
    persona.write_text('name = "Mara"\n')
    _write_profile(player_name="Mara", player_gender="female", npc_persona="npc_ironbridge",
                   companion_persona_file=str(persona))
    ctx = build_context(base_url="http://127.0.0.1:9")  # explicit URL: no server is started
    try:
        assert ctx.backend == "local" and ctx.profile == "local"
        assert ctx.player_name == "Mara" and ctx.player_gender == "female"
        assert ctx.npc_persona == "npc_ironbridge"
        assert ctx.companion_persona_file == persona
        assert persona_files(ctx)[0] == persona  # listed first on the home screen
        # the same NPC session as `phantom npc` for this profile and player
        from phantom_cli.conversation import default_session_id as default_session

        assert ctx.session_id == default_session("local", "Mara") == "cli-local-mara"
        # an explicit base URL is never re-pointed (only the automatic local server is)
        assert ctx.reconnect is not None and ctx.reconnect(ctx.client) is False
    finally:
        await ctx.aclose()


async def test_defaults_without_a_profile_file() -> None:
    from phantom_cli.conversation import os_user as _os_user

    ctx = build_context(base_url="http://127.0.0.1:9")
    await ctx.aclose()

    assert ctx.npc_persona == "abc123"
    assert ctx.player_name == (_os_user() or "Player")
    assert ctx.player_gender == "non-binary"
    assert ctx.companion_persona_file is None
    assert ctx.session_id.startswith("cli-local-")
