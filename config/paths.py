"""Where phantom keeps its files (docs/architecture.md, "Disk layout").

``PHANTOM_HOME=DIR`` puts everything under ``DIR`` (``DIR/config``, ``DIR/data``, ``DIR/state``,
``DIR/runtime``, ``DIR/cache``); otherwise platformdirs' user dirs for the app name ``phantom``.
Every function creates its directory on demand with mode 0700 and returns the path.

Start-up rule: stdlib only at module level; platformdirs is imported inside the function.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "phantom"
HOME_ENV = "PHANTOM_HOME"

_KINDS = ("config", "data", "state", "runtime", "cache")


class ConfigError(Exception):
    """A settings problem the user must fix; the message names the file, key and profile.
    (Defined here, the bottom of the package, so that paths can raise it too.)"""


def phantom_home() -> Path | None:
    """The ``PHANTOM_HOME`` directory when set (expanded, absolute), else None."""
    value = os.environ.get(HOME_ENV, "").strip()
    if not value:
        return None
    return Path(value).expanduser().resolve()


def _platform_dir(kind: str) -> Path:
    import warnings

    import platformdirs

    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset and falls back to /tmp/runtime-UID.
        warnings.simplefilter("ignore")
        fn = {
            "config": platformdirs.user_config_dir,
            "data": platformdirs.user_data_dir,
            "state": platformdirs.user_state_dir,
            "runtime": platformdirs.user_runtime_dir,
            "cache": platformdirs.user_cache_dir,
        }[kind]
        return Path(fn(APP_NAME, appauthor=False))


def private_dir(path: Path) -> Path:
    """``ensure_dir``, and tighten an existing directory to 0700 (media, transcripts, state:
    folders created 0755 by older versions are fixed at start)."""
    ensure_dir(path)
    try:
        if os.stat(path).st_mode & 0o077:
            os.chmod(path, 0o700)
    except OSError:
        pass
    return path


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if missing; a directory phantom creates is mode 0700."""
    if not path.is_dir():
        try:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            home = os.environ.get(HOME_ENV, "").strip()
            where = f" ({HOME_ENV}={home})" if home else ""
            raise ConfigError(
                f"cannot create the directory {path}{where}: {exc.strerror or exc}"
            ) from None
        try:
            os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask
        except OSError:
            pass
    return path


def _dir(kind: str, create: bool) -> Path:
    home = phantom_home()
    path = home / kind if home is not None else _platform_dir(kind)
    return ensure_dir(path) if create else path


def config_dir(create: bool = True) -> Path:
    """Settings (``config.toml``) and the 0600 credentials fallback."""
    return _dir("config", create)


def data_dir(create: bool = True) -> Path:
    """The local backend's database, key and media."""
    return _dir("data", create)


def state_dir(create: bool = True) -> Path:
    """Logs, recovery files and transcripts."""
    return _dir("state", create)


def runtime_dir(create: bool = True) -> Path:
    """``server.json`` and ``server.lock`` of the running local server."""
    return _dir("runtime", create)


def cache_dir(create: bool = True) -> Path:
    """Disposable caches."""
    return _dir("cache", create)


def config_file() -> Path:
    """``config_dir()/config.toml`` (not created)."""
    return config_dir() / "config.toml"


def credentials_file() -> Path:
    """``config_dir()/credentials.json`` — the 0600 key fallback when no keyring works."""
    return config_dir() / "credentials.json"


def backend_dir() -> Path:
    """``data_dir()/backend`` — the local backend's files."""
    return ensure_dir(data_dir() / "backend")


def local_api_key_file() -> Path:
    """``data_dir()/backend/api_key`` — the local admin key written by the backend (0600)."""
    return backend_dir() / "api_key"


def all_dirs(create: bool = False) -> dict[str, Path]:
    """``{kind: path}`` for the five directories (for ``phantom config path``)."""
    return {kind: _dir(kind, create) for kind in _KINDS}
