"""Home screen against the local backend: every published activity, fresh list on return,
humanised dates, wrapped descriptions stay indented (QA 5, 6)."""

from __future__ import annotations

import re
import uuid

from helpers import settle
from phantom_cli.tui.app import PhantomApp
from phantom_cli.tui.chat import ChatScreen
from phantom_cli.tui.context import AppContext
from phantom_cli.tui.home import HomeScreen
from textual.widgets import OptionList

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def make_ctx(live_server) -> AppContext:
    return AppContext(client=live_server.async_client(), backend="local", profile="test",
                      player_name="Alex", user_session_id=f"tui-{uuid.uuid4().hex[:10]}")


def option_lines(home: HomeScreen) -> list[str]:
    options = home.query_one("#entries", OptionList)
    return [options.render_line(y).text for y in range(options.size.height)]


async def test_home_lists_other_activities_refreshes_and_humanises(live_server):
    long_tail = "Lisbon-at-dawn-" + uuid.uuid4().hex[:6]
    live_server.add_activity(
        title="Harbour walk", is_companion=False, category="roleplay",
        short_description="A slow walk along the old harbour, past the fish market, the ferry "
                          "piers and the tram stop, ending at a café that overlooks " + long_tail,
    )
    ctx = make_ctx(live_server)
    app = PhantomApp(ctx, start="home")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        home = app.screen
        assert isinstance(home, HomeScreen)
        others = [e for e in home.entries if e.kind == "other"]
        assert any(e.title == "Harbour walk" for e in others), home.problems
        assert not any(e.kind == "other" for e in home.entries if e.title.startswith("Stargazing"))
        # a wrapped description continues indented, never at column 0
        home.query_one("#filter").value = "Harbour"
        await settle(app, pilot)
        lines = option_lines(home)
        tail_line = next(line for line in lines if long_tail in line)
        assert tail_line.startswith("  ") and not tail_line.startswith("  Harbour"), lines
        assert any(line.startswith("  Harbour walk") for line in lines), lines
        # open it: a new instance of the non-companion activity
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ChatScreen) and app.screen.conv.kind == "instance"
        instance_id = app.screen.conv.instance_id
        # back home: the new instance is listed without f5, its date humanised
        await pilot.press("ctrl+o")
        await settle(app, pilot)
        assert app.screen is home
        await pilot.press("ctrl+o")  # "home" again: stays home, opens nothing
        await settle(app, pilot)
        assert app.screen is home
        inst = [e for e in home.entries if e.kind == "instance" and e.key == instance_id]
        assert inst, [e.key for e in home.entries if e.kind == "instance"]
        assert "last used just now" in inst[0].subtitle or "ago" in inst[0].subtitle
        assert not ISO.search(inst[0].subtitle), inst[0].subtitle


async def test_instance_id_is_not_split_in_the_side_panel_at_80_columns(live_server):
    """QA 11: the panel at 80 columns is wide enough for a whole instance id on one line."""
    from phantom_cli.tui.conversations import InstanceConversation
    from phantom_cli.tui.widgets import SidePanel
    from textual.widgets import Static

    act = live_server.add_activity(title="Harbour", is_companion=True, first_message="Ahoy.")
    ctx = make_ctx(live_server)

    async def create():
        return await InstanceConversation.create(ctx, act)

    app = PhantomApp(ctx, start="chat", source=create)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        iid = app.screen.conv.instance_id
        body = app.screen.query_one(SidePanel).query_one("#panel-body", Static)
        lines = [body.render_line(y).text for y in range(body.size.height)]
        assert any(iid in line for line in lines), (iid, lines)
