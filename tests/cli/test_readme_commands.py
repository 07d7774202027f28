"""Issue 18, point 1: every line of the README's "What you can do" block runs against the local
backend (the shared live server), with the ids filled in.

The block is parsed from README.md, so a change there changes (or breaks) this test. Lines that
start the TUI (`phantom chat`, `phantom playground`) are run with ``--help`` (their options
parse, the command exists); the ``$EDITOR`` line runs with a fake editor; ``| jq EXPR`` runs
the phantom part and applies the filter to its JSON output with the jq library.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import jq
import pytest

from .conftest import Cli

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDERS = ("INSTANCE_ID", "SKIN_ID")


def readme_block() -> list[str]:
    """The command lines of the "What you can do" code block (comments dropped)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"^## What you can do\s*\n+```sh\n(.*?)^```", text, re.S | re.M)
    assert m, "README.md has no 'What you can do' sh block"
    lines = []
    for raw in m.group(1).splitlines():
        line = re.sub(r"\s{2,}#.*$", "", raw).strip()  # "cmd    # comment"
        if line:
            lines.append(line)
    return lines


def _steps(line: str) -> list[tuple[list[str], str | None]]:
    """``a && b | jq X`` → [(argv of a, None), (argv of b, "X")]."""
    steps = []
    for part in line.split(" && "):
        command, _, pipe = part.partition(" | ")
        argv = shlex.split(command)
        assert argv[0] == "phantom", line
        filt = None
        if pipe:
            p = shlex.split(pipe)
            assert p[0] == "jq", f"only '| jq' pipes are handled: {line}"
            filt = p[-1]
        steps.append((argv[1:], filt))
    return steps


@pytest.fixture
def fake_editor(tmp_path: Path) -> tuple[str, str]:
    """An $EDITOR that appends a line to the file it is given."""
    marker = "Presentation went well (fixed in the editor)."
    script = tmp_path / "fake-editor.py"
    script.write_text(
        "import sys\n"
        "path = sys.argv[-1]\n"
        "text = open(path, encoding='utf-8').read()\n"
        f"open(path, 'w', encoding='utf-8').write(text.rstrip('\\n') + '\\n' + {marker!r} + '\\n')\n",
        encoding="utf-8",
    )
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}", marker


def test_the_block_is_what_this_test_knows() -> None:
    lines = readme_block()
    assert len(lines) >= 10
    assert any("--companion" in ln for ln in lines)  # the line that used to fail (issue 18)


def test_every_readme_command_runs(cli: Cli, live_server: Any, fake_editor: tuple[str, str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the README's relative paths (phantom_cli/personas/luna.toml)
    editor, marker = fake_editor
    ids: dict[str, str] = {}
    skins = cli("skins", "list", "--jq", ".data[0].id")
    assert skins.exit_code == 0, skins.stderr
    ids["SKIN_ID"] = skins.stdout.strip()
    ran = 0
    for line in readme_block():
        for argv, filt in _steps(line):
            argv = [ids.get(a, a) for a in argv]
            assert not set(argv) & set(PLACEHOLDERS), f"no id known for {line}"
            if argv[0] in ("chat", "playground"):  # the TUI: the command and its options parse
                for a in argv:
                    if a.endswith((".toml", ".yaml")):
                        assert (ROOT / a).is_file(), a
                r = cli(*argv, "--help")
                assert r.exit_code == 0, (line, r.stderr)
                assert "Usage:" in r.stdout
                ran += 1
                continue
            env = {"EDITOR": editor, "VISUAL": ""} if "edit" in argv else None
            r = cli(*argv, env=env)
            assert r.exit_code == 0, (line, r.stdout, r.stderr)
            ran += 1
            if argv[:2] == ["instances", "create"]:
                m = re.search(r"\binst_[A-Za-z0-9_-]+", r.stdout)
                assert m, r.stdout
                ids["INSTANCE_ID"] = m.group(0)
            if filt is not None:
                values = jq.compile(filt).input_text(r.stdout).all()
                assert values and all(isinstance(v, str) and v for v in values), values
            if argv[:2] == ["activities", "list"] and "--companion" in argv:
                assert r.stdout.strip(), "no companion activity listed"
            if argv[:2] == ["scratchpad", "edit"]:
                got = cli("scratchpad", "get", *argv[2:], "--json")
                assert marker in json.loads(got.stdout)["content"], got.stdout
            if argv[:2] == ["media", "generate"]:
                assert r.stdout.strip(), "the generated item was not printed"
    assert ran >= 12
