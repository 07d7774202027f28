"""``phantom test``: run scenario files (phantom-scenario/1) against the local backend or the
hosted API; ``phantom test schema`` prints the JSON Schema. Module level: typer + stdlib only."""

from __future__ import annotations

import os
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from phantom_cli.cli import _help
from phantom_cli.cli.common import EXIT_INTERRUPTED, EXIT_USAGE, get_state, handle_errors

EXIT_FAILED = 1


class DefaultGroup(TyperGroup):
    """``phantom test SUITE…`` means ``phantom test run SUITE…`` (sub-commands stay reachable)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=DefaultGroup,
    no_args_is_help=True,
    add_completion=False,
    help=_help.group_help("test"),
    epilog=_help.examples("test"),
)


@app.command("schema", epilog="Example: phantom test schema > phantom-scenario.schema.json")
def schema_cmd() -> None:
    """Print the JSON Schema of phantom-scenario/1 (for editors: yaml-language-server etc.)."""
    import json

    from phantom_cli.scenarios.load import schema

    typer.echo(json.dumps(schema(), indent=2))


def _err(msg: str) -> None:
    print(msg, file=sys.stderr)


@app.command(
    "run",
    epilog="Examples: phantom test examples/scenarios -j 4; phantom test s.yaml --repeat 5 "
    "--min-pass-rate 0.8; phantom test s.yaml --shard 2/3 --junit junit.xml --json results.json; "
    "phantom test -p hosted s.yaml",
)
@handle_errors
def run_cmd(
    ctx: typer.Context,
    paths: list[str] = typer.Argument(..., metavar="SUITE", help="Scenario files or folders."),
    jobs: int | None = typer.Option(None, "-j", "--jobs", metavar="N", help="Scenarios run at once (default: CPU count)."),
    seed: int | None = typer.Option(None, "--seed", help="Reproducible run: ids (and the scripted engine) follow it."),
    repeat: int = typer.Option(1, "--repeat", help="Run every scenario N times; report a pass rate."),
    min_pass_rate: float = typer.Option(1.0, "--min-pass-rate", help="With --repeat: the pass rate a scenario needs (0..1)."),
    keyword: str | None = typer.Option(None, "-k", metavar="EXPR", help="Select scenarios by name: substrings with and/or/not."),
    exitfirst: bool = typer.Option(False, "-x", "--exitfirst", help="Stop at the first failure."),
    shard: str | None = typer.Option(None, "--shard", metavar="I/N", help="Run only shard I of N (stable split)."),
    profile: str | None = typer.Option(None, "-p", "--profile", metavar="PROFILE", help="Settings profile: local or hosted (or any)."),
    junit: str | None = typer.Option(None, "--junit", metavar="FILE", help="Write JUnit XML for CI."),
    json_out: str | None = typer.Option(None, "--json", metavar="FILE", help="Write the results as JSON."),
    keep_steps: bool = typer.Option(False, "--steps", help="Keep every step's actual values in --json (not only failures)."),
    extraction_timeout: float = typer.Option(10.0, "--extraction-timeout", help="Seconds wait_for_extraction polls at most."),
) -> None:
    """Run scenario files and check every expectation."""
    from phantom_cli.scenarios.load import ScenarioFileError, discover, load_suite
    from phantom_cli.scenarios.select import SelectError, parse_shard, select

    if repeat < 1:
        _err("--repeat: must be at least 1")
        raise typer.Exit(EXIT_USAGE)
    if not 0.0 <= min_pass_rate <= 1.0:
        _err("--min-pass-rate: must be between 0 and 1")
        raise typer.Exit(EXIT_USAGE)
    if jobs is not None and jobs < 1:
        _err("-j: must be at least 1")
        raise typer.Exit(EXIT_USAGE)
    try:
        shard_spec = parse_shard(shard) if shard else None
        if keyword:
            from phantom_cli.scenarios.select import keyword_matcher

            keyword_matcher(keyword)
    except SelectError as exc:
        _err(str(exc))
        raise typer.Exit(EXIT_USAGE) from None

    files = discover(paths)
    if not files:
        _err(f"no scenario files in {', '.join(paths)}")
        raise typer.Exit(EXIT_USAGE)
    suites, bad = [], 0
    for f in files:
        try:
            suites.append(load_suite(f))
        except ScenarioFileError as exc:
            bad += 1
            _err(f"error: {exc}")
    if bad:
        raise typer.Exit(EXIT_USAGE)
    scenarios = select([sc for s in suites for sc in s.scenarios], keyword, shard_spec)
    if not scenarios:
        _err("no scenarios selected" + (f" (shard {shard})" if shard_spec else ""))
        raise typer.Exit(0 if shard_spec else EXIT_USAGE)

    state = get_state(ctx)
    if profile:
        state.profile, state._effective = profile, None
    from phantom_cli.cli.common import _open

    client = _open(ctx, "connect_async", {})
    code = _run(client, scenarios, jobs or os.cpu_count() or 1, seed, repeat, min_pass_rate,
                exitfirst, keep_steps, extraction_timeout, junit, json_out, state.no_color)
    raise typer.Exit(code)


def _run(client: Any, scenarios: list[Any], jobs: int, seed: int | None, repeat: int, min_pass_rate: float,
         exitfirst: bool, keep_steps: bool, extraction_timeout: float, junit: str | None,
         json_out: str | None, no_color: bool) -> int:
    import asyncio
    import signal

    from phantom_cli.scenarios.report import write_json, write_junit
    from phantom_cli.scenarios.runner import Runner, RunOptions

    from .testview import View

    total = len(scenarios) * repeat
    view = View(total, no_color=no_color)
    opts = RunOptions(jobs=jobs, seed=seed, repeat=repeat, min_pass_rate=min_pass_rate,
                      fail_fast=exitfirst, keep_steps=keep_steps,
                      extraction_timeout=extraction_timeout)
    runner = Runner(client, opts, on_start=view.started, on_result=view.finished)

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, runner.interrupt)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not the main thread (tests in-process): KeyboardInterrupt still ends the run
        try:
            async with client:
                return await runner.run(scenarios)
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    summary = None
    with view:
        try:
            summary = asyncio.run(main())
        except KeyboardInterrupt:
            runner.interrupted = True
    if summary is None:
        from phantom_cli.scenarios.model import RunSummary

        summary = RunSummary(results=runner.results, duration_s=0.0, seed=seed, repeat=repeat,
                             min_pass_rate=min_pass_rate, interrupted=True)
    try:
        if junit:
            write_junit(summary, junit)
        if json_out:
            write_json(summary, json_out)
    except OSError as exc:
        _err(f"cannot write the report: {exc}")
        return EXIT_USAGE
    view.summary(summary)
    if summary.interrupted:
        return EXIT_INTERRUPTED
    return 0 if summary.ok else EXIT_FAILED
