"""phantom_cli.cli._coerce: command-line values coerced in plain Python (no pydantic), with
messages that name the limit; anything else still goes to Typer's own coercion."""

from __future__ import annotations

import enum
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Literal

import pytest
import typer
from typer.testing import CliRunner

from phantom_cli.cli import _coerce

runner = CliRunner()


@pytest.fixture(autouse=True)
def installed() -> None:
    assert _coerce.install() is True  # the seam exists in the pinned Typer


def _app() -> typer.Typer:
    app = typer.Typer(add_completion=False, rich_markup_mode=None)

    @app.command()
    def cmd(
        name: Annotated[str, typer.Argument()],
        limit: Annotated[int | None, typer.Option("--limit", min=1, max=100)] = None,
        count: Annotated[int, typer.Option("--count")] = 3,
        temp: Annotated[float | None, typer.Option("--temp", min=0, max=2)] = None,
        ratio: Annotated[float, typer.Option("--ratio")] = 0.5,
        at_least: Annotated[int | None, typer.Option("--at-least", min=5)] = None,
        clamped: Annotated[int | None, typer.Option("--clamped", min=1, max=10, clamp=True)] = None,
        flag: Annotated[bool, typer.Option("--flag")] = False,
        field: Annotated[list[str] | None, typer.Option("-f")] = None,
        file: Annotated[Path | None, typer.Option("--file", exists=True, dir_okay=False)] = None,
        out: Annotated[Path | None, typer.Option("--out")] = None,
    ) -> None:
        print(repr((name, limit, count, temp, ratio, at_least, clamped, flag, field, file, out)))

    return app


def run(*args: str) -> tuple[int, str]:
    r = runner.invoke(_app(), list(args))
    return r.exit_code, r.output


def test_plain_values_are_converted() -> None:
    code, out = run("x", "--limit", "7", "--temp", "1.5", "--count", " 4 ", "--flag")
    assert code == 0, out
    assert out.strip() == repr(("x", 7, 4, 1.5, 0.5, None, None, True, None, None, None))


def test_defaults_pass_through_untouched() -> None:
    code, out = run("x")
    assert code == 0, out
    assert out.strip() == repr(("x", None, 3, None, 0.5, None, None, False, None, None, None))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--limit", "abc"], "'abc' is not an integer"),
        (["--limit", "1.5"], "'1.5' is not an integer"),
        (["--limit", "0"], "must be between 1 and 100, got 0"),
        (["--limit", "101"], "must be between 1 and 100, got 101"),
        (["--at-least", "4"], "must be at least 5, got 4"),
        (["--temp", "2.5"], "must be between 0 and 2, got 2.5"),
        (["--temp", "hot"], "'hot' is not a number"),
        (["--temp", "nan"], "must be between 0 and 2, got nan"),
    ],
)
def test_bad_numbers_name_the_option_and_the_limit(args: list[str], message: str) -> None:
    code, out = run("x", *args)
    assert code == 2
    assert f"Invalid value for '{args[0]}'" in out
    assert message in out


def test_clamp_and_unbounded_float() -> None:
    code, out = run("x", "--clamped", "50", "--ratio", "inf")
    assert code == 0, out
    assert ", 10, False," in out and "inf" in out


def test_lists_and_paths(tmp_path: Path) -> None:
    f = tmp_path / "persona.toml"
    f.write_text("name = 'x'\n")
    code, out = run("x", "-f", "a=1", "-f", "b=2", "--file", str(f), "--out", "new/place.json")
    assert code == 0, out
    assert "['a=1', 'b=2']" in out
    assert f"PosixPath('{f}')" in out and "PosixPath('new/place.json')" in out


def test_path_checks_are_typers(tmp_path: Path) -> None:
    code, out = run("x", "--file", str(tmp_path / "missing.toml"))
    assert code == 2 and "does not exist" in out
    code, out = run("x", "--file", str(tmp_path))
    assert code == 2 and "is a directory" in out


class Colour(enum.Enum):
    red = "red"
    blue = "blue"


def test_other_annotations_still_use_typer() -> None:
    app = typer.Typer(add_completion=False, rich_markup_mode=None)

    @app.command()
    def cmd(
        colour: Annotated[Colour, typer.Option("--colour")] = Colour.red,
        size: Annotated[Literal["s", "m"], typer.Option("--size")] = "s",
    ) -> None:
        print(colour.value, size)

    ok = runner.invoke(app, ["--colour", "blue", "--size", "m"])
    assert ok.exit_code == 0 and ok.output.strip() == "blue m"
    bad = runner.invoke(app, ["--colour", "green"])
    assert bad.exit_code == 2 and "'green' is not one of 'red', 'blue'" in bad.output


def test_plain_converter_hands_over_what_it_does_not_know() -> None:
    info = typer.models.OptionInfo()
    assert _coerce.plain_converter(str, info) is not None
    assert _coerce.plain_converter(list[int], info) is not None
    assert _coerce.plain_converter(Colour, info) is None
    assert _coerce.plain_converter(tuple[str, int], info) is None
    assert _coerce.plain_converter(Path, typer.models.OptionInfo(allow_dash=True)) is None
    assert _coerce.plain_converter(int, typer.models.OptionInfo(parser=int)) is None


def test_a_command_with_options_imports_no_pydantic() -> None:
    code = (
        "import sys, typer\n"
        "from phantom_cli.cli import _coerce\n"
        "_coerce.install()\n"
        "app = typer.Typer()\n"
        "@app.command()\n"
        "def cmd(n: int = typer.Option(1, min=1, max=9), s: str = 'a', b: bool = False) -> None:\n"
        "    print(n, s, b)\n"
        "try:\n"
        "    app(['--n', '5', '--s', 'x', '--b'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(any(m.split('.')[0] == 'pydantic' for m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["5", "x", "True", "False"]
