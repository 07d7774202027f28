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


def write_out(out: str, text: str) -> None:
    """``text`` to the file ``out`` whole or not at all, then "wrote OUT" on stderr; a write
    error is a usage error (exit 2) naming the file. Shared with ``npc lint/graph/walk``."""
    from pathlib import Path

    from phantom_cli.scenarios.report import write_file

    try:
        write_file(Path(out), text.encode("utf-8"))
    except OSError as exc:
        _err(f"cannot write {out}: {exc.strerror or exc}")
        raise typer.Exit(EXIT_USAGE) from None
    _err(f"wrote {out}")


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
    coverage: bool = typer.Option(False, "--coverage", help="Report which transitions of each NPC machine the suite exercised (also in --json)."),
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
                exitfirst, keep_steps, extraction_timeout, junit, json_out, state.no_color, coverage)
    raise typer.Exit(code)


def _run(client: Any, scenarios: list[Any], jobs: int, seed: int | None, repeat: int, min_pass_rate: float,
         exitfirst: bool, keep_steps: bool, extraction_timeout: float, junit: str | None,
         json_out: str | None, no_color: bool, coverage: bool = False) -> int:
    import asyncio
    import signal

    from phantom_cli.scenarios.report import write_json, write_junit
    from phantom_cli.scenarios.runner import Runner, RunOptions

    from .testview import View

    total = len(scenarios) * repeat
    view = View(total, no_color=no_color)
    opts = RunOptions(jobs=jobs, seed=seed, repeat=repeat, min_pass_rate=min_pass_rate,
                      fail_fast=exitfirst, keep_steps=keep_steps or coverage,
                      extraction_timeout=extraction_timeout)
    cov: Any = None
    on_result = view.finished
    if coverage:
        from phantom_cli.scenarios.coverage import Coverage

        cov = Coverage()
        by_id = {sc.id: sc for sc in scenarios}

        def on_result(result: Any) -> None:
            cov.add(by_id[result.id], result)
            if not keep_steps and result.status == "passed":
                result.steps = None  # steps were kept for coverage only (memory stays flat)
            view.finished(result)

    runner = Runner(client, opts, on_start=view.started, on_result=on_result)

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
                if cov is not None:
                    from phantom_cli.scenarios.coverage import fetch_definitions

                    npcs = {sc.target.id for sc in scenarios if sc.target.kind == "npc"}
                    cov.definitions = await fetch_definitions(client, npcs)
                    for sc in scenarios:
                        if sc.target.kind == "npc":
                            cov.declare(sc.target.id, sc.target.machine)
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
            write_json(summary, json_out, extra={"coverage": cov.to_dict()} if cov is not None else None)
    except OSError as exc:
        _err(f"cannot write the report: {exc}")
        return EXIT_USAGE
    view.summary(summary)
    if cov is not None:
        print("\ncoverage of NPC machine transitions:\n" + (cov.table() or "  (no NPC scenarios)"), flush=True)
    if summary.interrupted:
        return EXIT_INTERRUPTED
    return 0 if summary.ok else EXIT_FAILED


# --------------------------------------------------------------------------- record


