"""`phantom playground`: build a companion request, send it, inspect and copy it."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import (
    Button,
    Footer,
    Input,
    Label,
    Markdown,
    OptionList,
    Select,
    Static,
    TabbedContent,
    TabPane,
    Tabs,
    TextArea,
)
from textual.widgets.option_list import Option

from phantom_cli._text import json_safe
from phantom_cli.client._common import Exchange
from phantom_cli.client.models import (
    CHAT_ID_PATTERN,
    MAX_CONTENT,
    MAX_MESSAGES,
    MAX_TOKENS,
    CompanionChatResponse,
    CompanionPersona,
    PromptTurn,
)

from .context import AppContext
from .errors import describe
from .modals import AskModal
from .sanitize import clean, plain
from .widgets import InertMarkdown, StatusBar, latency_text

LONG_FIELD = 1000  # fields with a larger limit get a multi-line editor
EXTRACT_CHOICES = [("default", "default"), ("true", "true"), ("false", "false")]
CURL_KEY = "$PHANTOM_KEY"


def persona_limits() -> dict[str, tuple[int, int | None, bool]]:
    from phantom_cli.client.models import PERSONA_LIMITS

    return PERSONA_LIMITS


def field_error(name: str, value: str, limits: tuple[int, int | None, bool]) -> str | None:
    """The live error of one persona field, naming the field and the limit."""
    lo, hi, required = limits
    n = len(value)
    if required and n < max(lo, 1):
        return f"{name}: required, {max(lo, 1)}–{hi} characters"
    if hi is not None and n > hi:
        return f"{name}: at most {hi} characters (now {n})"
    return None


def pretty_json(value: Any) -> str:
    """``value`` (a JSON string, bytes, or data) pretty-printed; non-JSON text as is."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return clean(value)
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json", exclude_none=True)
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    # json escapes C0 controls; escape C1 controls and bidi overrides too (still valid JSON)
    return json_safe(text)


def curl_command(method: str, url: str, body: str | None) -> str:
    """The request as a curl command; the key is always ``$PHANTOM_KEY``, never the real one."""
    lines = [f"curl -X {method.upper()} {shlex.quote(url)}",
             f'  -H "Authorization: Bearer {CURL_KEY}"']
    if body:
        lines.append('  -H "Content-Type: application/json"')
        lines.append(f"  -d {shlex.quote(body)}")
    return " \\\n".join(lines)


