"""Settings file with named profiles, and the one function that computes effective settings.

``config_dir()/config.toml``::

    default_profile = "local"

    [profiles.local]
    backend = "local"
    player_name = "Ash"

    [profiles.hosted]
    backend = "hosted"
    base_url = "https://api.phantomrouter.ai"

The built-in ``local`` profile exists even with no file. Precedence of every value:
flags > environment (``PHANTOM_PROFILE``, ``PHANTOM_BASE_URL``, ``PHANTOM_API_KEY``) > profile >
defaults; :func:`resolve` records where each value came from.

Start-up rule: stdlib only at module level (tomllib is imported to read a file, tomli_w to
write one).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import paths
from .booleans import parse_bool

HOSTED_BASE_URL = "https://api.phantomrouter.ai"
LOCAL_PROFILE = "local"
HOSTED_PROFILE = "hosted"
BACKENDS = ("hosted", "local")
ENGINES = ("scripted", "openai", "llama-cpp")
PLAYER_GENDERS = ("female", "male", "non-binary")

ENV_PROFILE = "PHANTOM_PROFILE"
ENV_BASE_URL = "PHANTOM_BASE_URL"
ENV_API_KEY = "PHANTOM_API_KEY"

PROFILE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Key:
    """One profile key: its type, default and (optionally) allowed values."""

    type: type
    default: Any
    choices: tuple[str, ...] | None = None
    help: str = ""
    minimum: float | None = None
    positive: bool = False  # strictly greater than 0 (a 0 s timeout fails every request)


# Every profile key (docs/architecture.md, "Settings"). None default = unset.
KEYS: dict[str, Key] = {
    "backend": Key(str, LOCAL_PROFILE, BACKENDS, "hosted API or the embedded local backend"),
    "base_url": Key(str, None, None, "API base URL (hosted default; local = automatic)"),
    "timeout_connect": Key(float, 5.0, None, "connect timeout, seconds", 0, positive=True),
    "timeout_read": Key(float, 60.0, None, "read timeout, seconds", 0, positive=True),
    "max_retries": Key(int, 2, None, "retries on 429/503/connection errors", 0),
    "npc_persona": Key(str, "abc123", None, "default NPC persona id"),
    "companion_persona_file": Key(str, None, None, "default companion persona file"),
    "player_name": Key(str, None, None, "player name for NPC sessions"),
    "player_gender": Key(str, None, PLAYER_GENDERS, "player gender for NPC sessions"),
    "engine": Key(str, "scripted", ENGINES, "local backend reply engine"),
    "engine_base_url": Key(str, None, None, "OpenAI-compatible endpoint (engine=openai)"),
    "engine_model": Key(str, None, None, "model name for the engine"),
    "engine_api_key_env": Key(str, None, None, "env var holding the engine's API key"),
    "llama_model_path": Key(str, None, None, "GGUF model path (engine=llama-cpp)"),
    "idle_timeout": Key(int, 1800, None, "local server idle exit, seconds", 0),
    "faults": Key(str, "", None, "fault injection spec for the local server"),
    "memory_cadence": Key(int, 3, None, "memory extraction every N turns", 1),
    "vector_store": Key(bool, True, None, "local backend vector memory"),
    "seed": Key(int, 0, None, "scripted engine seed", 0),
    "scripted_pace": Key(float, None, None, "scripted engine streaming pace, words/s (default 40; 0 = no delay)", 0),
    "moderation_policy": Key(str, None, None, "moderation policy file (JSON/TOML) for the local server"),
    "engine_embedding_model": Key(str, None, None, "embedding model for memories (engine=openai)"),
}

TOP_LEVEL_KEYS = ("default_profile", "profiles")
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


ConfigError = paths.ConfigError  # defined in paths (which raises it too); re-exported here


# --------------------------------------------------------------------------- validation


def _check_value(key: str, value: Any, where: str) -> Any:
    """Validate ``value`` for ``key``; return it normalised (int → float for numbers).

    ``where`` (file and profile) prefixes the messages; empty for a value typed on the command
    line (``config set``), where the key alone says it.
    """
    at = f"{where}: " if where else ""
    spec = KEYS.get(key)
    if spec is None:
        known = ", ".join(KEYS)
        raise ConfigError(f"{at}unknown key {key!r} (known keys: {known})")
    ok: bool
    if spec.type is bool:
        ok = isinstance(value, bool)
    elif spec.type is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif spec.type is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok:
            value = float(value)
    else:
        ok = isinstance(value, str)
    if not ok:
        raise ConfigError(
            f"{at}key {key!r} must be {_TYPE_NAMES[spec.type]}, "
            f"got {type(value).__name__} {value!r}"
        )
    if spec.choices is not None and value not in spec.choices:
        raise ConfigError(
            f"{at}key {key!r} must be one of {', '.join(spec.choices)}; got {value!r}"
        )
    if spec.positive and value <= 0:
        raise ConfigError(f"{at}key {key!r} must be > 0 (seconds); got {value!r}")
    if spec.minimum is not None and value < spec.minimum:
        raise ConfigError(f"{at}key {key!r} must be ≥ {spec.minimum:g}; got {value!r}")
    if key == "base_url" and not re.match(r"^https?://[^\s/]+", value):
        raise ConfigError(f"{at}key 'base_url' must be an http(s) URL; got {value!r}")
    return value


def parse_value(key: str, text: str) -> Any:
    """Turn the text of ``phantom config set KEY VALUE`` into a typed value (validated)."""
    spec = KEYS.get(key)
    if spec is None:
        raise ConfigError(f"unknown key {key!r} (known keys: {', '.join(KEYS)})")
    value: Any = text
    if spec.type is bool:
        try:
            value = parse_bool(text)
        except ValueError:
            raise ConfigError(f"key {key!r} must be true or false; got {text!r}") from None
    elif spec.type is int:
        try:
            value = int(text.strip())
        except ValueError:
            raise ConfigError(f"key {key!r} must be an integer; got {text!r}") from None
    elif spec.type is float:
        try:
            value = float(text.strip())
        except ValueError:
            raise ConfigError(f"key {key!r} must be a number; got {text!r}") from None
    return _check_value(key, value, "")


def check_profile_name(name: str) -> str:
    if not PROFILE_NAME_RE.match(name):
        raise ConfigError(
            f"profile name {name!r} is invalid: 1–64 characters, letters, digits, '_', '.', '-'"
        )
    return name


# --------------------------------------------------------------------------- the settings file


@dataclass
class Settings:
    """The parsed settings file. ``profiles`` maps name → explicitly set keys."""

    path: Path
    default_profile: str | None = None
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    exists: bool = False

    # ---- queries

    def profile_names(self) -> list[str]:
        names = list(self.profiles)
        if LOCAL_PROFILE not in names:
            names.insert(0, LOCAL_PROFILE)
        return names

    def has_profile(self, name: str) -> bool:
        return name == LOCAL_PROFILE or name in self.profiles

    def effective_default(self) -> str:
        return self.default_profile or LOCAL_PROFILE

    def profile(self, name: str) -> dict[str, Any]:
        """The keys set in profile ``name`` (the built-in ``local`` one is ``backend=local``)."""
        if name in self.profiles:
            return dict(self.profiles[name])
        if name == LOCAL_PROFILE:
            return {"backend": "local"}
        raise ConfigError(
            f"profile {name!r} not found in {self.path} (profiles: {', '.join(self.profile_names())})"
        )

    # ---- edits (call save() afterwards)

    def set(self, profile: str, key: str, value: Any) -> None:
        value = _check_value(key, value, f"profile {profile!r}")
        self.profiles.setdefault(profile, {"backend": "local"} if profile == LOCAL_PROFILE else {})
        self.profiles[profile][key] = value

    def unset(self, profile: str, key: str) -> bool:
        if key not in KEYS:
            raise ConfigError(f"unknown key {key!r} (known keys: {', '.join(KEYS)})")
        return self.profiles.get(profile, {}).pop(key, None) is not None

    def add_profile(self, name: str, backend: str = "hosted", base_url: str | None = None) -> None:
        check_profile_name(name)
        if self.has_profile(name):
            raise ConfigError(f"profile {name!r} already exists in {self.path}")
        values: dict[str, Any] = {"backend": _check_value("backend", backend, f"profile {name!r}")}
        if base_url is not None:
            values["base_url"] = _check_value("base_url", base_url, f"profile {name!r}")
        self.profiles[name] = values

    def remove_profile(self, name: str) -> None:
        if name not in self.profiles:
            raise ConfigError(f"profile {name!r} not found in {self.path}")
        del self.profiles[name]
        if self.default_profile == name:
            self.default_profile = None

    def use(self, name: str) -> None:
        if not self.has_profile(name):
            raise ConfigError(
                f"profile {name!r} not found (profiles: {', '.join(self.profile_names())})"
            )
        self.default_profile = name

    # ---- persistence

    def to_toml_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.default_profile:
            out["default_profile"] = self.default_profile
        out["profiles"] = {
            name: {k: v for k, v in values.items() if v is not None}
            for name, values in self.profiles.items()
        }
        return out

    def save(self) -> Path:
        """Write the file atomically (temp file + os.replace), mode 0600."""
        import tomli_w

        text = tomli_w.dumps(self.to_toml_dict())
        atomic_write(self.path, text.encode("utf-8"), mode=0o600)
        self.exists = True
        return self.path


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` via a temp file in the same dir and ``os.replace``.

    The temp file is ``.<name>.<random>.tmp``; ``atomic_temp_target`` recognises such names
    (start-up clean-up of files a kill left behind)."""
    paths.ensure_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