@app.command(
    "record",
    epilog="Examples: phantom test record --npc abc123 -o merchant.yaml; "
    "phantom test record --persona luna.toml -o luna.yaml < lines.txt. In the line mode: "
    "/reset records a reset step, /save (or Ctrl-D) writes the file, /quit leaves without writing.",
)
@handle_errors
def record_cmd(
    ctx: typer.Context,
    out: str = typer.Option(..., "-o", "--output", metavar="FILE", help="The scenario file to write (YAML)."),
    npc: str | None = typer.Option(None, "--npc", metavar="PERSONA_ID", help="Record a conversation with this NPC."),
    persona: str | None = typer.Option(None, "--persona", metavar="FILE", help="Record a companion chat with this persona file."),
    activity: str | None = typer.Option(None, "--activity", metavar="ID", help="Record a chat in a new instance of this activity."),
    machine: str | None = typer.Option(None, "--machine", "-m", metavar="ID", help="With --npc: the state machine."),
    player_name: str = typer.Option("Tester", "--player-name", metavar="NAME", help="With --npc: the player's name."),
    player_gender: str = typer.Option("non-binary", "--player-gender", metavar="GENDER", help="female, male or non-binary."),
    name: str | None = typer.Option(None, "--name", metavar="NAME", help="The scenario's name."),
    profile: str | None = typer.Option(None, "-p", "--profile", metavar="PROFILE", help="Settings profile."),
) -> None:
    """Record a conversation (one message per line from stdin) as a scenario whose expectations
    are what actually happened: state, decision, score, outcome, unlocks, moderation flags and a
    fragment of each reply. Trim it, then run it with 'phantom test FILE'."""
    from phantom_cli.scenarios.model import Target

    chosen = [x for x in (npc, persona, activity) if x]
    if len(chosen) != 1:
        _err("give exactly one target: --npc PERSONA_ID, --persona FILE or --activity ID")
        raise typer.Exit(EXIT_USAGE)
    if player_gender not in ("female", "male", "non-binary"):
        _err(f"--player-gender: must be female, male or non-binary, got {player_gender!r}")
        raise typer.Exit(EXIT_USAGE)
    persona_ref = None
    if npc:
        target = Target(kind="npc", id=npc, machine=machine, player_name=player_name, player_gender=player_gender)
    elif activity:
        target = Target(kind="activity", id=activity)
    else:
        from phantom_cli.personafile import PersonaFileError, read_persona

        try:
            pf = read_persona(persona)
        except (PersonaFileError, OSError) as exc:
            _err(f"--persona: {exc}")
            raise typer.Exit(EXIT_USAGE) from None
        data = pf.persona.model_dump(exclude_none=True)
        target = Target(kind="persona", id=str(data.get("name", persona)), persona=data)
        persona_ref = persona
    state = get_state(ctx)
    if profile:
        state.profile, state._effective = profile, None
    from phantom_cli.cli.common import _open

    client = _open(ctx, "connect_async", {})
    code = _record(client, target, out, name or f"recorded {target.label()}", persona_ref)
    raise typer.Exit(code)


def _record(client: Any, target: Any, out: str, name: str, persona_ref: str | None) -> int:
    import asyncio
    import uuid

    from phantom_cli.cli.common import EXIT_NOT_FOUND
    from phantom_cli.client import errors as E
    from phantom_cli.scenarios.drive import Ids, TargetUnavailable, make_driver
    from phantom_cli.scenarios.load import ScenarioFileError
    from phantom_cli.scenarios.record import Recorder, turn_summary
    from phantom_cli.scenarios.report import _clean

    tty = sys.stdin.isatty()
    rec = Recorder(target, name, persona_ref)
    ids = Ids(session=f"rec-{uuid.uuid4().hex[:12]}")
    driver = make_driver(client, target, ids)
    write = True
    with asyncio.Runner() as loop:
        try:
            loop.run(client.__aenter__())
            try:
                loop.run(driver.open())
            except TargetUnavailable as exc:
                _err(f"error: {exc}")
                return EXIT_NOT_FOUND
            if tty:
                _err(f"recording {target.label()} → {out}: one message per line; /reset, /save (or Ctrl-D), /quit")
            while True:
                if tty:
                    print("you> ", end="", file=sys.stderr, flush=True)
                line = sys.stdin.readline()
                if not line:
                    break
                text = line.rstrip("\r\n")
                cmd = text.strip()
                if not cmd:
                    continue
                if cmd == "/save":
                    break
                if cmd == "/quit":
                    write = False
                    break
                if cmd == "/reset":
                    loop.run(driver.reset())
                    rec.reset()
                    print("-- reset", flush=True)
                    continue
                if cmd.startswith("/") and cmd in ("/help", "/?"):
                    _err("/reset records a reset step; /save (or Ctrl-D) writes the file; /quit leaves without writing")
                    continue
                turn = loop.run(driver.say(text))
                rec.say(text, turn.actual)
                reply = turn.actual.get("reply")
                if reply is not None:
                    print(_clean(str(reply)), flush=True)
                summary = turn_summary(target.kind, turn.actual)
                if summary:
                    print(_clean(summary), flush=True)
        except KeyboardInterrupt:
            _err("interrupted: writing what was recorded")
        except E.PhantomError as exc:
            _err(f"error: {exc}; writing what was recorded")
        finally:
            try:
                loop.run(client.__aexit__(None, None, None))
            except Exception:  # noqa: BLE001 - closing the client must not hide the recording
                pass
    if not write:
        _err("left without writing")
        return 0
    if not rec.steps:
        _err("nothing recorded: no file written")
        return 0
    try:
        path = rec.write(out)
    except ScenarioFileError as exc:  # pragma: no cover - the recorder writes valid files
        _err(f"error: the recorded scenario does not validate: {exc}")
        return EXIT_USAGE
    except OSError as exc:
        _err(f"cannot write {out}: {exc.strerror or exc}")
        return EXIT_USAGE
    _err(f"wrote {path} ({rec.turns} turns): run it with 'phantom test {path}'")
    return 0


