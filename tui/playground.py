"""`phantom playground`: build a companion request, send it, inspect and copy it.

The screen is four widgets that own their values — :class:`PersonaForm`, :class:`TurnForm`,
:class:`ResponseView` and :class:`JsonView` — and one check: the request is validated by
building the SDK's request model (``CompanionChatRequest``, client/models.py); each form shows
the errors of its own fields, naming the field and the limit. Every limit shown comes from
that model (nothing here retypes a number).

Hook for a live figure under the turn form (e.g. a token count): ``TurnForm.set_footer(text)``;
:meth:`PlaygroundScreen.request_changed` is called with the request body after every change.
"""

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
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import (
    Button,
    Footer,
    Input,
    Label,
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
    CompanionChatRequest,
    CompanionChatResponse,
    CompanionPersona,
    PromptTurn,
)

from .clipboard import copy_text
from .context import AppContext
from .errors import describe
from .modals import AskModal
from .sanitize import clean, plain
from .widgets import InertMarkdown, StatusBar, latency_text

LONG_FIELD = 1000  # fields with a larger limit get a multi-line editor
EXTRACT_CHOICES = [("default", "default"), ("true", "true"), ("false", "false")]
CURL_KEY = "$PHANTOM_KEY"
OPTIONS = ("model", "temperature", "max_tokens", "extract_memory")


def persona_limits() -> dict[str, tuple[int, int | None, bool]]:
    from phantom_cli.client.models import PERSONA_LIMITS

    return PERSONA_LIMITS


def bounds(name: str, model: Any = CompanionChatRequest) -> tuple[Any, Any]:
    """``(low, high)`` of a request field, read from the model: ge/le for numbers,
    min/max length for strings and lists."""
    lo = hi = None
    for m in model.model_fields[name].metadata:
        lo = next((v for a in ("ge", "gt", "min_length") if (v := getattr(m, a, None)) is not None), lo)
        hi = next((v for a in ("le", "lt", "max_length") if (v := getattr(m, a, None)) is not None), hi)
    return lo, hi


def limit_of(field: str) -> str:
    """The limit of a request field in words (``temperature`` → ``between 0 and 2``)."""
    if field.startswith("persona."):
        lo, hi, required = persona_limits()[field.split(".", 1)[1]]
        return f"{max(lo, 1)}–{hi} characters" if required else f"at most {hi} characters"
    if field.startswith("messages["):
        lo, hi = bounds("content", model=_chat_message())
        return f"{lo}–{hi} characters"
    if field in ("temperature", "max_tokens"):
        lo, hi = bounds(field)
        kind = "a whole number" if field == "max_tokens" else "a number"
        return f"{kind} between {lo} and {hi}"
    if field == "messages":
        lo, hi = bounds("messages")
        return f"{lo}–{hi} turns, the last from the user"
    if field in ("chat_id", "model"):
        lo, hi = bounds(field)
        extra = f" matching {CHAT_ID_PATTERN}" if field == "chat_id" else ""
        return f"{lo}–{hi} characters{extra}"
    return ""


def _chat_message() -> Any:
    from phantom_cli.client.models import ChatMessage

    return ChatMessage


def request_errors(body: dict[str, Any]) -> list[tuple[str, str]]:
    """``(field, message)`` for each problem of ``body``, found by building the request model;
    each message names the limit."""
    from pydantic import ValidationError

    from phantom_cli.client._validate import errors_of

    try:
        CompanionChatRequest.model_validate(body)
    except ValidationError as exc:
        pairs = errors_of(exc)
    else:
        return []
    out: list[tuple[str, str]] = []
    for field, msg in pairs:
        limit = limit_of(field)
        if field in ("temperature", "max_tokens"):
            msg = _number_message(msg, limit)
        elif field == "messages" and "items" in msg:
            msg = f"{limit}; add a user message" if "at least" in msg else limit
        elif limit and not set(re.findall(r"\d+", msg)) & set(re.findall(r"\d+", limit)):
            msg = f"{msg} ({limit})"  # the message does not name the limit yet
        if (field, msg) not in out:
            out.append((field, msg))
    return out


