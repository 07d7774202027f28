"""``phantom npc lint|graph|walk``: tools for NPC machine authors (phantom-npc/1 files).

Registered on the ``phantom npc`` app by :func:`register`. Start-up rule: typer + stdlib only at
module level (the machine model, pydantic and yaml load inside the commands).
"""

from __future__ import annotations

import sys
from typing import Any

import typer

from phantom_cli.cli.common import EXIT_USAGE, handle_errors

EXIT_FINDINGS = 1


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _load(path: str) -> Any:
    from phantom_cli.backend.npc.lint import load_lenient
    from phantom_cli.backend.npc.machine import MachineError

    try:
        return load_lenient(path)
    except MachineError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(EXIT_USAGE) from None


@handle_errors
def lint_cmd(
    files: list[str] = typer.Argument(..., metavar="FILE", help="NPC machine files (.json or .toml)."),
    json_: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
) -> None:
    """Find unreachable states, dead ends, shadowed transitions, states without a redirect limit
    and placeholders never filled. Exit 1 when anything is found, 0 when clean."""
    import json

    from phantom_cli.backend.npc.lint import lint

    findings = []
    for f in files:
        findings.extend(lint(_load(f), f))
    if json_:
        typer.echo(json.dumps({"files": files, "findings": [x.to_dict() for x in findings]}, indent=2))
    else:
        for x in findings:
            typer.echo(x.line())
        n = len(findings)
        _err(f"{n} finding{'s' if n != 1 else ''} in {len(files)} file{'s' if len(files) != 1 else ''}"
             if n else f"clean: {', '.join(files)}")
    raise typer.Exit(EXIT_FINDINGS if findings else 0)


@handle_errors
def graph_cmd(
    file: str = typer.Argument(..., metavar="FILE", help="An NPC machine file (.json or .toml)."),
    fmt: str = typer.Option("mermaid", "--format", "-f", metavar="mermaid|dot", help="mermaid or dot."),
    machine: str | None = typer.Option(None, "--machine", "-m", metavar="ID", help="Only this machine."),
    out: str | None = typer.Option(None, "-o", "--output", metavar="FILE", help="Write to FILE instead of stdout."),
) -> None:
    """Draw the machines of a file as a Mermaid state diagram or a Graphviz DOT graph."""
    from phantom_cli.backend.npc.lint import dot, mermaid
    from phantom_cli.backend.npc.machine import MachineError

    if fmt not in ("mermaid", "dot"):
        _err(f"--format: must be mermaid or dot, got {fmt!r}")
        raise typer.Exit(EXIT_USAGE)
    persona = _load(file)
    try:
        text = (mermaid if fmt == "mermaid" else dot)(persona, machine)
    except MachineError as exc:
        _err(f"--machine: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    _emit(text, out)


def _emit(text: str, out: str | None) -> None:
    if out is None:
        typer.echo(text, nl=False)
        return
    from phantom_cli.cli.testcmd import write_out

    write_out(out, text)


@handle_errors
def walk_cmd(
    file: str = typer.Argument(..., metavar="FILE", help="An NPC machine file (.json or .toml)."),
    to: str = typer.Option(..., "--to", metavar="OUTCOME", help="The outcome to reach."),
    machine: str | None = typer.Option(None, "--machine", "-m", metavar="ID",
                                       help="The machine (default: the one with that outcome)."),
    out: str | None = typer.Option(None, "-o", "--output", metavar="FILE", help="Write the scenario to FILE."),
    player: str = typer.Option("Tester", "--player-name", metavar="NAME", help="The player's name in the scenario."),
) -> None:
    """Write the shortest scenario (phantom-scenario/1) that reaches OUTCOME, with a line that
    triggers each rule and the state, decision, score and outcome it must show."""
    from phantom_cli.scenarios.record import dump_yaml
    from phantom_cli.scenarios.walk import WalkError, walk_scenario

    persona = _load(file)
    try:
        doc = walk_scenario(persona, to, machine, (player, "non-binary"))
    except WalkError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    head = (f"# The shortest walk to outcome {to!r} of {file} (phantom npc walk).\n"
            f"# Run: phantom test {out or 'FILE'}\n")
    _emit(head + dump_yaml(doc), out)


def register(app: typer.Typer) -> None:
    app.command("lint", epilog="Example: phantom npc lint merchant.json (exit 1 when anything is found)")(lint_cmd)
    app.command("graph", epilog="Examples: phantom npc graph merchant.json --format mermaid; "
                "phantom npc graph merchant.json -f dot | dot -Tsvg > merchant.svg")(graph_cmd)
    app.command("walk", epilog="Example: phantom npc walk merchant.json --to deal_struck -o deal.yaml && "
                "phantom test deal.yaml")(walk_cmd)
