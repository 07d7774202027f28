"""Issue 18, points 12–16: what a newcomer trips over in the TUI (playground copy, cut labels,
focus, narrow terminals, the chat input)."""

from __future__ import annotations

import pytest
from helpers import screen_text, settle
from phantom_cli.tui import clipboard
from phantom_cli.tui.app import PhantomApp
from phantom_cli.tui.chat import ChatScreen
from phantom_cli.tui.conversations import CompanionConversation, NpcConversation
from phantom_cli.tui.playground import PlaygroundScreen
from phantom_cli.tui.widgets import ChatInput, SidePanel
from textual.widgets import Input, Label, Static, TabbedContent, TextArea

from phantom_cli.client.models import CompanionPersona

LUNA = CompanionPersona(name="Luna", chat_style="playful")


def notices(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


# --------------------------------------------------------------------------- 12: copy


@pytest.mark.parametrize("native", [True, False])
async def test_copy_claims_only_what_it_can_confirm(ctx, monkeypatch, native):
    copied: list[str] = []

    def fake_native(text: str) -> bool:
        copied.append(text)
        return native

    monkeypatch.setattr(clipboard, "native_copy", fake_native)
    app = PhantomApp(ctx, start="playground")
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("f5")
        await pilot.pause()
        assert copied and "$PHANTOM_KEY" in copied[-1]
        assert "$PHANTOM_KEY" in app.clipboard  # OSC 52 is sent as well
        message = notices(app)[-1]
        if native:
            assert message.startswith("Copied the curl to the clipboard")
        else:
            assert "Copied" not in message
            assert "OSC 52" in message and "may not arrive" in message and "F6" in message


async def test_native_copy_without_a_tool_is_false(monkeypatch):
    """No clipboard tool (no DISPLAY, no WAYLAND_DISPLAY, no xclip): not a success."""
    import pyperclip

    def no_tool(_text: str) -> None:
        raise pyperclip.PyperclipException("no copy/paste mechanism")

    monkeypatch.setattr(pyperclip, "copy", no_tool)
    assert clipboard.native_copy("x") is False


async def test_save_to_file_is_in_the_footer(ctx):
    app = PhantomApp(ctx, start="playground")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        text = screen_text(app).splitlines()[-1]
        assert "f6 Save req" in text and "f9 Tabs" in text  # the whole footer fits 80 columns


# --------------------------------------------------------------------------- 13: labels


async def test_turn_labels_are_never_cut_into_another_number(ctx):
    app = PhantomApp(ctx, start="playground")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f9")  # the Turn tab
        await settle(app, pilot)
        assert app.screen.query_one("#pg-tabs", TabbedContent).active == "tab-turn"
        shown = screen_text(app)
        assert "(1–32000)" in shown and "(0–2)" in shown and "(1–200)" in shown
        for label in app.screen.query("#turn-form Label"):
            text = str(label.render())
            lines = [label.render_line(y).text.strip() for y in range(label.size.height)]
            assert " ".join(lines).split() == text.split(), (text, lines)
        # the fields of the options row stay on one line
        ys = {app.screen.query_one(f"#opt-{n}").region.y
              for n in ("model", "temperature", "max_tokens", "extract_memory")}
        assert len(ys) == 1


# --------------------------------------------------------------------------- 14: focus


async def test_first_tab_lands_on_a_visible_field_and_keeps_the_key(ctx):
    app = PhantomApp(ctx, start="playground")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        screen.action_show_tab("tab-persona")  # focus on the tabs, as after f9
        await pilot.pause()
        await pilot.press("tab")
        focused = app.focused
        assert isinstance(focused, Input | TextArea) and focused.id == "pf-name"
        assert focused.region.height > 0 and focused.region in screen.region
        await pilot.press("end", "x")
        assert screen.query_one("#pf-name", Input).value == "Lunax"
        # Tab walks through fields only, never through the (invisible) scroll container
        for _ in range(5):
            await pilot.press("tab")
            assert isinstance(app.focused, Input | TextArea), app.focused


async def test_focused_field_has_a_clear_style(ctx):
    app = PhantomApp(ctx, start="playground")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        name = app.screen.query_one("#pf-name", Input)
        other = app.screen.query_one("#pf-nickname", Input)
        name.focus()
        await pilot.pause()
        assert name.styles.border_left[0] != "" and other.styles.border_left[0] in ("", "none")
        assert name.styles.background != other.styles.background


async def test_cannot_send_bar_follows_the_fields(ctx, fake):
    app = PhantomApp(ctx, start="playground")
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        bar = screen.query_one("#pg-error", Static)
        screen.query_one("#opt-temperature", Input).value = "3"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert bar.display and "temperature: between 0 and 2" in str(bar.render())
        screen.query_one("#opt-temperature", Input).value = "0.5"
        await pilot.pause()
        assert bar.display and "temperature" not in str(bar.render())
        assert "messages:" in str(bar.render())
        screen.query_one("#msg-content", TextArea).text = "hello"
        screen.query_one("#msg-add").press()
        await pilot.pause()
        assert not bar.display  # fixed: the bar is gone without sending
        assert not fake.calls


# --------------------------------------------------------------------------- 15: narrow


async def test_side_panel_hides_on_a_narrow_terminal(ctx):
    app = PhantomApp(ctx, start="chat", source=CompanionConversation(ctx, LUNA, "user-42"))
    async with app.run_test(size=(50, 15)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        panel = screen.query_one(SidePanel)
        assert not panel.display
        assert screen.query_one("#transcript").size.width >= 45
        await pilot.press("ctrl+b")  # still there on demand
        await pilot.pause()
        assert panel.display and panel.outer_size.width == 30
    app = PhantomApp(ctx, start="chat", source=CompanionConversation(ctx, LUNA, "user-42"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        panel = app.screen.query_one(SidePanel)
        assert panel.display and panel.outer_size.width == 30


async def test_home_shows_the_npcs_at_80x24(ctx, fake):
    """Eight activities, five of them with two-line descriptions, and an NPC: everything
    shows above the fold (with the bordered filter and list the NPC was below it)."""
    long = "A description long enough to wrap onto a second line at eighty columns wide."
    fake.activity_data = [
        {"id": f"c{i}", "title": f"Companion {i}", "is_companion": True,
         "short_description": long if i >= 3 else "short"} for i in range(5)
    ] + [
        {"id": f"o{i}", "title": f"Adventure {i}", "is_companion": False, "category": "mystery",
         "short_description": long} for i in range(3)
    ]
    app = PhantomApp(ctx, start="home")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        shown = screen_text(app)
        assert "NPCs" in shown and "Merchant of the Hollow Market" in shown


# --------------------------------------------------------------------------- 16: chat input


async def test_chat_input_has_a_placeholder_naming_ctrl_j(ctx):
    app = PhantomApp(ctx, start="chat", source=CompanionConversation(ctx, LUNA, "user-42"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        box = app.screen.query_one(ChatInput)
        assert "ctrl+j" in str(box.placeholder) and "enter sends" in str(box.placeholder)
        assert "Message (enter sends, ctrl+j new line)" in screen_text(app)


async def test_unknown_npc_lists_the_known_ones_and_disables_the_input(ctx):
    app = PhantomApp(ctx, start="chat", source=NpcConversation(ctx, "nosuch"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        banner = str(screen.query_one("#error-banner", Static).render())
        assert "nosuch" in banner and "Known NPC personas: abc123" in banner
        box = screen.query_one(ChatInput)
        assert box.disabled and "Cannot send" in str(box.placeholder)
        assert "Cannot send: the conversation did not open" in screen_text(app)
        await pilot.press("h", "i")
        assert box.text == ""  # nothing was typed into a box that cannot send …
        assert isinstance(app.screen, ChatScreen)  # … and nothing crashed


async def test_labels_in_the_playground_render_with_their_limits(ctx):
    """14.6: the limits shown come from the request model, not from numbers in the TUI."""
    from phantom_cli.client.models import CompanionChatRequest

    app = PhantomApp(ctx, start="playground")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, PlaygroundScreen)
        labels = " ".join(str(lbl.render()) for lbl in app.screen.query("#turn-form Label"))
        for meta in CompanionChatRequest.model_fields["max_tokens"].metadata:
            if getattr(meta, "le", None):
                assert f"(1–{meta.le})" in labels
        assert isinstance(app.screen.query_one("#turn-form Label"), Label)