_USERINFO_RE = None


def redact_credentials(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` URL replaced by ``***``
    (base URLs with credentials must never be echoed: errors, --debug, config list)."""
    global _USERINFO_RE
    if "@" not in text:
        return text
    if _USERINFO_RE is None:
        import re

        _USERINFO_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*):[^/\s@]*@")
    return _USERINFO_RE.sub(r"\1:***@", text)


def storage_problem(exc: BaseException, path: object = None) -> str | None:
    """One line saying what is wrong with the disk and where, for an error writing local files
    (an ``OSError`` such as ENOSPC/EROFS/EACCES, or sqlite's disk errors); None otherwise.
    ``path``: where, when ``exc`` does not say (sqlite never does)."""
    import errno

    reasons = {
        errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
        errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
    }
    reason = None
    where = path
    if isinstance(exc, OSError) and exc.errno in reasons:
        reason = reasons[exc.errno]
        where = exc.filename or path
    elif type(exc).__name__ == "OperationalError":  # sqlite3 (not imported here: start-up)
        text = str(exc).lower()
        if "disk is full" in text or "disk i/o" in text:
            reason = "the disk is full (or failing)" if "i/o" in text else "the disk is full"
        elif "readonly" in text or "read-only" in text:
            reason = "the file system is read-only"
        elif "unable to open database" in text:
            reason = "the database file cannot be opened (missing folder, read-only or no permission)"
    if reason is None:
        return None
    return f"cannot write {where}: {reason}" if where else f"cannot write local files: {reason}"


def atomic_temp_target(name: str) -> str | None:
    """The file name an ``atomic_write`` temp file named ``name`` was for, or None when
    ``name`` is not such a temp file (``.gen_1f.png.k2x9_a0b.tmp`` → ``gen_1f.png``)."""
    import re

    m = re.fullmatch(r"\.(.+)\.[A-Za-z0-9_]+\.tmp", name)
    return m.group(1) if m else None


def _parse(path: Path, data: Mapping[str, Any]) -> Settings:
    settings = Settings(path=path, exists=True)
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise ConfigError(
                f"{path}: unknown top-level key {key!r} (allowed: {', '.join(TOP_LEVEL_KEYS)}; "
                "profile keys go under [profiles.NAME])"
            )
    default = data.get("default_profile")
    if default is not None and not isinstance(default, str):
        raise ConfigError(f"{path}: 'default_profile' must be a string, got {default!r}")
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"{path}: 'profiles' must be a table of [profiles.NAME] tables")
    for name, values in profiles.items():
        where = f"{path}: profile {name!r}"
        if not PROFILE_NAME_RE.match(name):
            raise ConfigError(f"{where}: invalid profile name (letters, digits, '_', '.', '-')")
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: must be a table ([profiles.{name}])")
        checked = {k: _check_value(k, v, where) for k, v in values.items()}
        settings.profiles[name] = checked
    if default is not None and not settings.has_profile(default):
        raise ConfigError(
            f"{path}: default_profile {default!r} is not a profile "
            f"(profiles: {', '.join(settings.profile_names())})"
        )
    settings.default_profile = default
    return settings


def load_settings(path: Path | None = None) -> Settings:
    """Read and validate the settings file; a missing file gives the built-in defaults.

    A file that does not parse raises :class:`ConfigError` naming the file, line and column;
    the file is never modified.
    """
    path = path or paths.config_file()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Settings(path=path)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    import tomllib  # here: no config file, no TOML parser (start-up)

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}: line {line}: not valid UTF-8 (fix or remove the file)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends with "(at line L, column C)".
        raise ConfigError(f"{path}: invalid TOML: {exc} (fix or remove the file)") from None
    return _parse(path, data)


# --------------------------------------------------------------------------- effective settings


@dataclass
class Effective:
    """Effective settings of one invocation, with the source of every value."""

    profile_name: str
    backend: str
    base_url: str | None
    values: dict[str, Any]
    sources: dict[str, str]
    settings: Settings
    _api_key: str | None = None
    _api_key_resolved: bool = False

    def get(self, key: str, default: Any = None) -> Any:
        value = self.values.get(key, default)
        return default if value is None else value

    @property
    def api_key(self) -> str | None:
        """flag > env > keyring/file for the profile (looked up on first use).

        The ``local`` backend keeps its key in ``data_dir()/backend/api_key``
        (read by :mod:`phantom_cli.connect`), so the keyring is not consulted for it.
        """
        if not self._api_key_resolved:
            self._api_key_resolved = True
            if self.backend != "local":
                from . import secrets

                stored, where = secrets.get_key_and_source(self.profile_name)
                if stored:
                    self._api_key = stored
                    # "keyring", or the 0600 fallback file that actually holds it
                    self.sources["api_key"] = where or "keyring"
        return self._api_key

    def timeout(self) -> tuple[float, float]:
        """(connect, read) seconds."""
        return float(self.values["timeout_connect"]), float(self.values["timeout_read"])

    def __repr__(self) -> str:  # never show the key
        key = "set" if self._api_key else "unset"
        return (
            f"Effective(profile_name={self.profile_name!r}, backend={self.backend!r}, "
            f"base_url={self.base_url!r}, api_key=<{key}>)"
        )


def resolve(
    profile: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
) -> Effective:
    """Effective settings: flags (arguments) > env > profile > defaults.

    ``overrides`` are other flag values by key (validated); ``None`` means "not given".
    """
    settings = settings if settings is not None else load_settings()
    sources: dict[str, str] = {}

    env_profile = os.environ.get(ENV_PROFILE) or None
    if profile:
        name, sources["profile"] = profile, "flag"
    elif env_profile:
        name, sources["profile"] = env_profile, "env"
    elif settings.default_profile:
        name, sources["profile"] = settings.default_profile, "profile"
    else:
        name, sources["profile"] = LOCAL_PROFILE, "default"
    if not settings.has_profile(name):
        origin = {"flag": "--profile", "env": f"${ENV_PROFILE}"}.get(sources["profile"], "config")
        raise ConfigError(
            f"profile {name!r} (from {origin}) not found "
            f"(profiles: {', '.join(settings.profile_names())}); "
            "create it with 'phantom profile add'"
        )
    prof = settings.profile(name)

    values: dict[str, Any] = {}
    for key, spec in KEYS.items():
        if key in prof:
            values[key], sources[key] = prof[key], "profile"
        else:
            values[key], sources[key] = spec.default, "default"
    if values["backend"] == "hosted" and values["base_url"] is None:
        values["base_url"] = HOSTED_BASE_URL

    for key, value in (overrides or {}).items():
        if value is None:
            continue
        values[key] = _check_value(key, value, "flag")
        sources[key] = "flag"

    env_url = os.environ.get(ENV_BASE_URL) or None
    if base_url:
        values["base_url"], sources["base_url"] = (
            _check_value("base_url", base_url, "--base-url"),
            "flag",
        )
    elif env_url and sources.get("base_url") != "flag":
        values["base_url"] = _check_value("base_url", env_url, f"${ENV_BASE_URL}")
        sources["base_url"] = "env"

    eff = Effective(
        profile_name=name,
        backend=values["backend"],
        base_url=values["base_url"].rstrip("/") if values["base_url"] else None,
        values=values,
        sources=sources,
        settings=settings,
    )
    env_key = os.environ.get(ENV_API_KEY) or None
    if api_key:
        eff._api_key, eff._api_key_resolved, sources["api_key"] = api_key, True, "flag"
    elif env_key:
        eff._api_key, eff._api_key_resolved, sources["api_key"] = env_key, True, "env"
    else:
        sources["api_key"] = "default"
    return eff
