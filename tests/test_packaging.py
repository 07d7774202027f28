"""The wheel ships every source and data file of the three source folders (design.md, Layout).

An editable install hides a sub-package missing from pyproject's `packages` list; a built wheel
does not. This builds the real wheel and compares it with the tree.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# source folder -> import path inside the wheel
FOLDERS = {"phantom_cli": "phantom_cli", "tui": "phantom_cli/tui", "config": "phantom_cli/config"}
SHIPPED = {".py", ".tcss", ".json", ".toml", ".yaml", ".png", ".txt"}


def _tracked_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *FOLDERS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / p for p in out if (ROOT / p).exists()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import shutil

    out = tmp_path_factory.mktemp("wheel")
    # build from a clean copy of the project's files: a stale build/ folder in the work tree
    # would hide a package missing from pyproject's list (setuptools reuses build/lib)
    src = tmp_path_factory.mktemp("src")
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for rel in files:
        if (ROOT / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, src / rel)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(src)],
        check=True,
        capture_output=True,
    )
    (path,) = out.glob("phantom_cli-*.whl")
    return path


@pytest.fixture(scope="module")
def wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


def test_wheel_ships_every_source_and_data_file(wheel_names: set[str]) -> None:
    missing = []
    for path in _tracked_files():
        if path.suffix not in SHIPPED:
            continue
        rel = path.relative_to(ROOT)
        folder, rest = rel.parts[0], rel.parts[1:]
        name = "/".join((FOLDERS[folder], *rest))
        if name not in wheel_names:
            missing.append(str(rel))
    assert not missing, f"not in the wheel (add the package to pyproject.toml): {missing}"


def test_wheel_has_no_top_level_tui_or_config(wheel_names: set[str]) -> None:
    tops = {n.split("/")[0] for n in wheel_names}
    assert "tui" not in tops and "config" not in tops
    assert "phantom_cli" in tops


def test_console_script_declared(wheel: Path, wheel_names: set[str]) -> None:
    (entry_points,) = [n for n in wheel_names if n.endswith(".dist-info/entry_points.txt")]
    text = (ROOT / "pyproject.toml").read_text()
    assert 'phantom = "phantom_cli.cli.main:run"' in text
    with zipfile.ZipFile(wheel) as zf:
        shipped = zf.read(entry_points).decode()
    assert "[console_scripts]" in shipped
    assert "phantom = phantom_cli.cli.main:run" in shipped
