"""API keys: the OS keyring (service ``phantom``, one entry per profile), else a 0600 file.

When no keyring backend works (keyring's ``fail``/``null`` backends, an empty chainer, or any
keyring error), keys go to ``config_dir()/credentials.json`` (mode 0600) and a warning is printed
on stderr once (remembered by a marker file next to it). Keys are never written to the TOML and
never appear in a message of this module.

Start-up rule: stdlib only at module level; keyring is imported inside the functions.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from . import paths
from .settings import ConfigError, atomic_write

SERVICE = "phantom"
WARNING_MARKER = ".keyring-fallback-warned"


def _usable_keyring() -> Any | None:
    """The active keyring backend, or None when it cannot store anything."""
    try:
        import keyring
        from keyring.backends import chainer, fail

        kr = keyring.get_keyring()
        if isinstance(kr, fail.Keyring):
            return None
        try:
            from keyring.backends import null

            if isinstance(kr, null.Keyring):
                return None
        except ImportError:  # pragma: no cover - very old keyring
            pass
        if isinstance(kr, chainer.ChainerBackend) and not kr.backends:
            return None
        return kr
    except Exception:
        return None


def _warn_fallback(reason: str) -> None:
    """Print the fallback warning on stderr once per config dir."""
    marker = paths.config_dir() / WARNING_MARKER
    if marker.exists():
        return
    print(
        f"warning: no working OS keyring ({reason}); API keys are stored in "
        f"{paths.credentials_file()} (mode 0600). This warning is shown once.",
        file=sys.stderr,
    )
    try:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
    except OSError:
        pass


# --------------------------------------------------------------------------- fallback file


def _read_file() -> dict[str, str]:
    path = paths.credentials_file()
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable credentials file ({type(exc).__name__})") from None
    profiles = data.get("profiles", {}) if isinstance(data, dict) else {}
    if not isinstance(profiles, dict):
        raise ConfigError(f"{path}: 'profiles' must be an object")
    return {str(k): str(v) for k, v in profiles.items() if isinstance(v, str)}


def _write_file(profiles: dict[str, str]) -> Path:
    path = paths.credentials_file()
    data = json.dumps({"profiles": profiles}, indent=2).encode("utf-8")
    atomic_write(path, data, mode=0o600)  # the temp file is 0600 before it is renamed
    return path


# --------------------------------------------------------------------------- public API


def get_key(profile: str) -> str | None:
    """The stored key of ``profile`` (keyring first, then the fallback file), or None."""
    return get_key_and_source(profile)[0]


def get_key_and_source(profile: str) -> tuple[str | None, str | None]:
    """``(key, where)``: ``where`` is ``"keyring"`` or the fallback file's path (None: no key)."""
    kr = _usable_keyring()
    if kr is not None:
        try:
            value = kr.get_password(SERVICE, profile)
            if value:
                return value, "keyring"
        except Exception:
            kr = None
    stored = _read_file().get(profile)
    if stored and kr is None:
        _warn_fallback("no keyring backend")
    return (stored, str(paths.credentials_file())) if stored else (None, None)


def set_key(profile: str, key: str) -> str:
    """Store ``key`` for ``profile``; returns where it went (for a message, never the key)."""
    if not key or not key.strip():
        raise ConfigError("the API key is empty")
    kr = _usable_keyring()
    if kr is not None:
        try:
            kr.set_password(SERVICE, profile, key)
            # a stale copy in the fallback file must not shadow the keyring
            _remove_from_file(profile)
            return f"the OS keyring ({type(kr).__name__}, service {SERVICE!r}, entry {profile!r})"
        except Exception as exc:
            reason = f"keyring error: {type(exc).__name__}"
    else:
        reason = "no keyring backend"
    _warn_fallback(reason)
    profiles = _read_file()
    profiles[profile] = key
    path = _write_file(profiles)
    return f"{path} (mode 0600)"


def _remove_from_file(profile: str) -> bool:
    profiles = _read_file()  # {} when there is no file
    if profile not in profiles:
        return False
    del profiles[profile]
    _write_file(profiles)
    return True


def delete_key(profile: str) -> bool:
    """Forget the key of ``profile`` everywhere; True if one was stored."""
    removed = False
    kr = _usable_keyring()
    if kr is not None:
        try:
            if kr.get_password(SERVICE, profile) is not None:
                kr.delete_password(SERVICE, profile)
                removed = True
        except Exception:
            pass
    return _remove_from_file(profile) or removed


def storage_description() -> str:
    """Where new keys would be stored (for ``phantom auth status``)."""
    kr = _usable_keyring()
    if kr is not None:
        return f"OS keyring ({type(kr).__name__})"
    return f"{paths.credentials_file()} (mode 0600; no keyring backend)"
