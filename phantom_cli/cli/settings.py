"""`phantom config list|get|set|unset|path` — settings of a profile, with where each came from."""

from __future__ import annotations

import sys

import typer

from phantom_cli.cli.common import (
    JqOpt,
    JsonOpt,
    fail,
    get_settings,
    group_app,
    handle_errors,
    output_mode,
)

app = group_app("config")

_SECRET_HINT = "API keys never go in config.toml: use 'phantom auth login' / 'phantom auth token'"


def _target_profile(ctx: typer.Context) -> str:
    """The profile a 'set' writes to: --profile, $PHANTOM_PROFILE or the default."""
    return get_settings(ctx).profile_name


@app.command(
    "list", epilog="Example: phantom config list; phantom --profile prod config list --json"
)
@handle_errors
def list_(ctx: typer.Context, json_: JsonOpt = False, jq: JqOpt = None) -> None:
    """Every setting of the effective profile with its value and source (flag, env, profile, default)."""
    from phantom_cli.cli.output import col
    from phantom_cli.config.settings import KEYS

    eff = get_settings(ctx)
    rows: list[dict[str, object]] = [
        {"key": "profile", "value": eff.profile_name, "source": eff.sources.get("profile")},
    ]
    from phantom_cli.config.settings import redact_credentials

    for key in KEYS:
        value = eff.base_url if key == "base_url" else eff.values.get(key)
        if isinstance(value, str):
            value = redact_credentials(value)  # a URL's user:password@ is never shown
        rows.append({"key": key, "value": value, "source": eff.sources.get(key)})
    has_key = bool(eff.api_key)
    rows.append(
        {
            "key": "api_key",
            "value": "(set)" if has_key else None,
            "source": eff.sources.get("api_key") if has_key else None,
        }
    )
    out = output_mode(ctx, json_, jq)
    if out.json:
        out.emit_json(rows)
        return
    out.rows(
        rows,
        [
            col("KEY", "key", "text", 24),
            col("VALUE", "value", "text", 60),
            col("SOURCE", "source", "text", 30),
        ],
    )


@app.command("get", epilog="Example: phantom config get timeout_read")
@handle_errors
def get(
    ctx: typer.Context, key: str = typer.Argument(..., help="Setting name (see 'config list').")
) -> None:
    """Print one effective setting (empty line when unset)."""
    from phantom_cli.cli.output import plain_cell
    from phantom_cli.config.settings import KEYS

    if key in ("api_key", "key", "token"):
        fail("the API key is not a setting", _SECRET_HINT)
    eff = get_settings(ctx)
    if key == "profile":
        value: object = eff.profile_name
    elif key in KEYS:
        value = eff.base_url if key == "base_url" else eff.values.get(key)
    else:
        fail(f"unknown key {key!r}", f"known keys: profile, {', '.join(KEYS)}")
    sys.stdout.write(plain_cell(value) + "\n")


_PATH_KEYS = ("companion_persona_file", "llama_model_path", "moderation_policy")


@app.command(
    "set",
    epilog="Examples: phantom config set player_name Ash; phantom --profile prod config set timeout_read 120",
    # a negative number is a value, not an option: `config set max_retries -5` is refused by the
    # key's own check ("must be ≥ 0"), not by "No such option: -5"
    context_settings={"ignore_unknown_options": True},
)
@handle_errors
def set_(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="Setting name (see 'config list')."),
    value: str = typer.Argument(..., help="New value (true/false for switches)."),
) -> None:
    """Set a value in the profile (--profile, $PHANTOM_PROFILE or the default one)."""
    from phantom_cli.config import load_settings, parse_value

    if key in ("api_key", "key", "token"):
        fail("API keys are not stored in config.toml", _SECRET_HINT)
    if key == "profile":
        fail("'profile' is not a profile setting", "use 'phantom profile use NAME'")
    from phantom_cli.config import ConfigError
    from phantom_cli.config.settings import KEYS

    try:
        typed = parse_value(key, value)
    except ConfigError as exc:
        spec = KEYS.get(key)
        hint = f"{key}: {spec.help}" if spec and spec.help else None
        if spec and spec.choices:
            hint = f"{hint or key}; one of {', '.join(spec.choices)}"
        fail(str(exc), hint or "'phantom config list' shows every key")
    if key in _PATH_KEYS and typed:
        # stored absolute: a relative name would mean another file from another directory
        from pathlib import Path

        typed = str(Path(typed).expanduser().absolute())
    name = _target_profile(ctx)
    settings = load_settings()
    settings.set(name, key, typed)
    path = settings.save()
    print(f"{key} = {typed!r} in profile {name!r} ({path})", file=sys.stderr)


@app.command("unset", epilog="Example: phantom config unset player_name")
@handle_errors
def unset(
    ctx: typer.Context, key: str = typer.Argument(..., help="Setting name (see 'config list').")
) -> None:
    """Remove a value from the profile (the default applies again)."""
    from phantom_cli.config import load_settings

    name = _target_profile(ctx)
    settings = load_settings()
    removed = settings.unset(name, key)
    if removed:
        settings.save()
    print(
        f"{key} removed from profile {name!r}"
        if removed
        else f"{key} was not set in profile {name!r}",
        file=sys.stderr,
    )


@app.command("path", epilog="Example: phantom config path --json")
@handle_errors
def path(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Where phantom keeps its files (PHANTOM_HOME moves them all)."""
    from phantom_cli.config import paths

    info: dict[str, object] = {"config_file": str(paths.config_file())}
    info.update({f"{k}_dir": str(v) for k, v in paths.all_dirs().items()})
    info["credentials_file"] = str(paths.config_dir(create=False) / "credentials.json")
    info["phantom_home"] = str(paths.phantom_home()) if paths.phantom_home() else None
    output_mode(ctx, json_).item(info)
