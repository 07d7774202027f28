"""`phantom profile list|use|add|remove` — named settings profiles."""

from __future__ import annotations

import sys

import typer

from phantom_cli.cli.common import JqOpt, JsonOpt, fail, group_app, handle_errors, output_mode

app = group_app("profile")


@app.command("list", epilog="Example: phantom profile list --json")
@handle_errors
def list_(ctx: typer.Context, json_: JsonOpt = False, jq: JqOpt = None) -> None:
    """Every profile; the default is marked."""
    from phantom_cli.cli.output import col
    from phantom_cli.config import load_settings, secrets
    from phantom_cli.config.settings import HOSTED_BASE_URL

    settings = load_settings()
    default = settings.effective_default()
    rows = []
    for name in settings.profile_names():
        prof = settings.profile(name)
        backend = prof.get("backend", "local")
        url = prof.get("base_url") or (HOSTED_BASE_URL if backend == "hosted" else None)
        rows.append(
            {
                "name": name,
                "default": name == default,
                "backend": backend,
                "base_url": url,
                "key": (bool(secrets.get_key(name)) if backend == "hosted" else None),
            }
        )
    out = output_mode(ctx, json_, jq)
    if out.json:
        out.emit_json(rows)
        return
    out.rows(
        rows,
        [
            col("NAME", "name", "text", 24),
            col("DEFAULT", "default", "bool", 7),
            col("BACKEND", "backend", "text", 7),
            col("BASE URL", "base_url", "text", 48),
            col("KEY", "key", "bool", 5),
        ],
    )


@app.command("use", epilog="Example: phantom profile use local")
@handle_errors
def use(name: str = typer.Argument(..., help="Profile to make the default.")) -> None:
    """Make a profile the default."""
    from phantom_cli.config import load_settings

    settings = load_settings()
    settings.use(name)
    settings.save()
    print(f"default profile: {name}", file=sys.stderr)


@app.command(
    "add",
    epilog="Examples: phantom profile add staging --url https://staging.example; "
    "phantom profile add offline --backend local",
)
@handle_errors
def add(
    name: str = typer.Argument(..., help="New profile name."),
    backend: str = typer.Option("hosted", "--backend", help="hosted or local."),
    url: str | None = typer.Option(
        None, "--url", "--base-url", metavar="URL", help="Base URL of the API (setting base_url)."
    ),
    use_: bool = typer.Option(False, "--use", help="Also make it the default."),
) -> None:
    """Add a profile (then 'phantom --profile NAME auth login' for a hosted one)."""
    from phantom_cli.config import load_settings

    settings = load_settings()
    settings.add_profile(name, backend=backend, base_url=url)
    if use_:
        settings.use(name)
    settings.save()
    print(f"added profile {name!r} ({backend})", file=sys.stderr)


@app.command("remove", epilog="Example: phantom profile remove staging")
@handle_errors
def remove(name: str = typer.Argument(..., help="Profile to remove.")) -> None:
    """Remove a profile and forget its stored key."""
    from phantom_cli.config import load_settings, secrets
    from phantom_cli.config.settings import LOCAL_PROFILE

    settings = load_settings()
    if name == LOCAL_PROFILE and name not in settings.profiles:
        fail("the built-in 'local' profile cannot be removed")
    settings.remove_profile(name)
    settings.save()
    forgot = secrets.delete_key(name)
    print(f"removed profile {name!r}" + (" and its key" if forgot else ""), file=sys.stderr)