# --------------------------------------------------------------------------- compare


@app.command(
    "compare",
    epilog="Examples: phantom test compare examples/scenarios -p local -p hosted; "
    "phantom test compare s.yaml --engine scripted --engine openai; "
    "phantom test compare luna.yaml --persona a.toml --persona b.toml --report md -o compare.md. "
    "Exit codes: 0 no difference, 1 the sides differ (latency alone does not count), 2 bad usage or file.",
)
@handle_errors
def compare_cmd(
    ctx: typer.Context,
    paths: list[str] = typer.Argument(..., metavar="SUITE", help="Scenario files or folders."),
    profiles: list[str] = typer.Option([], "-p", "--profile", metavar="PROFILE", help="A side: a settings profile (give two)."),
    engines: list[str] = typer.Option([], "--engine", metavar="ENGINE", help="A side: a local backend spawned with this engine (give two)."),
    personas: list[str] = typer.Option([], "--persona", metavar="FILE", help="A side: this persona file replaces the companion scenarios' persona (give two)."),
    keyword: str | None = typer.Option(None, "-k", metavar="EXPR", help="Select scenarios by name."),
    seed: int = typer.Option(0, "--seed", help="The seed both sides run with (same ids on both)."),
    jobs: int | None = typer.Option(None, "-j", "--jobs", metavar="N", help="Scenarios run at once per side."),
    report: str = typer.Option("text", "--report", metavar="text|md|json", help="Output format."),
    out: str | None = typer.Option(None, "-o", "--output", metavar="FILE", help="Write the report to FILE."),
    show_all: bool = typer.Option(False, "--all", help="Text report: list scenarios that are the same too."),
) -> None:
    """Run the same suite against two sides (profiles, engines or persona files) and show, step
    by step, what differs: reply text, state, decision, score, outcome, flags, status, latency."""
    from phantom_cli.scenarios.load import ScenarioFileError, discover, load_suite
    from phantom_cli.scenarios.select import SelectError, select

    if report not in ("text", "md", "json"):
        _err(f"--report: must be text, md or json, got {report!r}")
        raise typer.Exit(EXIT_USAGE)
    dims = {"-p": profiles, "--engine": engines, "--persona": personas}
    two = [k for k, v in dims.items() if len(v) == 2]
    if len(two) != 1 or any(len(v) > 2 for v in dims.values()) or any(
            len(v) > 1 for k, v in dims.items() if k != two[0]):
        _err("give two sides of one kind: -p A -p B, --engine A --engine B or --persona A --persona B "
             "(another option at most once)")
        raise typer.Exit(EXIT_USAGE)
    files = discover(paths)
    if not files:
        _err(f"no scenario files in {', '.join(paths)}")
        raise typer.Exit(EXIT_USAGE)
    try:
        suites = [load_suite(f) for f in files]
        scenarios = select([sc for s in suites for sc in s.scenarios], keyword)
    except ScenarioFileError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    except SelectError as exc:
        _err(str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    if not scenarios:
        _err("no scenarios selected")
        raise typer.Exit(EXIT_USAGE)
    sides = _sides(ctx, two[0], profiles, engines, personas)
    try:
        comparison = _compare(sides, scenarios, seed, jobs or os.cpu_count() or 1)
    finally:
        for s in sides:
            if s.closer:
                s.closer()
    if comparison is None:
        raise typer.Exit(EXIT_INTERRUPTED)
    import json

    from phantom_cli.scenarios import compare as C

    body = {"text": lambda: C.text(comparison, show_all) + "\n", "md": lambda: C.markdown(comparison),
            "json": lambda: json.dumps(comparison.to_dict(), indent=2, default=str) + "\n"}[report]()
    if out:
        write_out(out, body)
        if report != "text":
            typer.echo(C.text(comparison, show_all))
    else:
        typer.echo(body, nl=False)
    raise typer.Exit(EXIT_FAILED if comparison.differing else 0)


def _sides(ctx: typer.Context, kind: str, profiles: list[str], engines: list[str], personas: list[str]) -> list[Any]:
    from phantom_cli.cli.common import _open, get_settings
    from phantom_cli.scenarios.compare import Side

    state = get_state(ctx)

    def use(profile: str | None) -> None:
        if profile:
            state.profile, state._effective = profile, None

    if kind == "-p":
        out = []
        for p in profiles:
            use(p)
            out.append(Side(label=f"profile {p}", client=_open(ctx, "connect_async", {})))
        return out
    profile = profiles[0] if profiles else None
    if kind == "--engine":
        return [_private_side(ctx, profile, e, f"engine {e}") for e in engines]
    from phantom_cli.personafile import PersonaFileError, read_persona

    use(profile)
    eff = get_settings(ctx)
    # the profile's managed local backend: a fresh one per side (memories of one side's chats
    # would colour the other's replies); a hosted API or a given URL: shared, ids of their own
    private = eff.backend == "local" and not eff.base_url
    out = []
    for f in personas:
        try:
            data = read_persona(f).persona.model_dump(exclude_none=True)
        except (PersonaFileError, OSError) as exc:
            _err(f"--persona {f}: {exc}")
            raise typer.Exit(EXIT_USAGE) from None
        side = (_private_side(ctx, profile, None, f"persona {f}") if private
                else Side(label=f"persona {f}", client=_open(ctx, "connect_async", {}), shared=True))
        side.persona, side.persona_label = data, str(data.get("name", f))
        out.append(side)
    return out


def _private_side(ctx: typer.Context, profile: str | None, engine: str | None, label: str) -> Any:
    """A local backend of its own (a temporary home, loopback, free port) with the profile's
    local-backend settings, and ``engine`` when given."""
    import shutil
    import tempfile
    from pathlib import Path

    from phantom_cli import connect
    from phantom_cli.cli.common import get_settings
    from phantom_cli.scenarios.compare import Side

    state = get_state(ctx)
    if profile:
        state.profile, state._effective = profile, None
    opts = dict(connect.server_options(get_settings(ctx)))
    opts.pop("idle_timeout", None)
    if engine:
        opts["engine"] = engine
    env_name = opts.get("engine_api_key_env")
    if env_name and os.environ.get(str(env_name)):
        opts["engine_api_key"] = os.environ[str(env_name)]
    home = Path(tempfile.mkdtemp(prefix="phantom-compare-"))
    try:
        from phantom_cli.backend.testing import LiveServer

        server = LiveServer(home, **opts).start()
    except (ValueError, TypeError, RuntimeError, OSError) as exc:
        shutil.rmtree(home, ignore_errors=True)
        what = f"--engine {engine}" if engine else label
        _err(f"{what}: cannot start a local backend: {exc}")
        raise typer.Exit(EXIT_USAGE) from None

    def close() -> None:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)

    return Side(label=label, client=server.async_client(), closer=close)


def _compare(sides: list[Any], scenarios: list[Any], seed: int, jobs: int) -> Any:
    import asyncio

    from phantom_cli.scenarios.compare import compare, with_persona
    from phantom_cli.scenarios.runner import Runner, RunOptions

    summaries = []
    for i, side in enumerate(sides):
        # on one shared backend the sides need ids of their own (else B would continue A's chats)
        opts = RunOptions(jobs=jobs, seed=seed + (1_000_003 * i if side.shared else 0), keep_steps=True)
        runner = Runner(side.client, opts)
        scs = with_persona(scenarios, side.persona, side.persona_label)
        _err(f"running {len(scs)} scenarios against {side.label}…")

        async def main(client: Any = side.client, runner: Any = runner, scs: Any = scs) -> Any:
            async with client:
                return await runner.run(scs)

        try:
            summaries.append(asyncio.run(main()))
        except KeyboardInterrupt:
            _err("interrupted")
            return None
    return compare(summaries[0], summaries[1], sides[0].label, sides[1].label)
