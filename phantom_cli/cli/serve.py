"""`phantom serve` — run the embedded local backend; `status | stop | logs`.

Start-up rule: typer + stdlib at module level.
"""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from phantom_cli.cli import _help
from phantom_cli.cli.common import handle_errors

app = typer.Typer(
    invoke_without_command=True,
    help=_help.group_help("serve"),
    epilog=_help.examples("serve"),
)


def _err(msg: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {msg}", err=True)  # the project's style (docs/cli.md)
    return typer.Exit(code)


def _profile_options(ctx: typer.Context) -> dict[str, object]:
    """The server options of the effective profile (global --profile / --base-url honoured).

    A settings problem (unknown profile, corrupt config file, bad value) stops the command
    with the standard error line and exit 2 instead of silently serving other settings.
    """
    from dataclasses import fields

    from phantom_cli.backend.settings import ServerSettings
    from phantom_cli.cli.common import get_settings, get_state, report_error
    from phantom_cli.config import ConfigError

    try:
        eff = get_settings(ctx)
    except ConfigError as exc:
        raise typer.Exit(report_error(exc, get_state(ctx))) from None
    opts: dict[str, object] = {}
    if eff.backend != "local":
        return opts
    # every profile key the server understands (engine, engine_*, seed, faults, memory_cadence,
    # vector_store, ...); the foreground server's idle timeout is its own flag (default: never)
    server_fields = {f.name for f in fields(ServerSettings)} - {"idle_timeout"}
    for key in eff.values:
        if key in server_fields and eff.get(key) is not None:
            opts[key] = eff.get(key)
    env_name = eff.get("engine_api_key_env")
    if env_name:
        import os

        opts["engine_api_key"] = os.environ.get(env_name)
    return opts


@app.callback()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to bind (loopback unless --allow-remote).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port; 0 picks a free one.")] = 8420,
    allow_remote: Annotated[bool, typer.Option("--allow-remote", help="Allow binding a non-loopback address.")] = False,
    engine: Annotated[str | None, typer.Option(help="scripted | openai | llama-cpp (default: the profile's).")] = None,
    engine_base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint (engine openai).")] = None,
    engine_model: Annotated[str | None, typer.Option(help="Model name for the engine.")] = None,
    idle_timeout: Annotated[float, typer.Option(min=0, help="Exit after this many idle seconds (0 = never).")] = 0,
    faults: Annotated[str | None, typer.Option(help='Fault injection, e.g. "503:0.2,429:0.1,latency:300ms,cut-stream:0.1".')] = None,
    fault_seed: Annotated[int | None, typer.Option(help="Seed the fault RNG (reproducible faults).")] = None,
) -> None:
    """Run the server in the foreground (Ctrl-C stops it)."""
    if ctx.invoked_subcommand is not None:
        return
    import logging

    from phantom_cli.backend.server import is_loopback
    from phantom_cli.backend.server import serve as run
    from phantom_cli.backend.settings import ServerSettings

    if not is_loopback(host):
        if not allow_remote:
            raise _err(f"refusing to bind {host}: not a loopback address (pass --allow-remote to expose "
                       "the server to the network)", 2)
        typer.echo(f"warning: binding {host}: anyone who can reach this address and holds a key can use "
                   "the server", err=True)
    opts = _profile_options(ctx)
    flags = {"engine": engine, "engine_base_url": engine_base_url, "engine_model": engine_model,
             "faults": faults, "fault_seed": fault_seed}
    opts.update({k: v for k, v in flags.items() if v is not None})
    try:
        settings = ServerSettings.from_env(host=host, port=port, idle_timeout=idle_timeout, **opts)
    except ValueError as exc:
        raise _err(str(exc), 2) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    def ready(info: dict[str, object]) -> None:
        typer.echo(f"phantom local backend listening on {info['base_url']}  (engine: {settings.engine})")
        typer.echo(f"API key file: {settings.key_file}", err=True)

    from phantom_cli.config.settings import storage_problem

    try:
        run(settings, register=True, on_ready=ready)
    except Exception as exc:
        disk = storage_problem(exc, settings.db_path)
        if disk is not None:  # not the network: the data folder cannot be written
            raise _err(f"{disk} (PHANTOM_HOME: the server's data folder)", 3) from None
        if isinstance(exc, OSError):
            raise _err(f"cannot bind {host}:{port}: {exc.strerror or exc}") from None
        raise


@app.command(epilog="Examples: phantom serve status; phantom serve status --json")
@handle_errors
def status(json_: Annotated[bool, typer.Option("--json", help="Print the runtime info as JSON.")] = False) -> None:
    """Is the background server running? (exit 1 when not)"""
    import json

    from phantom_cli.backend import runtime

    info = runtime.status()
    if json_:
        typer.echo(json.dumps(info or {"running": False}))
    elif info:
        typer.echo(f"running: pid {info['pid']} at {info['base_url']} (version {info['version']}, "
                   f"since {info['started_at']})")
    else:
        typer.echo("not running")
    if not info:
        raise typer.Exit(1)


@app.command(epilog="Example: phantom serve stop (the next command starts it again)")
@handle_errors
def stop() -> None:
    """Stop the background server."""
    from phantom_cli.backend import runtime

    info = runtime.stop_server()
    typer.echo(f"stopped pid {info['pid']}" if info else "not running")


@app.command(epilog="Examples: phantom serve logs -n 100; phantom serve logs -f")
@handle_errors
def logs(
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", min=0, help="Lines from the end.")] = 50,
) -> None:
    """Show the background server's log."""
    from collections import deque

    from phantom_cli.backend import runtime

    path = runtime.log_file()
    if not path.exists():
        raise _err(f"no log yet at {path}")
    try:
        fh = open(path, encoding="utf-8", errors="replace")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise _err(f"cannot read the log at {path}: {exc.strerror or exc}") from None
    with fh:
        for line in deque(fh, maxlen=lines) if lines else ():
            sys.stdout.write(line)
        sys.stdout.flush()
        if not follow:
            return
        try:
            while True:
                line = fh.readline()
                if line:
                    sys.stdout.write(line)
                    sys.stdout.flush()
                else:
                    time.sleep(0.2)
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
