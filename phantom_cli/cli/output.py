"""One place for CLI output: Rich tables at a TTY, tab-separated rows when piped, ``--json``,
``--jq`` and NDJSON streaming for ``--all``.

Everything a server or a model wrote is untrusted: control characters and escape sequences are
made visible (``\\x1b``), never sent to the terminal; Rich gets ``Text`` objects, never markup
strings, so ``[bold red]`` is shown as typed.

Start-up rule: stdlib + typer only at module level; rich and jq are imported inside functions.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

# The unsafe characters and their escaping: one definition in phantom_cli._text.
from phantom_cli._text import humanize_time, json_safe, visible  # noqa: E402,F401 - re-exported

FORCE_TTY_ENV = "PHANTOM_FORCE_TTY"


def plain_cell(value: Any) -> str:
    """A value for a tab-separated row: backslash, tab, newline and controls escaped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    s = str(value).replace("\\", "\\\\")
    return visible(s)


def dumps_json(value: Any, indent: int | None = 2) -> str:
    """JSON text that is safe at a terminal: C1 controls and bidi overrides \\u-escaped too."""
    return json_safe(json.dumps(value, ensure_ascii=False, indent=indent))


def to_data(obj: Any) -> Any:
    """A pydantic model (or list / dict of them) as plain JSON data, extra fields included."""
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json", by_alias=True)
    if isinstance(obj, list | tuple):
        return [to_data(o) for o in obj]
    if isinstance(obj, dict):
        return {k: to_data(v) for k, v in obj.items()}
    return obj


# --------------------------------------------------------------------------- dates / truncation


def truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


# --------------------------------------------------------------------------- columns


def _kind_of(key: str) -> str:
    """Display kind guessed from a field name (``created_at`` / ``createdAt`` are dates)."""
    if key.endswith("_at") or key.endswith("At"):
        return "date"
    if key == "id" or key.endswith("_id") or key.endswith("Id"):
        return "id"
    return "text"


@dataclass(frozen=True)
class Column:
    """One column of a list: header, how to read the value, how to show it to a person."""

    header: str
    key: str | Callable[[dict[str, Any]], Any]
    kind: str = "text"  # text | id | date | bool | num
    max_width: int | None = 40

    def raw(self, item: dict[str, Any]) -> Any:
        return self.key(item) if callable(self.key) else item.get(self.key)


def col(
    header: str,
    key: str | Callable[[dict[str, Any]], Any],
    kind: str = "text",
    width: int | None = 40,
) -> Column:
    return Column(header, key, kind, width)


_GAP = 2  # columns between two table columns (Rich's padding, no edge padding)
_SHORT = 10  # a text column is first shrunk no narrower than this (or its content)
_FREE_TEXT = 32  # text columns at least this wide (max_width) are free text


def _free_text(c: Column) -> bool:
    """A long free-text column (a title, a description): the first to give way."""
    return c.kind == "text" and (c.max_width is None or c.max_width >= _FREE_TEXT)


def fit_widths(
    columns: list[Column], cell_widths: list[list[int]], total: int, header: bool = True
) -> list[int | None]:
    """Column widths for a table ``total`` cells wide (``None``: the column is left out).

    Each column wants its widest cell (text capped at its ``max_width``; ids never capped) and
    never gets narrower than its header. When the row is too wide, in this order: long free
    text (titles, descriptions; the widest first) shrinks to a few characters, dates take their
    compact form ("17m ago"), short text columns (names, categories) shrink to a few characters;
    then free-text columns are left out, the rightmost first; then short text shrinks to its
    header, and dates to theirs. Ids, flags and numbers keep
    their width: an id column is never narrowed, so the result may exceed ``total``.
    """
    n = len(columns)
    head = [len(c.header) if header else 1 for c in columns]
    natural: list[int] = []
    for i, c in enumerate(columns):
        content = max((row[i] for row in cell_widths), default=0)
        if c.kind == "text" and c.max_width:
            content = min(content, c.max_width)
        natural.append(max(content, head[i], 1))
    shown = list(range(n))

    def layout() -> list[int]:
        widths = {i: natural[i] for i in shown}
        budget = total - _GAP * max(0, len(shown) - 1)

        def shrink(which: Callable[[int], bool], floor: Callable[[int], int]) -> None:
            floors = {i: floor(i) for i in shown if which(i)}
            while sum(widths.values()) > budget:
                movable = [i for i in floors if widths[i] > floors[i]]
                if not movable:
                    return
                widths[max(movable, key=lambda i: widths[i])] -= 1

        short = lambda i: max(head[i], min(natural[i], _SHORT))  # noqa: E731
        shrink(lambda i: _free_text(columns[i]), short)
        # dates switch to their compact form ("17m ago") before a name is cut
        shrink(lambda i: columns[i].kind == "date", lambda i: max(head[i], min(natural[i], 7)))
        shrink(lambda i: columns[i].kind == "text", short)
        if sum(widths.values()) > budget and any(_free_text(columns[i]) for i in shown):
            return []  # a free-text column has to go
        shrink(lambda i: columns[i].kind == "text", lambda i: head[i])
        shrink(lambda i: columns[i].kind == "date", lambda i: head[i])
        return [widths[i] for i in shown]

    while True:
        widths = layout()
        if widths:
            break
        shown.remove(max(i for i in shown if _free_text(columns[i])))
    result: list[int | None] = [None] * n
    for i, w in zip(shown, widths, strict=True):
        result[i] = w
    return result


