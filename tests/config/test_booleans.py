"""One boolean parser (config/booleans.py) with one set of words; every caller accepts exactly
those words: CLI parameters (_coerce), CLI filter flags (common.parse_bool), ``phantom config
set`` (config.parse_value) and the server's environment (backend.settings)."""

from __future__ import annotations

import pytest
import typer
from phantom_cli.config import ConfigError, parse_value
from phantom_cli.config.booleans import FALSE_WORDS, TRUE_WORDS, parse_bool

from phantom_cli.backend.settings import _coerce as server_env
from phantom_cli.cli._coerce import _to_bool as cli_param
from phantom_cli.cli.common import parse_bool as cli_flag

TRUE = sorted(TRUE_WORDS) + ["TRUE", " Yes ", "On"]
FALSE = sorted(FALSE_WORDS) + ["FALSE", " No ", "Off"]
BAD = ["", "maybe", "2", "enable", "truee"]


def test_words() -> None:
    assert TRUE_WORDS == {"1", "true", "t", "yes", "y", "on"}
    assert FALSE_WORDS == {"0", "false", "f", "no", "n", "off"}
    assert parse_bool(True) is True and parse_bool(False) is False
    assert parse_bool(b"yes") is True
    for w in TRUE:
        assert parse_bool(w) is True, w
    for w in FALSE:
        assert parse_bool(w) is False, w
    for w in BAD:
        with pytest.raises(ValueError, match="not a boolean"):
            parse_bool(w)


def _callers():
    def flag(w: str) -> bool:
        try:
            out = cli_flag(w, "--featured")
        except (typer.Exit, SystemExit, Exception) as exc:  # fail() exits with a message
            raise ValueError(str(exc)) from None
        assert out is not None
        return out

    def config(w: str) -> bool:
        try:
            return parse_value("vector_store", w)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    return {
        "cli_param": cli_param,
        "cli_flag": flag,
        "config_set": config,
        "server_env": lambda w: server_env("vector_store", w),
    }


@pytest.mark.parametrize("caller", ["cli_param", "cli_flag", "config_set", "server_env"])
def test_every_caller_accepts_the_same_words(caller: str) -> None:
    fn = _callers()[caller]
    assert [fn(w) for w in TRUE] == [True] * len(TRUE)
    assert [fn(w) for w in FALSE] == [False] * len(FALSE)
    for w in BAD:
        with pytest.raises(ValueError):
            fn(w)


def test_server_env_names_the_variable() -> None:
    with pytest.raises(ValueError, match="PHANTOM_SERVER_VECTOR_STORE: 'maybe' is not a boolean"):
        server_env("vector_store", "maybe")