def _number_message(msg: str, limit: str) -> str:
    """A number out of range → ``between 0 and 2``; not a number at all → the whole limit."""
    if msg.startswith("must be"):
        return "between" + limit.split("between", 1)[1]
    return limit


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


def _show(widget: Static, text: str) -> None:
    widget.update(plain(text))
    widget.display = bool(text)


class FormChanged(Message):
    """A form's value changed (the screen validates and refreshes the preview)."""


# --------------------------------------------------------------------------- persona form


class PersonaForm(VerticalScroll):
    """The companion persona: one field per ``CompanionPersona`` field, with its limit, a live
    counter and its error."""

    can_focus = False  # Tab goes to the fields, never to the invisible scroll container

    def compose(self) -> ComposeResult:
        for name, (_lo, hi, required) in persona_limits().items():
            req = "required" if required else "optional"
            with Horizontal(classes="field-head"):
                yield Label(f"{name} ({req}, ≤{hi})", classes="field-label", markup=False)
                yield Static(f"0/{hi}", id=f"pc-{name}", classes="counter", markup=False)
            if hi is not None and hi >= LONG_FIELD:
                yield TextArea(id=f"pf-{name}", classes="long-field", compact=True)
            else:
                yield Input(id=f"pf-{name}", compact=True)
            yield Static("", id=f"pe-{name}", classes="field-error", markup=False)

    def _widget(self, name: str) -> Input | TextArea:
        return self.query_one(f"#pf-{name}", Input | TextArea)  # type: ignore[arg-type]

    def get(self, name: str) -> str:
        widget = self._widget(name)
        return widget.text if isinstance(widget, TextArea) else widget.value

    def value(self) -> dict[str, str]:
        """The persona as sent: the fields that are filled in."""
        return {n: v for n in persona_limits() if (v := self.get(n))}

    def fill(self, persona: CompanionPersona | dict[str, Any]) -> None:
        data = persona if isinstance(persona, dict) else persona.model_dump()
        for name in persona_limits():
            widget, value = self._widget(name), data.get(name)
            text = "" if value is None else str(value)
            if isinstance(widget, TextArea):
                widget.text = text
            else:
                widget.value = text

    def show_errors(self, errors: dict[str, str]) -> None:
        """``errors``: persona field → message (fields without one are cleared)."""
        for name, (_lo, hi, _req) in persona_limits().items():
            error = errors.get(name)
            counter = self.query_one(f"#pc-{name}", Static)
            counter.update(f"{len(self.get(name))}/{hi}")
            counter.set_class(error is not None, "over")
            _show(self.query_one(f"#pe-{name}", Static), f"{name}: {error}" if error else "")

    @on(Input.Changed)
    @on(TextArea.Changed)
    def _changed(self, event: Message) -> None:
        event.stop()
        self.post_message(FormChanged())


# --------------------------------------------------------------------------- turn form


