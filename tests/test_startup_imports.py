"""Start-up rule (docs/architecture.md, issue 2 §5): `phantom --help` / `--version` stay light.

Runs ``python -X importtime`` on ``phantom_cli``'s ``__main__`` in a subprocess and reads the modules
it imported from stderr (the import-time trace plus ``sys.modules`` at exit). A module-level import of httpx, pydantic, rich, textual, … anywhere on the path
from ``phantom_cli`` to the root app fails here, not only in benchmarks/startup.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY_PACKAGES = ("httpx", "pydantic", "pydantic_core", "keyring", "textual", "starlette",
                  "uvicorn", "numpy", "PIL", "rich", "platformdirs")
HEAVY_MODULES = ("phantom_cli.backend.app", "phantom_cli.client", "phantom_cli.tui")


# Run the CLI like `python -m phantom_cli ARGS`, and list sys.modules at exit as well: -X importtime
# traces `import` statements, but not modules loaded through importlib.import_module (how the
# root app loads a command module), so both sources are merged.
_RUNNER = (
    "import atexit, runpy, sys\n"
    "atexit.register(lambda: print('MODULES:' + ' '.join(sorted(sys.modules)), file=sys.stderr))\n"
    "sys.argv = ['phantom', *sys.argv[1:]]\n"
    "runpy.run_module('phantom_cli', run_name='__main__', alter_sys=True)\n"
)


def imported_modules(args: list[str], home: Path) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PHANTOM_", "PYTHONPROFILEIMPORTTIME", "PYTHONSTARTUP"))}
    env["PHANTOM_HOME"] = str(home)
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", _RUNNER, *args],
                          capture_output=True, text=True, env=env, timeout=60)
    return modules_in(proc.stderr), proc


def modules_in(stderr: str) -> set[str]:
    """Module names in an ``-X importtime`` trace and a ``MODULES:`` line."""
    modules: set[str] = set()
    for line in stderr.splitlines():
        if line.startswith("MODULES:"):
            modules.update(line[len("MODULES:"):].split())
        elif line.startswith("import time:"):
            name = line.rsplit("|", 1)[-1].strip()
            if name and name != "imported package":
                modules.add(name)
    return modules


def offenders(modules: set[str], packages: tuple[str, ...], prefixes: tuple[str, ...]) -> list[str]:
    bad = {m for m in modules if m.split(".")[0] in packages}
    bad |= {m for m in modules for p in prefixes if m == p or m.startswith(p + ".")}
    return sorted(bad)


@pytest.mark.parametrize("args", [["--help"], ["--version"], []], ids=["help", "version", "bare"])
def test_root_help_and_version_import_nothing_heavy(args: list[str], tmp_path: Path) -> None:
    modules, proc = imported_modules(args, tmp_path)
    if args == ["--version"]:
        assert proc.returncode == 0 and proc.stdout.startswith("phantom "), proc.stdout
    else:
        assert "Usage:" in proc.stdout + proc.stderr
    # the parse worked: the CLI's own modules and typer are in the trace
    assert {"typer", "phantom_cli.cli.main"} <= modules, sorted(modules)[:20]
    assert offenders(modules, HEAVY_PACKAGES, HEAVY_MODULES) == []
    # no command module is built for the root help (COMMANDS is lazy)
    assert not [m for m in modules if m.startswith("phantom_cli.cli.")
                and m not in ("phantom_cli.cli.main", "phantom_cli.cli.common",
                              "phantom_cli.cli._coerce",
                              "phantom_cli.cli._help")]  # the summaries the listing shows


@pytest.mark.parametrize("command", ["chat", "playground"])
def test_tui_launchers_help_imports_no_textual(command: str, tmp_path: Path) -> None:
    modules, proc = imported_modules([command, "--help"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Usage:" in proc.stdout
    assert "phantom_cli.cli.tuicmd" in modules  # the launcher itself was loaded
    assert offenders(modules, ("textual", "httpx", "starlette", "uvicorn", "numpy", "PIL", "rich"),
                     ("phantom_cli.tui", "phantom_cli.client", "phantom_cli.backend.app")) == []


def test_the_parser_sees_a_heavy_import(tmp_path: Path) -> None:
    """Guard the guard: a command that does use the client shows up as an offender."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHANTOM_")}
    env["PHANTOM_HOME"] = str(tmp_path)
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "from phantom_cli.client import Phantom"],
                          capture_output=True, text=True, env=env, timeout=60)
    names = modules_in(proc.stderr)
    assert "httpx" in offenders(names, HEAVY_PACKAGES, HEAVY_MODULES)
    assert "phantom_cli.client" in offenders(names, HEAVY_PACKAGES, HEAVY_MODULES)