# --------------------------------------------------------------------------- the printer


@dataclass
class OutputMode:
    """How this invocation prints: ``json`` / ``jq`` flags and whether stdout is a terminal."""

    json: bool = False
    jq: str | None = None
    no_color: bool = False
    tty: bool | None = None

    def __post_init__(self) -> None:
        if self.tty is None:
            forced = os.environ.get(FORCE_TTY_ENV)
            if forced is not None and forced != "":
                self.tty = forced not in ("0", "false", "no")
            else:
                self.tty = sys.stdout.isatty()
        if os.environ.get("NO_COLOR"):
            self.no_color = True
        self._jq_program: Any = None
        if self.jq:
            self.json = True
            self._jq_program = compile_jq(self.jq)

    # ---- low level

    def out(self) -> TextIO:
        return sys.stdout

    def console(self, stderr: bool = False) -> Any:
        from rich.console import Console

        return Console(
            file=sys.stderr if stderr else sys.stdout,
            no_color=self.no_color,
            color_system=None if self.no_color else "auto",
            force_terminal=bool(self.tty) if not stderr else None,
            highlight=False,
            emoji=False,
            markup=False,
            soft_wrap=False,
        )

    def emit_json(self, data: Any, indent: int | None = 2) -> None:
        """One JSON document (or the results of --jq on it) to stdout."""
        out = self.out()
        if self._jq_program is not None:
            for result in run_jq(self._jq_program, data):
                if isinstance(result, str):
                    out.write(visible(result, keep_newlines=True) + "\n")
                else:
                    out.write(dumps_json(result, indent=indent) + "\n")
        else:
            out.write(dumps_json(data, indent=indent) + "\n")
        out.flush()

    # ---- one object

    def item(self, obj: Any, fields: list[Column] | None = None) -> None:
        """Print one object: full JSON, or a key/value view for a person / a script."""
        data = to_data(obj)
        if self.json:
            self.emit_json(data)
            return
        rows: list[tuple[str, Any, str]] = []
        if fields:
            rows = [(c.header, c.raw(data), c.kind) for c in fields]
        else:
            rows = [(k, v, _kind_of(k)) for k, v in data.items() if v not in (None, "", [])]
        if not self.tty:
            out = self.out()
            for name, value, _ in rows:
                out.write(f"{name}\t{plain_cell(value)}\n")
            out.flush()
            return
        from rich.table import Table
        from rich.text import Text

        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        for name, value, kind in rows:
            table.add_row(Text(visible(name)), self._cell(value, kind, detail=True))
        self.console().print(table)

    def _cell(self, value: Any, kind: str, detail: bool = False, width: int | None = None) -> Any:
        from rich.text import Text

        if value is None or value == "":
            return Text("—" if not detail else "", style="dim")
        if kind == "date":
            text = humanize_time(value)
            return Text(text if not detail else f"{text} ({visible(value)})")
        if kind == "bool" or isinstance(value, bool):
            return Text("yes" if value else "no", style="green" if value else "dim")
        if isinstance(value, list | dict):
            value = json.dumps(value, ensure_ascii=False)
        text = visible(value, keep_newlines=detail)
        if width and not detail:
            text = truncate(text, width)
        style = "cyan" if kind == "id" else ""
        return Text(text, style=style)

    # ---- lists

    def page(self, page: Any, columns: list[Column], what: str = "items") -> None:
        """Print one page (``data``, ``next_cursor``, ``has_more``)."""
        data = to_data(page)
        if self.json:
            self.emit_json(data)
            return
        items = data.get("data", [])
        if items:
            self.rows(items, columns, header=True)
        elif self.tty:
            print(f"no {what}", file=sys.stderr)
        if data.get("has_more") and data.get("next_cursor"):
            print(
                f"more {what}: --cursor {visible(data['next_cursor'])} (or --all)",
                file=sys.stderr,
            )

    def stream(self, items: Iterable[Any], columns: list[Column], batch: int = 100) -> int:
        """Print every item of a lazy iterator as it arrives (``--all``), in constant memory.

        JSON mode prints NDJSON (one object per line; ``--jq`` runs on each object).
        Returns the number of items printed.
        """
        count = 0
        if self.json:
            for item in items:
                self.emit_json(to_data(item), indent=None)
                count += 1
            return count
        if not self.tty:
            for item in items:
                self.rows([to_data(item)], columns, header=False)
                count += 1
            return count
        chunk: list[dict[str, Any]] = []
        first = True
        for item in items:
            chunk.append(to_data(item))
            count += 1
            if len(chunk) >= batch:
                self.rows(chunk, columns, header=first)
                first, chunk = False, []
        if chunk or first:
            self.rows(chunk, columns, header=first)
        return count

    def rows(self, items: list[dict[str, Any]], columns: list[Column], header: bool = True) -> None:
        if not self.tty:
            out = self.out()
            for item in items:
                out.write("\t".join(plain_cell(c.raw(item)) for c in columns) + "\n")
            out.flush()
            return
        from rich.table import Table
        from rich.text import Text

        console = self.console()
        cells = [[self._cell(c.raw(item), c.kind) for c in columns] for item in items]
        fitted = fit_widths(
            columns,
            [[cell.cell_len for cell in row] for row in cells],
            console.width,
            header=header,
        )
        keep = [i for i, w in enumerate(fitted) if w is not None]
        widths = [int(fitted[i] or 0) for i in keep]
        # Last resort: an id that still does not fit widens the table (the terminal wraps the
        # line) rather than being cut: a person must be able to copy it.
        needed = sum(widths) + _GAP * max(0, len(keep) - 1)
        if needed > console.width:
            console.width = needed
        table = Table(show_header=header, header_style="bold", box=None, pad_edge=False)
        for i, width in zip(keep, widths, strict=True):
            c = columns[i]
            table.add_column(
                c.header,
                no_wrap=True,
                overflow="ellipsis",
                width=width,
                min_width=width,
                justify="right" if c.kind == "num" else "left",
            )
        for item, row in zip(items, cells, strict=True):
            out_cells = []
            for i, w in zip(keep, widths, strict=True):
                cell = row[i]
                if cell.cell_len > w and columns[i].kind == "date":
                    cell = Text(humanize_time(columns[i].raw(item), compact=True), style=cell.style)
                if cell.cell_len > w:
                    cell = Text(truncate(cell.plain, w), style=cell.style)
                out_cells.append(cell)
            table.add_row(*out_cells)
        console.print(table)

    # ---- messages

    def note(self, message: str) -> None:
        """A human note on stderr (never parsed by scripts)."""
        print(message, file=sys.stderr)

    def write_chunk(self, text: str) -> None:
        """A streamed chunk to stdout as it arrives (controls made visible, newlines kept)."""
        out = self.out()
        out.write(visible(text, keep_newlines=True))
        out.flush()


# --------------------------------------------------------------------------- jq


class JqError(ValueError):
    """A --jq expression that does not compile or fails on the data."""


def compile_jq(expr: str) -> Any:
    try:
        import jq
    except ImportError as exc:  # pragma: no cover - jq is a dependency
        raise JqError("--jq needs the 'jq' package (pip install jq)") from exc
    try:
        return jq.compile(expr)
    except ValueError as exc:
        # jq's message spans lines (the expression, a caret, "1 compile error"): one line here
        first = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), str(exc))
        raise JqError(f"--jq: invalid expression {expr!r}: {first.rstrip(':')}") from None


def run_jq(program: Any, data: Any) -> Iterator[Any]:
    try:
        yield from program.input_value(data).all()
    except ValueError as exc:
        raise JqError(f"--jq: {exc}") from None
