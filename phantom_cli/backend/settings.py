"""Server settings: one dataclass built from CLI flags / environment (stdlib only).

Available to handlers as ``request.app.state.settings`` (or ``ctx.settings``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

ENGINES = ("scripted", "openai", "llama-cpp")


def backend_dir() -> Path:
    """``data_dir()/backend`` — database, key file and media files live here."""
    from phantom_cli.config import paths

    return paths.backend_dir()


def key_file_path() -> Path:
    from phantom_cli.config import paths

    return paths.local_api_key_file()


@dataclass
class ServerSettings:
    """Everything the server needs; never re-read from the environment after start."""

    db_path: Path = field(default_factory=lambda: backend_dir() / "phantom.db")
    host: str = "127.0.0.1"
    port: int = 0
    engine: str = "scripted"
    engine_base_url: str | None = None
    engine_model: str | None = None
    engine_api_key: str | None = None
    engine_api_key_env: str | None = None  # the variable engine_api_key was read from (not secret)
    llama_model_path: str | None = None
    idle_timeout: float = 1800.0  # seconds without a request before the server exits; 0 = never
    faults: str = ""  # e.g. "503:0.2,429:0.1,latency:300ms,cut-stream:0.1,402:0.05"
    fault_seed: int | None = None  # seeded fault RNG (tests)
    memory_cadence: int = 3
    vector_store: bool = True
    seed: int = 0
    scripted_pace: float = 40.0  # scripted engine: words per second when streaming; 0 = no delay
    moderation_policy: str | None = None  # JSON/TOML policy file; None = the shipped policy
    engine_embedding_model: str | None = None  # openai engine: embed memories via /v1/embeddings
    media_dir: Path = field(default_factory=lambda: backend_dir() / "media")
    key_file: Path = field(default_factory=key_file_path)
    runtime_file: Path | None = None  # written by the background server (runtime.py)
    load_seed_content: bool = True
    # stalled connections (slowloris): seconds to send the request head / each piece of a body;
    # an idle keep-alive connection is closed after keep_alive_timeout
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    keep_alive_timeout: float = 5.0

    def __post_init__(self) -> None:
        self.db_path = Path(self.db_path)
        self.media_dir = Path(self.media_dir)
        self.key_file = Path(self.key_file)
        if self.engine not in ENGINES:
            raise ValueError(f"engine: must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.scripted_pace < 0:
            raise ValueError("scripted_pace: must be >= 0 words per second (0 = no delay)")
        if self.idle_timeout < 0:
            raise ValueError("idle_timeout: must be >= 0 seconds")
        for name in ("header_timeout", "body_timeout", "keep_alive_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be > 0 seconds")
        if not 0 <= int(self.port) <= 65535:
            raise ValueError("port: must be between 0 and 65535")
        if self.faults:
            from .faults import parse_faults  # stdlib only

            parse_faults(self.faults)  # ValueError names the faulty item
        if self.moderation_policy:
            from .moderation import get_policy  # stdlib only; cached for the first turn

            get_policy(self)  # ValueError names the file (was a 500 on the first companion turn)

    @classmethod
    def for_home(cls, home: Path | str, **overrides: Any) -> ServerSettings:
        """Settings with every file under ``home`` laid out like PHANTOM_HOME (tests)."""
        b = Path(home) / "data" / "backend"
        base: dict[str, Any] = {
            "db_path": b / "phantom.db",
            "media_dir": b / "media",
            "key_file": b / "api_key",
        }
        base.update(overrides)
        return cls(**base)

    @classmethod
    def from_env(cls, **overrides: Any) -> ServerSettings:
        """Defaults < ``PHANTOM_SERVER_*`` environment < explicit overrides (flags)."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = os.environ.get(f"PHANTOM_SERVER_{f.name.upper()}")
            if raw is None:
                continue
            values[f.name] = _coerce(f.name, raw)
        if "engine_api_key" not in values:
            env_name = os.environ.get("PHANTOM_SERVER_ENGINE_API_KEY_ENV")
            if env_name and os.environ.get(env_name):
                values["engine_api_key"] = os.environ[env_name]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


_INTS = {"port", "memory_cadence", "seed", "fault_seed"}
_FLOATS = {"idle_timeout", "scripted_pace", "header_timeout", "body_timeout", "keep_alive_timeout"}
_BOOLS = {"vector_store", "load_seed_content"}


def _coerce(name: str, raw: str) -> Any:
    try:
        if name in _INTS:
            return int(raw)
        if name in _FLOATS:
            return float(raw)
    except ValueError as exc:
        raise ValueError(f"PHANTOM_SERVER_{name.upper()}: not a number: {raw!r}") from exc
    if name in _BOOLS:
        from phantom_cli.config.booleans import parse_bool

        try:
            return parse_bool(raw)
        except ValueError as exc:
            raise ValueError(f"PHANTOM_SERVER_{name.upper()}: {exc}") from None
    return raw
