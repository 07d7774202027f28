"""`phantom auth login|logout|status|token` — API keys per profile (keyring, or a 0600 file)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from phantom_cli.cli.common import (
    EXIT_AUTH,
    EXIT_USAGE,
    JsonOpt,
    fail,
    get_settings,
    get_state,
    group_app,
    handle_errors,
    output_mode,
    stdin_is_tty,
)

if TYPE_CHECKING:
    from phantom_cli.config.settings import Settings

app = group_app("auth")


def _login_profile(ctx: typer.Context) -> tuple[str, Settings]:
    """(profile name, the loaded settings) that ``auth login`` stores the key for."""
    from phantom_cli.config import load_settings
    from phantom_cli.config.settings import HOSTED_PROFILE, LOCAL_PROFILE, resolve

    state = get_state(ctx)
    settings = load_settings()
    if state.profile:
        name = state.profile
    else:
        eff = resolve(settings=settings)
        name = eff.profile_name if eff.backend == "hosted" else HOSTED_PROFILE
    if name == LOCAL_PROFILE or (
        settings.has_profile(name) and settings.profile(name).get("backend") == "local"
    ):
        fail(
            f"profile {name!r} uses the local backend, which manages its own key",
            "log in to the hosted API with 'phantom auth login' (profile 'hosted') "
            "or 'phantom --profile NAME auth login'",
            EXIT_USAGE,
        )
    return name, settings


def _read_key(prompt: bool) -> str:
    if stdin_is_tty() and prompt:
        import getpass

        key = getpass.getpass("Paste your Phantom API key (input hidden): ", stream=sys.stderr)
    else:
        try:
            key = sys.stdin.readline()
        except (AttributeError, OSError, ValueError):  # closed, or not text: no key
            key = ""
    key = key.strip()
    if not key:
        fail(
            "no API key given",
            "paste the key at the prompt, or pipe it: echo $KEY | phantom auth login",
        )
    if any(ch.isspace() for ch in key) or len(key) > 4096:
        fail("the API key looks malformed (whitespace inside, or longer than 4096 characters)")
    return key


def _verify(base_url: str, key: str, eff: object, hook: object) -> None:
    """A cheap authenticated call; raises the client's error when the key is refused."""
    from phantom_cli.client import Phantom

    with Phantom(
        base_url=base_url,
        api_key=key,
        timeout=eff.timeout(),  # type: ignore[attr-defined]
        max_retries=int(eff.get("max_retries", 2)),  # type: ignore[attr-defined]
        debug_hook=hook,  # type: ignore[arg-type]
    ) as client:
        client.skins.list(limit=1)


@app.command(
    "login",
    epilog='Examples: phantom auth login; echo "$PHANTOM_KEY" | phantom auth login; '
    "phantom --profile staging --base-url https://staging.example auth login",
)
@handle_errors
def login(
    ctx: typer.Context,
    no_verify: bool = typer.Option(False, "--no-verify", help="Store the key without checking it."),
) -> None:
    """Store an API key for a hosted profile after checking it, and make that profile the default.

    The key is read with hidden input at a terminal, or from stdin (CI). Without --profile the
    key goes to the current hosted profile, or to a profile named 'hosted' (created if needed).
    """
    from phantom_cli.cli.common import make_debug_hook
    from phantom_cli.cli.output import visible
    from phantom_cli.config import resolve, secrets

    state = get_state(ctx)
    name, settings = _login_profile(ctx)
    if not settings.has_profile(name):
        settings.add_profile(name, backend="hosted")
    if state.base_url:
        settings.set(name, "base_url", state.base_url)
    eff = resolve(profile=name, base_url=state.base_url, settings=settings)
    state._effective = eff  # an unreachable URL's hint names where it came from
    key = _read_key(prompt=True)
    state._secrets.add(key)
    base_url = eff.base_url or ""
    if not no_verify:
        from phantom_cli.client import errors as E

        hook = make_debug_hook(state) if state.debug else None
        try:
            _verify(base_url, key, eff, hook)
        except (E.PermissionDeniedError, E.PaymentRequiredError) as exc:
            # the server knows the key (not 401): it only lacks a scope or credit for the check
            print(
                f"note: the key is valid but the check call answered {exc.status}; "
                "some commands may be refused",
                file=sys.stderr,
            )
        except E.AuthenticationError as exc:
            fail(
                f"the key was refused by {visible(base_url)} ({exc.status}); nothing was stored",
                "check the key (and --base-url), then run 'phantom auth login' again",
                EXIT_AUTH,
            )
    where = secrets.set_key(name, key)
    settings.use(name)
    settings.save()
    print(
        f"Logged in to {visible(base_url)} with profile {name!r} (now the default); "
        f"key stored in {where}.",
        file=sys.stderr,
    )


