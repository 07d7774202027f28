"""The TUI sits on the conversation core and the client, never on the CLI (issue 14)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

TUI = Path(__file__).resolve().parents[2] / "tui"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_no_tui_module_imports_the_cli() -> None:
    offenders = {
        p.name: sorted(n for n in _imports(p) if n == "phantom_cli.cli" or n.startswith("phantom_cli.cli."))
        for p in sorted(TUI.glob("*.py"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_every_tui_screen_loads_no_cli_module() -> None:
    code = (
        "import sys\n"
        "import phantom_cli.tui.app, phantom_cli.tui.chat, phantom_cli.tui.home\n"
        "import phantom_cli.tui.playground, phantom_cli.tui.context, phantom_cli.tui.conversations\n"
        "bad = sorted(m for m in sys.modules if m == 'phantom_cli.cli' or m.startswith('phantom_cli.cli.'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_conversation_core_knows_neither_typer_nor_textual() -> None:
    core = TUI.parent / "phantom_cli" / "conversation"
    for p in core.glob("*.py"):
        names = _imports(p)
        assert not {n for n in names if n.split(".")[0] in ("typer", "textual", "rich")}, p.name
        assert not {
            n for n in names
            if n in ("phantom_cli.cli", "phantom_cli.tui")
            or n.startswith(("phantom_cli.cli.", "phantom_cli.tui."))
        }, p.name
