"""phantom_cli.config — directories, settings file with profiles, and secrets.

The only code that knows where things live on disk. Stdlib only at import time (start-up rule).

    from phantom_cli.config import load_settings, resolve, ConfigError
    eff = resolve(profile=None, base_url=None, api_key=None)
"""

from __future__ import annotations

from .paths import (
    cache_dir,
    config_dir,
    config_file,
    credentials_file,
    data_dir,
    local_api_key_file,
    runtime_dir,
    state_dir,
)
from .settings import (
    HOSTED_BASE_URL,
    KEYS,
    LOCAL_PROFILE,
    ConfigError,
    Effective,
    Settings,
    load_settings,
    parse_value,
    resolve,
)

__all__ = [
    "HOSTED_BASE_URL",
    "KEYS",
    "LOCAL_PROFILE",
    "ConfigError",
    "Effective",
    "Settings",
    "cache_dir",
    "config_dir",
    "config_file",
    "credentials_file",
    "data_dir",
    "load_settings",
    "local_api_key_file",
    "parse_value",
    "resolve",
    "runtime_dir",
    "state_dir",
]