@app.command("logout", epilog="Example: phantom auth logout; phantom --profile staging auth logout")
@handle_errors
def logout(ctx: typer.Context) -> None:
    """Forget the stored key of the profile; the default goes back to 'local' if it was this one."""
    from phantom_cli.config import load_settings, secrets
    from phantom_cli.config.settings import LOCAL_PROFILE

    eff = get_settings(ctx)
    name = eff.profile_name
    removed = secrets.delete_key(name)
    settings = load_settings()
    switched = False
    if settings.default_profile == name and name != LOCAL_PROFILE:
        settings.default_profile = None
        settings.save()
        switched = True
    msg = (
        f"Removed the key of profile {name!r}."
        if removed
        else f"No key stored for profile {name!r}."
    )
    if switched:
        msg += " The default profile is 'local' again."
    print(msg, file=sys.stderr)


@app.command("status", epilog="Example: phantom auth status --json")
@handle_errors
def status(
    ctx: typer.Context,
    offline: bool = typer.Option(False, "--offline", help="Do not check the key with the server."),
    json_: JsonOpt = False,
) -> None:
    """Show the profile, the backend, where the key comes from, and whether the server accepts it."""
    from phantom_cli.cli.common import make_debug_hook
    from phantom_cli.config import local_api_key_file, secrets

    state = get_state(ctx)
    eff = get_settings(ctx)
    key = eff.api_key
    info: dict[str, object] = {
        "profile": eff.profile_name,
        "profile_source": eff.sources.get("profile"),
        "backend": eff.backend,
        "base_url": eff.base_url or "(automatic: local server)",
        "key": "set" if key else "not set",
        "key_source": eff.sources.get("api_key") if key else None,
        "key_storage": secrets.storage_description(),
    }
    exit_code = 0
    if eff.backend == "local" and not key:
        path = local_api_key_file()
        info["key"] = "managed by the local backend"
        info["key_source"] = str(path) if path.exists() else "(created on first start)"
        info["verified"] = None
    elif not key:
        info["verified"] = False
        exit_code = EXIT_AUTH
    elif offline:
        info["verified"] = None
    else:
        from phantom_cli.client import errors as E

        state._secrets.add(key)
        try:
            _verify(eff.base_url or "", key, eff, make_debug_hook(state) if state.debug else None)
            info["verified"] = True
        except (E.PermissionDeniedError, E.PaymentRequiredError) as exc:
            info["verified"] = True  # a known key (not 401) lacking a scope or credit
            info["note"] = str(exc)
        except E.AuthenticationError as exc:
            info["verified"] = False
            info["error"] = str(exc)
            exit_code = EXIT_AUTH
    out = output_mode(ctx, json_)
    out.item(info)
    if exit_code == EXIT_AUTH and not json_:
        print("hint: run 'phantom auth login'", file=sys.stderr)
    if exit_code:
        raise typer.Exit(exit_code)


@app.command("token", epilog="Example: export PHANTOM_API_KEY=$(phantom auth token)")
@handle_errors
def token(ctx: typer.Context) -> None:
    """Print the API key of the profile to stdout (the only command that shows it).

    On a local profile it makes sure the local backend is running first (it makes its key when
    it starts), so this works on a fresh install:
    export PHANTOM_KEY=$(phantom auth token) URL=$(phantom serve status --json | jq -r .base_url)
    """
    eff = get_settings(ctx)
    key = eff.api_key
    if not key and eff.backend == "local":
        from phantom_cli import connect

        _base_url, key = connect.target(eff)  # starts the background server when needed
    if not key:
        fail(
            f"no API key for profile {eff.profile_name!r}",
            "run 'phantom auth login'"
            if eff.backend == "hosted"
            else "start the backend: phantom serve",
            EXIT_AUTH,
        )
    sys.stdout.write(key + "\n")