class PlaygroundScreen(Screen[None]):
    CSS_PATH = "playground.tcss"
    BINDINGS = [
        Binding("ctrl+s", "send", "Send"),
        Binding("f2", "show_json", "JSON"),
        Binding("f3", "copy('request')", "Copy req"),
        Binding("f4", "copy('response')", "Copy resp"),
        Binding("f5", "copy('curl')", "Copy curl"),
        Binding("f6", "save('request')", "Save", show=False),
        Binding("f7", "load_persona", "Load persona", show=False),
        Binding("f8", "save_persona", "Save persona", show=False),
        Binding("f9", "next_tab", "Tabs"),
    ]

    def __init__(self, ctx: AppContext, persona: CompanionPersona | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.initial = persona
        self.window: list[dict[str, str]] = []
        self.response: CompanionChatResponse | None = None
        self.exchange: Exchange | None = None
        self.prompt: PromptTurn | None = None
        self.sending = False

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Static("phantom playground — companion chat (seed 000)", id="pg-title", markup=False)
        with TabbedContent(id="pg-tabs", initial="tab-persona"):
            with TabPane("Persona", id="tab-persona"), VerticalScroll(id="persona-form"):
                for name, limits in persona_limits().items():
                    lo, hi, required = limits
                    req = "required" if required else "optional"
                    with Horizontal(classes="field-head"):
                        yield Label(f"{name} ({req}, ≤{hi})", classes="field-label", markup=False)
                        yield Static(f"0/{hi}", id=f"pc-{name}", classes="counter", markup=False)
                    if hi is not None and hi >= LONG_FIELD:
                        yield TextArea(id=f"pf-{name}", classes="long-field", compact=True)
                    else:
                        yield Input(id=f"pf-{name}", compact=True)
                    yield Static("", id=f"pe-{name}", classes="field-error", markup=False)
            with TabPane("Turn", id="tab-turn"), VerticalScroll(id="turn-form"):
                yield Label(f"chat_id (required, pattern {CHAT_ID_PATTERN})", markup=False)
                yield Input(f"playground-{self.ctx.profile}", id="opt-chat_id", compact=True)
                yield Static("", id="oe-chat_id", classes="field-error", markup=False)
                with Horizontal(classes="opts"):
                    with Vertical():
                        yield Label("model (1–200)")
                        yield Input(id="opt-model", placeholder="default", compact=True)
                    with Vertical():
                        yield Label("temperature (0–2)")
                        yield Input(id="opt-temperature", placeholder="0.8", compact=True)
                    with Vertical():
                        yield Label(f"max_tokens (1–{MAX_TOKENS})")
                        yield Input(id="opt-max_tokens", placeholder="model limit", compact=True)
                    with Vertical():
                        yield Label("extract_memory")
                        yield Select(EXTRACT_CHOICES, value="default", allow_blank=False,
                                     id="opt-extract_memory", compact=True)
                yield Static("", id="oe-options", classes="field-error", markup=False)
                yield Label(f"Message window (1–{MAX_MESSAGES} turns, last from the user; enter "
                            "loads a turn below)", markup=False)
                yield OptionList(id="window")
                with Horizontal(classes="composer"):
                    yield Select([("user", "user"), ("assistant", "assistant")], value="user",
                                 allow_blank=False, id="msg-role", compact=True)
                    yield Button("Add", id="msg-add", variant="primary")
                    yield Button("Replace", id="msg-replace")
                    yield Button("Remove", id="msg-remove")
                    yield Button("Clear", id="msg-clear")
                yield TextArea(id="msg-content", classes="long-field")
                yield Static("", id="oe-messages", classes="field-error", markup=False)
            with TabPane("Response", id="tab-response"), VerticalScroll(id="response-view"):
                yield Label("Reply", classes="section")
                yield InertMarkdown("*Send a turn with ctrl+s.*", id="reply")
                yield Label("Turn details", classes="section")
                yield Static("", id="response-details", markup=False)
                yield Label("Assembled prompt (local backend)", classes="section")
                yield Static("", id="prompt-view", markup=False)
            with TabPane("JSON", id="tab-json"), Vertical(id="json-view"):
                yield Label("Request", classes="section")
                yield TextArea(id="json-request", read_only=True, soft_wrap=True)
                yield Label("Response", classes="section")
                yield TextArea(id="json-response", read_only=True, soft_wrap=True)
        yield Static("", id="pg-error", markup=False)
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#pg-error").display = False
        if self.initial is not None:
            self.fill_persona(self.initial)
        else:
            self.query_one("#pf-name", Input).value = "Luna"
        self.validate_all()
        self.refresh_status()

    def refresh_status(self, latency: float | None = None) -> None:
        from textual.css.query import NoMatches

        try:
            bar = self.query_one(StatusBar)
        except NoMatches:  # not composed yet: on_mount calls this again
            return
        bar.show_context(self.ctx, latency=latency_text(latency))

    # ------------------------------------------------------------------ persona form

    def _field_value(self, name: str) -> str:
        widget = self.query_one(f"#pf-{name}")
        return widget.text if isinstance(widget, TextArea) else widget.value  # type: ignore[attr-defined]

    def _set_field(self, name: str, value: str) -> None:
        widget = self.query_one(f"#pf-{name}")
        if isinstance(widget, TextArea):
            widget.text = value
        else:
            widget.value = value  # type: ignore[attr-defined]

    def fill_persona(self, persona: CompanionPersona) -> None:
        for name in persona_limits():
            value = getattr(persona, name, None)
            self._set_field(name, "" if value is None else str(value))
        self.validate_all()

    def validate_field(self, name: str) -> str | None:
        limits = persona_limits()[name]
        value = self._field_value(name)
        error = field_error(name, value, limits)
        counter = self.query_one(f"#pc-{name}", Static)
        counter.update(f"{len(value)}/{limits[1]}")
        counter.set_class(error is not None, "over")
        err = self.query_one(f"#pe-{name}", Static)
        err.update(plain(error or ""))
        err.display = error is not None
        return error

    def validate_options(self) -> list[str]:
        errors: list[str] = []
        chat_id = self.query_one("#opt-chat_id", Input).value
        if not re.match(CHAT_ID_PATTERN, chat_id):
            errors.append(f"chat_id: 1–128 characters matching {CHAT_ID_PATTERN}")
        self._show("#oe-chat_id", errors[0] if errors else "")
        opt_errors: list[str] = []
        model = self.query_one("#opt-model", Input).value
        if len(model) > 200:
            opt_errors.append(f"model: at most 200 characters (now {len(model)})")
        temp = self.query_one("#opt-temperature", Input).value.strip()
        if temp:
            try:
                t = float(temp)
                if not 0 <= t <= 2:
                    opt_errors.append("temperature: between 0 and 2")
            except ValueError:
                opt_errors.append("temperature: a number between 0 and 2")
        mt = self.query_one("#opt-max_tokens", Input).value.strip()
        if mt:
            if not mt.isdigit() or not 1 <= int(mt) <= MAX_TOKENS:
                opt_errors.append(f"max_tokens: a whole number between 1 and {MAX_TOKENS}")
        self._show("#oe-options", "; ".join(opt_errors))
        msg_errors: list[str] = []
        if not self.window:
            msg_errors.append(f"messages: 1–{MAX_MESSAGES} turns; add a user message")
        elif len(self.window) > MAX_MESSAGES:
            msg_errors.append(f"messages: at most {MAX_MESSAGES} turns (now {len(self.window)})")
        elif self.window[-1]["role"] != "user":
            msg_errors.append('messages: the last message must have role "user"')
        self._show("#oe-messages", "; ".join(msg_errors))
        return errors + opt_errors + msg_errors

    def _show(self, selector: str, text: str) -> None:
        widget = self.query_one(selector, Static)
        widget.update(plain(text))
        widget.display = bool(text)

    def validate_all(self) -> list[str]:
        errors = [e for name in persona_limits() if (e := self.validate_field(name))]
        return errors + self.validate_options()

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        wid = event.input.id or ""
        if wid.startswith("pf-"):
            self.validate_field(wid[3:])
        elif wid.startswith("opt-"):
            self.validate_options()
        self.refresh_request_preview()

    @on(TextArea.Changed)
    def _area_changed(self, event: TextArea.Changed) -> None:
        wid = event.text_area.id or ""
        if wid.startswith("pf-"):
            self.validate_field(wid[3:])
            self.refresh_request_preview()

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        self.refresh_request_preview()

    # ------------------------------------------------------------------ the request

    def persona_dict(self) -> dict[str, str]:
        return {n: v for n in persona_limits() if (v := self._field_value(n))}

    def request_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "chat_id": self.query_one("#opt-chat_id", Input).value,
            "persona": self.persona_dict(),
            "messages": [dict(m) for m in self.window],
        }
        model = self.query_one("#opt-model", Input).value
        if model:
            body["model"] = model
        temp = self.query_one("#opt-temperature", Input).value.strip()
        if temp:
            try:
                body["temperature"] = float(temp)
            except ValueError:
                body["temperature"] = temp
        mt = self.query_one("#opt-max_tokens", Input).value.strip()
        if mt:
            body["max_tokens"] = int(mt) if mt.isdigit() else mt
        extract = self.query_one("#opt-extract_memory", Select).value
        if extract in ("true", "false"):
            body["extract_memory"] = extract == "true"
        return body

    def refresh_request_preview(self) -> None:
        if self.exchange is None and self.is_mounted:
            self.query_one("#json-request", TextArea).text = pretty_json(self.request_body())

    # ------------------------------------------------------------------ message window

    def _render_window(self, highlight: int | None = None) -> None:
        options = self.query_one("#window", OptionList)
        options.clear_options()
        for i, m in enumerate(self.window):
            line = Text(f"{i + 1:>3} {m['role']:<9} ", style="bold")
            preview = clean(m["content"]).replace("\n", " ⏎ ")
            line.append(preview[:200])
            options.add_option(Option(line, id=f"m{i}"))
        if highlight is not None and self.window:
            options.highlighted = min(highlight, len(self.window) - 1)
        self.validate_options()
        self.refresh_request_preview()

    def _selected_index(self) -> int | None:
        return self.query_one("#window", OptionList).highlighted

    @on(OptionList.OptionSelected, "#window")
    def _window_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter (or a click) on a turn loads it into the composer for editing."""
        i = event.option_index
        if 0 <= i < len(self.window):
            self.query_one("#msg-content", TextArea).text = self.window[i]["content"]
            self.query_one("#msg-role", Select).value = self.window[i]["role"]

    @on(Button.Pressed, "#msg-add")
    def action_add_message(self) -> None:
        content = self.query_one("#msg-content", TextArea).text
        role = str(self.query_one("#msg-role", Select).value)
        if not content.strip():
            self._show("#oe-messages", f"content: 1–{MAX_CONTENT} characters")
            return
        if len(content) > MAX_CONTENT:
            self._show("#oe-messages", f"content: at most {MAX_CONTENT} characters (now {len(content)})")
            return
        self.window.append({"role": role, "content": content})
        self.query_one("#msg-content", TextArea).text = ""
        self.query_one("#msg-role", Select).value = "assistant" if role == "user" else "user"
        self._render_window(len(self.window) - 1)

    @on(Button.Pressed, "#msg-replace")
    def action_replace_message(self) -> None:
        i = self._selected_index()
        content = self.query_one("#msg-content", TextArea).text
        if i is None or not (0 <= i < len(self.window)) or not content.strip():
            return
        self.window[i] = {"role": str(self.query_one("#msg-role", Select).value), "content": content}
        self._render_window(i)

    @on(Button.Pressed, "#msg-remove")
    def action_remove_message(self) -> None:
        i = self._selected_index()
        if i is None or not (0 <= i < len(self.window)):
            return
        del self.window[i]
        self._render_window(i)

    @on(Button.Pressed, "#msg-clear")
    def action_clear_window(self) -> None:
        self.window.clear()
        self._render_window()

    # ------------------------------------------------------------------ sending

    def show_error(self, text: str | None) -> None:
        self._show("#pg-error", text or "")

    def action_send(self) -> None:
        if self.sending:
            return
        content = self.query_one("#msg-content", TextArea).text
        if content.strip() and (not self.window or self.window[-1]["role"] != "user"):
            # a message typed in the composer is the next user turn
            self.query_one("#msg-role", Select).value = "user"
            self.window.append({"role": "user", "content": content})
            self.query_one("#msg-content", TextArea).text = ""
            self._render_window(len(self.window) - 1)
        errors = self.validate_all()
        if errors:
            self.show_error("Cannot send: " + "; ".join(errors))
            return
        self.show_error(None)
        self._send()

    @work(exclusive=True, group="send")
    async def _send(self) -> None:
        from phantom_cli.client.models import CompanionPersona

        self.sending = True
        bar = self.query_one(StatusBar)
        bar.set(request="sending…")  # shown until the answer (or the error) is in
        body = self.request_body()
        try:
            persona = CompanionPersona.model_validate(body["persona"])
            kwargs = {k: body[k] for k in ("model", "temperature", "max_tokens", "extract_memory")
                      if k in body}
            response = await self.ctx.client.companion.chat(
                chat_id=body["chat_id"], persona=persona, messages=body["messages"], **kwargs
            )
        except Exception as exc:
            self.exchange = self.ctx.client.last_exchange
            self.show_error(describe(exc).text())
            self._show_exchange()
            return
        finally:
            self.sending = False
            bar.drop("request")
        self.response = response
        self.exchange = self.ctx.client.last_exchange
        reply = response.reply
        self.window.append({"role": "assistant", "content": reply})
        self._render_window(len(self.window) - 1)
        self.query_one("#msg-role", Select).value = "user"
        await self.query_one("#reply", Markdown).update(clean(reply))
        self.query_one("#response-details", Static).update(self._details(response))
        self._show_exchange()
        self.refresh_status(self.exchange.elapsed_ms if self.exchange else None)
        self.query_one("#pg-tabs", TabbedContent).active = "tab-response"
        await self._load_prompt(response)

    def _details(self, response: CompanionChatResponse) -> Text:
        mod, mem = response.moderation, response.memory
        rows: list[tuple[str, Any]] = [
            ("inbound refused", mod.inbound_prohibited),
            ("outbound filtered", mod.outbound_filtered),
            ("moderation reason", mod.reason),
            ("memories retrieved", mem.retrieved_count),
            ("profile used", mem.profile_used),
            ("extraction queued", response.extraction_enqueued),
            ("turn id", _turn_id(response)),
        ]
        out = Text()
        for label, value in rows:
            out.append(f"{label}: ", style="bold")
            if isinstance(value, bool):
                value = "yes" if value else "no"
            out.append("—" if value is None else clean(value))
            out.append("\n")
        return out

    async def _load_prompt(self, response: CompanionChatResponse) -> None:
        view = self.query_one("#prompt-view", Static)
        turn_id = _turn_id(response)
        if self.ctx.backend != "local" or not turn_id:
            view.update(plain("Only the local backend shows the assembled prompt."))
            return
        try:
            self.prompt = await self.ctx.client.local.prompt(turn_id)
        except Exception as exc:
            view.update(plain(f"Prompt not available: {describe(exc).text()}"))
            return
        view.update(plain(prompt_text(self.prompt)))

    def _show_exchange(self) -> None:
        ex = self.exchange
        if ex is None:
            return
        self.query_one("#json-request", TextArea).text = pretty_json(ex.request_body)
        status = ex.status
        body = pretty_json(ex.response_body)
        self.query_one("#json-response", TextArea).text = f"// HTTP {status}\n{body}" if status else body

    # ------------------------------------------------------------------ copy / save

    def text_of(self, what: str) -> str:
        ex = self.exchange
        if what == "request":
            return pretty_json(ex.request_body) if ex else pretty_json(self.request_body())
        if what == "response":
            return pretty_json(ex.response_body) if ex else ""
        if what == "curl":
            if ex is not None:
                return curl_command(ex.method, ex.url, _compact(ex.request_body))
            base = self.ctx.client.base_url or "https://api.phantomrouter.ai"
            from phantom_cli.client.paths import COMPANION_CHAT

            return curl_command("POST", f"{str(base).rstrip('/')}{COMPANION_CHAT}",
                                json.dumps(self.request_body(), ensure_ascii=False))
        raise ValueError(what)

    def action_copy(self, what: str) -> None:
        text = self.text_of(what)
        if not text:
            self.notify(f"No {what} yet: send a turn first.", severity="warning", markup=False)
            return
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied the {what} to the clipboard ({len(text)} characters).", markup=False)

    def action_save(self, what: str) -> None:
        text = self.text_of(what)
        if not text:
            self.notify(f"No {what} yet: send a turn first.", severity="warning", markup=False)
            return
        suffix = ".sh" if what == "curl" else ".json"

        def done(path: str | None) -> None:
            if not path:
                return
            try:
                target = Path(path).expanduser()
                target.write_text(text + "\n", encoding="utf-8")
            except OSError as exc:
                self.show_error(f"Cannot save to {path}: {exc.strerror or exc}")
                return
            self.notify(f"Saved the {what} to {target}", markup=False)

        self.app.push_screen(AskModal(f"Save the {what} to file:", f"{what}{suffix}"), done)

    def action_show_json(self) -> None:
        tabs = self.query_one("#pg-tabs", TabbedContent)
        tabs.active = "tab-json" if tabs.active != "tab-json" else "tab-persona"

    TABS = (("tab-persona", "Persona"), ("tab-turn", "Turn"), ("tab-response", "Response"),
            ("tab-json", "JSON"))

    def action_next_tab(self) -> None:
        """Persona → Turn → Response → JSON → Persona, from any field (no Tab-walking)."""
        tabs = self.query_one("#pg-tabs", TabbedContent)
        ids = [tab_id for tab_id, _ in self.TABS]
        current = ids.index(tabs.active) if tabs.active in ids else -1
        self.action_show_tab(ids[(current + 1) % len(ids)])

    def action_show_tab(self, tab_id: str) -> None:
        tabs = self.query_one("#pg-tabs", TabbedContent)
        # the focus leaves the old pane first: a focused field there would pull its tab back
        tabs.query_one(Tabs).focus()
        tabs.active = tab_id

    def action_load_persona(self) -> None:
        def done(path: str | None) -> None:
            if not path:
                return
            from phantom_cli.personafile import load_persona

            warnings: list[str] = []
            try:
                persona = load_persona(Path(path).expanduser(), warn=warnings.append)
            except Exception as exc:
                self.show_error(f"Cannot load {path}: {clean(exc)}")
                return
            self.fill_persona(persona)
            self.show_error("; ".join(warnings) or None)
            self.notify(f"Loaded {path}", markup=False)

        self.app.push_screen(AskModal("Load a persona file (.toml, .json, .yaml):", "",
                                      "persona.toml"), done)

    def action_save_persona(self) -> None:
        errors = [e for name in persona_limits() if (e := self.validate_field(name))]
        if errors:
            self.show_error("Cannot save the persona: " + "; ".join(errors))
            return

        def done(path: str | None) -> None:
            if not path:
                return
            from phantom_cli.client.models import CompanionPersona
            from phantom_cli.personafile import save_persona

            try:
                persona = CompanionPersona.model_validate(self.persona_dict())
                target = save_persona(Path(path).expanduser(), persona)
            except Exception as exc:
                self.show_error(f"Cannot save to {path}: {clean(exc)}")
                return
            self.notify(f"Saved the persona to {target}", markup=False)

        self.app.push_screen(AskModal("Save the persona to file (.toml, .json, .yaml):",
                                      "persona.toml"), done)

    def palette_actions(self) -> list[tuple[str, str, Callable[[], Any]]]:
        return [
            ("Send turn", "Validate and send the request (ctrl+s)", self.action_send),
            ("Show JSON", "The exact request and response JSON (f2)", self.action_show_json),
            ("Copy request JSON", "To the clipboard (f3)", lambda: self.action_copy("request")),
            ("Copy response JSON", "To the clipboard (f4)", lambda: self.action_copy("response")),
            ("Copy request as curl", "With $PHANTOM_KEY in place of the key (f5)",
             lambda: self.action_copy("curl")),
            ("Save request JSON to file", "(f6)", lambda: self.action_save("request")),
            ("Save response JSON to file", "", lambda: self.action_save("response")),
            ("Save curl command to file", "", lambda: self.action_save("curl")),
            ("Load persona file", "Fill the form from a persona file (f7)", self.action_load_persona),
            ("Save persona file", "Write the form to a persona file (f8)", self.action_save_persona),
            ("Add message", "Add the composer's text to the window", self.action_add_message),
            ("Replace message", "Replace the highlighted turn", self.action_replace_message),
            ("Remove message", "Remove the highlighted turn", self.action_remove_message),
            ("Clear message window", "Remove every turn", self.action_clear_window),
            ("Next tab", "Persona → Turn → Response → JSON (f9)", self.action_next_tab),
            *[(f"Show the {label} tab", "", lambda t=tab_id: self.action_show_tab(t))
              for tab_id, label in self.TABS],
        ]


def _compact(body: Any) -> str | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        return body
    return json.dumps(body, ensure_ascii=False)


def prompt_text(prompt: PromptTurn) -> str:
    """The assembled prompt as readable text (``role: content`` blocks, or JSON)."""
    if prompt.messages:
        parts = []
        for m in prompt.messages:
            parts.append(f"── {clean(m.get('role', '?'))} ──\n{clean(m.get('content', ''))}")
        return "\n".join(parts)
    return pretty_json(prompt)


def _turn_id(response: CompanionChatResponse) -> str | None:
    """The local backend's ``turn_id`` extension of a companion reply (None elsewhere)."""
    value = (response.model_extra or {}).get("turn_id")
    return str(value) if value else None