class TurnForm(VerticalScroll):
    """The turn: chat_id, the options, the message window and its composer. Owns the window."""

    can_focus = False  # Tab goes to the fields, never to the invisible scroll container

    def __init__(self, chat_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.chat_id = chat_id
        self.window: list[dict[str, str]] = []

    def compose(self) -> ComposeResult:
        lo, hi = bounds("chat_id")
        yield Label(f"chat_id (required, {lo}–{hi} characters, pattern {CHAT_ID_PATTERN})",
                    classes="opt-label", markup=False)
        yield Input(self.chat_id, id="opt-chat_id", compact=True)
        yield Static("", id="oe-chat_id", classes="field-error", markup=False)
        m_lo, m_hi = bounds("model")
        t_lo, t_hi = bounds("temperature")
        x_lo, x_hi = bounds("max_tokens")
        with Grid(classes="opts"):
            # row 1 the labels, row 2 the fields: a label wraps at a space (never cut into
            # another number, "max_tokens (1–3200"), and the fields stay in line
            yield Label(f"model ({m_lo}–{m_hi})", classes="opt-label", markup=False)
            yield Label(f"temperature ({t_lo}–{t_hi})", classes="opt-label", markup=False)
            yield Label(f"max_tokens ({x_lo}–{x_hi})", classes="opt-label", markup=False)
            yield Label("extract_memory", classes="opt-label", markup=False)
            yield Input(id="opt-model", placeholder="default", compact=True)
            yield Input(id="opt-temperature", placeholder="0.8", compact=True)
            yield Input(id="opt-max_tokens", placeholder="model limit", compact=True)
            yield Select(EXTRACT_CHOICES, value="default", allow_blank=False,
                         id="opt-extract_memory", compact=True)
        yield Static("", id="oe-options", classes="field-error", markup=False)
        n_lo, n_hi = bounds("messages")
        yield Label(f"Message window ({n_lo}–{n_hi} turns, last from the user; enter "
                    "loads a turn below)", classes="opt-label", markup=False)
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
        yield Static("", id="turn-footer", markup=False)

    # -- values

    @property
    def composer(self) -> TextArea:
        return self.query_one("#msg-content", TextArea)

    @property
    def role(self) -> Select[str]:
        return self.query_one("#msg-role", Select)

    def value(self) -> dict[str, Any]:
        """chat_id, the options that are set, and the window, as the request carries them."""
        body: dict[str, Any] = {"chat_id": self.query_one("#opt-chat_id", Input).value}
        if model := self.query_one("#opt-model", Input).value:
            body["model"] = model
        if temp := self.query_one("#opt-temperature", Input).value.strip():
            try:
                body["temperature"] = float(temp)
            except ValueError:
                body["temperature"] = temp  # the model names the problem
        if mt := self.query_one("#opt-max_tokens", Input).value.strip():
            body["max_tokens"] = int(mt) if mt.isdigit() else mt
        extract = self.query_one("#opt-extract_memory", Select).value
        if extract in ("true", "false"):
            body["extract_memory"] = extract == "true"
        body["messages"] = [dict(m) for m in self.window]
        return body

    def show_errors(self, errors: list[tuple[str, str]]) -> None:
        """The request's errors that belong to this form, each under its own part."""
        groups: dict[str, list[str]] = {"chat_id": [], "options": [], "messages": []}
        for field, msg in errors:
            if field == "chat_id":
                groups["chat_id"].append(f"{field}: {msg}")
            elif field in OPTIONS:
                groups["options"].append(f"{field}: {msg}")
            elif field.startswith("messages"):
                groups["messages"].append(f"{field}: {msg}")
        for part, texts in groups.items():
            _show(self.query_one(f"#oe-{part}", Static), "; ".join(texts))

    def set_footer(self, text: str) -> None:
        """A line under the form (a live figure such as the request's token count)."""
        self.query_one("#turn-footer", Static).update(plain(text))

    # -- the window

    def render_window(self, highlight: int | None = None) -> None:
        options = self.query_one("#window", OptionList)
        options.clear_options()
        for i, m in enumerate(self.window):
            line = Text(f"{i + 1:>3} {m['role']:<9} ", style="bold")
            preview = clean(m["content"]).replace("\n", " ⏎ ")
            line.append(preview[:200])
            options.add_option(Option(line, id=f"m{i}"))
        if highlight is not None and self.window:
            options.highlighted = min(highlight, len(self.window) - 1)
        self.post_message(FormChanged())

    def selected(self) -> int | None:
        i = self.query_one("#window", OptionList).highlighted
        return i if i is not None and 0 <= i < len(self.window) else None

    def append(self, role: str, content: str) -> None:
        self.window.append({"role": role, "content": content})
        self.render_window(len(self.window) - 1)

    def take_composer(self) -> None:
        """A message typed in the composer is the next user turn (used on send)."""
        content = self.composer.text
        if content.strip() and (not self.window or self.window[-1]["role"] != "user"):
            self.role.value = "user"
            self.composer.text = ""
            self.append("user", content)

    @on(OptionList.OptionSelected, "#window")
    def _window_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter (or a click) on a turn loads it into the composer for editing."""
        i = event.option_index
        if 0 <= i < len(self.window):
            self.composer.text = self.window[i]["content"]
            self.role.value = self.window[i]["role"]

    @on(Button.Pressed, "#msg-add")
    def add_message(self) -> None:
        content, role = self.composer.text, str(self.role.value)
        if not content.strip() or len(content) > bounds("content", _chat_message())[1]:
            errors = request_errors({"messages": [{"role": role, "content": content}]})
            text = "; ".join(f"content: {m}" for f, m in errors if f.endswith(".content"))
            _show(self.query_one("#oe-messages", Static), text)
            return
        self.composer.text = ""
        self.role.value = "assistant" if role == "user" else "user"
        self.append(role, content)

    @on(Button.Pressed, "#msg-replace")
    def replace_message(self) -> None:
        i, content = self.selected(), self.composer.text
        if i is None or not content.strip():
            return
        self.window[i] = {"role": str(self.role.value), "content": content}
        self.render_window(i)

    @on(Button.Pressed, "#msg-remove")
    def remove_message(self) -> None:
        i = self.selected()
        if i is None:
            return
        del self.window[i]
        self.render_window(i)

    @on(Button.Pressed, "#msg-clear")
    def clear_window(self) -> None:
        self.window.clear()
        self.render_window()

    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self, event: Message) -> None:
        if getattr(event, "control", None) is not None and getattr(event.control, "id", "") == "msg-role":
            return
        event.stop()
        self.post_message(FormChanged())


# --------------------------------------------------------------------------- response / JSON


class ResponseView(VerticalScroll):
    """The reply, the turn's details and (local backend) the assembled prompt."""

    def compose(self) -> ComposeResult:
        yield Label("Reply", classes="section")
        yield InertMarkdown("*Send a turn with ctrl+s.*", id="reply")
        yield Label("Turn details", classes="section")
        yield Static("", id="response-details", markup=False)
        yield Label("Assembled prompt (local backend)", classes="section")
        yield Static("", id="prompt-view", markup=False)

    async def show(self, response: CompanionChatResponse) -> None:
        await self.query_one("#reply", InertMarkdown).update(clean(response.reply))
        self.query_one("#response-details", Static).update(details_text(response))

    def show_prompt(self, text: str) -> None:
        self.query_one("#prompt-view", Static).update(plain(text))


class JsonView(Vertical):
    """The exact request and response JSON (the request is a live preview until sent)."""

    def compose(self) -> ComposeResult:
        yield Label("Request", classes="section")
        yield TextArea(id="json-request", read_only=True, soft_wrap=True)
        yield Label("Response", classes="section")
        yield TextArea(id="json-response", read_only=True, soft_wrap=True)

    def preview(self, body: dict[str, Any]) -> None:
        self.query_one("#json-request", TextArea).text = pretty_json(body)

    def show_exchange(self, ex: Exchange) -> None:
        self.query_one("#json-request", TextArea).text = pretty_json(ex.request_body)
        body = pretty_json(ex.response_body)
        self.query_one("#json-response", TextArea).text = (
            f"// HTTP {ex.status}\n{body}" if ex.status else body)


def details_text(response: CompanionChatResponse) -> Text:
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


# --------------------------------------------------------------------------- the screen


COPY = Binding.Group("Copy req/resp/curl")  # one footer entry: the footer fits 80 columns


class PlaygroundScreen(Screen[None]):
    CSS_PATH = "playground.tcss"
    BINDINGS = [
        Binding("ctrl+s", "send", "Send"),
        Binding("f2", "show_json", "JSON"),
        Binding("f3", "copy('request')", "Copy req", group=COPY),
        Binding("f4", "copy('response')", "Copy resp", group=COPY),
        Binding("f5", "copy('curl')", "Copy curl", group=COPY),
        Binding("f6", "save('request')", "Save req"),
        Binding("f7", "load_persona", "Load persona", show=False),
        Binding("f8", "save_persona", "Save persona", show=False),
        Binding("f9", "next_tab", "Tabs"),
    ]

    sending: reactive[bool] = reactive(False, bindings=True)
    """A turn is on its way: Send is shown disabled until it is in."""
    answered: reactive[bool] = reactive(False, bindings=True)
    """A response (or an error answer) is in: "Copy resp" is available."""

    def __init__(self, ctx: AppContext, persona: CompanionPersona | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.initial = persona
        self.response: CompanionChatResponse | None = None
        self.exchange: Exchange | None = None
        self.prompt: PromptTurn | None = None
        self.refused = False  # the "Cannot send" bar is up: it follows every change until fixed

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Static("phantom playground — companion chat (seed 000)", id="pg-title", markup=False)
        with TabbedContent(id="pg-tabs", initial="tab-persona"):
            with TabPane("Persona", id="tab-persona"):
                yield PersonaForm(id="persona-form")
            with TabPane("Turn", id="tab-turn"):
                yield TurnForm(f"playground-{self.ctx.profile}", id="turn-form")
            with TabPane("Response", id="tab-response"):
                yield ResponseView(id="response-view")
            with TabPane("JSON", id="tab-json"):
                yield JsonView(id="json-view")
        yield Static("", id="pg-error", markup=False)
        yield StatusBar(id="status")
        yield Footer()

    @property
    def persona_form(self) -> PersonaForm:
        return self.query_one(PersonaForm)

    @property
    def turn_form(self) -> TurnForm:
        return self.query_one(TurnForm)

    @property
    def window(self) -> list[dict[str, str]]:
        return self.turn_form.window

    def on_mount(self) -> None:
        self.query_one("#pg-error").display = False
        self.persona_form.fill(self.initial if self.initial is not None else {"name": "Luna"})
        self.validate_all()
        self.refresh_status()
        self.query_one("#pf-name").focus()  # typing starts in the first field

    def refresh_status(self, latency: float | None = None) -> None:
        from textual.css.query import NoMatches

        try:
            bar = self.query_one(StatusBar)
        except NoMatches:  # not composed yet: on_mount calls this again
            return
        bar.show_context(self.ctx, latency=latency_text(latency))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "send" and self.sending:
            return None  # shown, disabled
        if action == "copy" and parameters == ("response",) and not self.answered:
            return None
        return True

    # ------------------------------------------------------------------ the request

    def request_body(self) -> dict[str, Any]:
        body = self.turn_form.value()
        return {"chat_id": body.pop("chat_id"), "persona": self.persona_form.value(),
                "messages": body.pop("messages"), **body}

    def persona_dict(self) -> dict[str, str]:
        return self.persona_form.value()

    def validate_all(self) -> list[str]:
        """Build the request model; every form shows its fields' errors. Returns them all as
        ``field: message`` lines."""
        body = self.request_body()
        errors = request_errors(body)
        self.persona_form.show_errors(
            {f.split(".", 1)[1]: m for f, m in errors if f.startswith("persona.")})
        self.turn_form.show_errors(errors)
        lines = [f"{f}: {m}" for f, m in errors]
        if self.refused:  # the bar follows the fields, and goes once they are fixed
            self.show_error("Cannot send: " + "; ".join(lines) if lines else None)
        self.request_changed(body)
        return lines

    def request_changed(self, body: dict[str, Any]) -> None:
        """After every change of the request (the preview is refreshed here)."""
        if self.exchange is None and self.is_mounted:
            self.query_one(JsonView).preview(body)

    @on(FormChanged)
    def _form_changed(self, event: FormChanged) -> None:
        event.stop()
        self.validate_all()

    # ------------------------------------------------------------------ sending

    def show_error(self, text: str | None) -> None:
        if not text:
            self.refused = False
        _show(self.query_one("#pg-error", Static), text or "")

    def action_send(self) -> None:
        if self.sending:
            return
        self.turn_form.take_composer()
        errors = self.validate_all()
        if errors:
            self.refused = True
            self.show_error("Cannot send: " + "; ".join(errors))
            return
        self.show_error(None)
        self._send()

    @work(exclusive=True, group="send")
    async def _send(self) -> None:
        self.sending = True
        bar = self.query_one(StatusBar)
        bar.set(request="sending…")  # shown until the answer (or the error) is in
        body = self.request_body()
        try:
            persona = CompanionPersona.model_validate(body["persona"])
            kwargs = {k: body[k] for k in OPTIONS if k in body}
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
        form = self.turn_form
        form.append("assistant", response.reply)
        form.role.value = "user"
        await self.query_one(ResponseView).show(response)
        self._show_exchange()
        self.refresh_status(self.exchange.elapsed_ms if self.exchange else None)
        self.query_one("#pg-tabs", TabbedContent).active = "tab-response"
        await self._load_prompt(response)

    async def _load_prompt(self, response: CompanionChatResponse) -> None:
        view = self.query_one(ResponseView)
        turn_id = _turn_id(response)
        if self.ctx.backend != "local" or not turn_id:
            view.show_prompt("Only the local backend shows the assembled prompt.")
            return
        try:
            self.prompt = await self.ctx.client.local.prompt(turn_id)
        except Exception as exc:
            view.show_prompt(f"Prompt not available: {describe(exc).text()}")
            return
        view.show_prompt(prompt_text(self.prompt))

    def _show_exchange(self) -> None:
        if self.exchange is not None:
            self.answered = True
            self.query_one(JsonView).show_exchange(self.exchange)

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
        self.notify(copy_text(self.app, text, f"the {what}"), markup=False)

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
        self.action_show_tab("tab-json" if tabs.active != "tab-json" else "tab-persona")

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
            self.persona_form.fill(persona)
            self.validate_all()
            self.show_error("; ".join(warnings) or None)
            self.notify(f"Loaded {path}", markup=False)

        self.app.push_screen(AskModal("Load a persona file (.toml, .json, .yaml):", "",
                                      "persona.toml"), done)

    def action_save_persona(self) -> None:
        persona = self.persona_dict()
        errors = [f"{f}: {m}" for f, m in request_errors({"persona": persona})
                  if f.startswith("persona")]
        if errors:
            self.show_error("Cannot save the persona: " + "; ".join(errors))
            return

        def done(path: str | None) -> None:
            if not path:
                return
            from phantom_cli.personafile import save_persona

            try:
                target = save_persona(Path(path).expanduser(),
                                      CompanionPersona.model_validate(persona))
            except Exception as exc:
                self.show_error(f"Cannot save to {path}: {clean(exc)}")
                return
            self.notify(f"Saved the persona to {target}", markup=False)

        self.app.push_screen(AskModal("Save the persona to file (.toml, .json, .yaml):",
                                      "persona.toml"), done)

    def palette_actions(self) -> list[tuple[str, str, Callable[[], Any]]]:
        form = self.turn_form
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
            ("Add message", "Add the composer's text to the window", form.add_message),
            ("Replace message", "Replace the highlighted turn", form.replace_message),
            ("Remove message", "Remove the highlighted turn", form.remove_message),
            ("Clear message window", "Remove every turn", form.clear_window),
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
