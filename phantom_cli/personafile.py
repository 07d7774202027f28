"""Companion persona files: load and save the seed-000 persona in TOML, JSON or YAML.

The format follows the file's extension (``.toml``, ``.json``, ``.yaml`` / ``.yml``). The file
holds the persona fields at its top level (``name``, ``bio``, ``chat_style`` …, see
:class:`phantom_cli.client.models.CompanionPersona`); every value is text.

- :func:`load_persona` validates with ``CompanionPersona`` and raises :class:`PersonaFileError`
  naming the file, the field and the limit. Keys that are not persona fields are reported as a
  warning naming them (never silently dropped).
- :func:`save_persona` writes the same format back, atomically; keys of the existing file that are
  not persona fields are carried over, so a load → edit → save round-trip loses nothing.

Shared by ``phantom companion say`` and the TUI playground.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import tomllib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phantom_cli.client.models import PERSONA_LIMITS, CompanionPersona

FORMATS: dict[str, str] = {".toml": "toml", ".json": "json", ".yaml": "yaml", ".yml": "yaml"}
PERSONA_FIELDS: tuple[str, ...] = tuple(CompanionPersona.model_fields)


class PersonaFileError(ValueError):
    """A persona file that cannot be read, parsed or validated.

    ``problems`` is a list of ``(field, message)``; ``field`` is ``""`` for file-level problems.
    """

    def __init__(self, path: str | os.PathLike[str], problems: list[tuple[str, str]]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__(self._text())

    def _text(self) -> str:
        lines = [f"{self.path}: {f}: {m}" if f else f"{self.path}: {m}" for f, m in self.problems]
        return "\n".join(lines)


class PersonaFileWarning(UserWarning):
    """A persona file has keys that are not persona fields."""


@dataclass
class PersonaFile:
    """A parsed persona file: the validated persona, its format and the keys it did not know."""

    path: Path
    format: str
    persona: CompanionPersona
    unknown_keys: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def warning(self) -> str | None:
        if not self.unknown_keys:
            return None
        keys = ", ".join(repr(k) for k in self.unknown_keys)
        return (
            f"{self.path}: ignoring unknown key(s) {keys} (not persona fields; "
            f"known: {', '.join(PERSONA_FIELDS)})"
        )


def persona_format(path: str | os.PathLike[str]) -> str:
    """``toml`` | ``json`` | ``yaml`` from the extension, or :class:`PersonaFileError`."""
    ext = Path(path).suffix.lower()
    try:
        return FORMATS[ext]
    except KeyError:
        raise PersonaFileError(
            path,
            [("", f"unsupported extension {ext or '(none)'!r}; use .toml, .json, .yaml or .yml")],
        ) from None


# --------------------------------------------------------------------------- parsing


def _yaml_text_loader() -> Any:
    """A safe YAML loader that keeps every scalar as text (only ``null``/``~`` are resolved).

    Persona fields are free text: ``date_of_birth: 1998-04-02`` must stay a string and
    ``nickname: no`` must not become ``False``.
    """
    import yaml

    class _TextLoader(yaml.SafeLoader):
        pass

    null_tag = "tag:yaml.org,2002:null"
    _TextLoader.yaml_implicit_resolvers = {
        ch: [(tag, rx) for tag, rx in resolvers if tag == null_tag]
        for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return _TextLoader


def _parse(path: Path, fmt: str, text: str) -> Any:
    try:
        if fmt == "toml":
            return tomllib.loads(text)
        if fmt == "json":
            return json.loads(text)
        import yaml

        return yaml.load(text, Loader=_yaml_text_loader())  # noqa: S506 - safe loader subclass
    except tomllib.TOMLDecodeError as e:
        raise PersonaFileError(path, [("", f"invalid TOML: {e}")]) from None
    except json.JSONDecodeError as e:
        raise PersonaFileError(path, [("", f"invalid JSON: {e}")]) from None
    except Exception as e:  # yaml.YAMLError and friends
        msg = " ".join(str(e).split())
        raise PersonaFileError(path, [("", f"invalid YAML: {msg}")]) from None


def _as_text(value: Any) -> tuple[str | None, str | None]:
    """A field value as text, or an error message."""
    if value is None or isinstance(value, str):
        return value, None
    if isinstance(value, bool):
        return None, "must be text, not a boolean (quote it)"
    if isinstance(value, int | float):
        return str(value), None
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat(), None
    kind = "a list" if isinstance(value, list) else "a table" if isinstance(value, dict) else "text"
    return None, f"must be text, not {kind}"


def _limit_message(name: str, value: str, err_type: str, pyd_msg: str) -> str:
    lo, hi, required = PERSONA_LIMITS.get(name, (0, None, False))
    if err_type == "missing":
        span = f"{lo}–{hi}" if hi else f"at least {lo}"
        return f"is required ({span} characters)"
    if err_type in ("string_too_long", "string_too_short"):
        span = f"{lo}–{hi}" if lo else f"at most {hi}"
        return f"is {len(value)} characters; the limit is {span} characters"
    return pyd_msg


def read_persona(path: str | os.PathLike[str]) -> PersonaFile:
    """Parse and validate a persona file; unknown keys are returned, not dropped."""
    from pydantic import ValidationError

    p = Path(path)
    fmt = persona_format(p)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PersonaFileError(p, [("", "no such file")]) from None
    except IsADirectoryError:
        raise PersonaFileError(p, [("", "is a directory, not a persona file")]) from None
    except UnicodeDecodeError as e:
        raise PersonaFileError(
            p, [("", f"not UTF-8 text ({e.reason} at byte {e.start})")]
        ) from None
    except OSError as e:
        raise PersonaFileError(p, [("", f"cannot read: {e.strerror or e}")]) from None

    data = _parse(p, fmt, text)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PersonaFileError(
            p, [("", "the top level must be a table/object of persona fields (name, bio, …)")]
        )

    problems: list[tuple[str, str]] = []
    values: dict[str, str] = {}
    extra: dict[str, Any] = {}
    for key, raw in data.items():
        key = str(key)
        if key not in PERSONA_FIELDS:
            extra[key] = raw
            continue
        text_value, err = _as_text(raw)
        if err:
            problems.append((key, err))
        elif text_value is not None:
            values[key] = text_value

    if "name" not in values and isinstance(extra.get("persona"), dict):
        problems.append(
            ("persona", "looks like a request body: put the persona fields at the top level")
        )
    try:
        persona = CompanionPersona(**values)
    except ValidationError as e:
        reported = {f for f, _ in problems}
        for err in e.errors():
            name = str(err["loc"][0]) if err["loc"] else ""
            if name in reported and err["type"] == "missing":
                continue  # "must be text, not a list" already says what is wrong with it
            problems.append(
                (name, _limit_message(name, values.get(name, ""), err["type"], err["msg"]))
            )
        persona = None  # type: ignore[assignment]
    if problems:
        raise PersonaFileError(p, problems)
    return PersonaFile(path=p, format=fmt, persona=persona, unknown_keys=list(extra), extra=extra)


def load_persona(
    path: str | os.PathLike[str], *, warn: Callable[[str], None] | None = None
) -> CompanionPersona:
    """Load and validate a persona file.

    Unknown keys are reported through ``warn(message)``; without it, as a
    :class:`PersonaFileWarning` (``warnings.warn``).
    """
    pf = read_persona(path)
    if pf.warning:
        if warn is not None:
            warn(pf.warning)
        else:
            warnings.warn(pf.warning, PersonaFileWarning, stacklevel=2)
    return pf.persona


# --------------------------------------------------------------------------- writing


def _dump_yaml(data: dict[str, Any]) -> str:
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper: yaml.SafeDumper, value: str) -> Any:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _str)
    return yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False
    )


def dumps_persona(persona: CompanionPersona, fmt: str, extra: dict[str, Any] | None = None) -> str:
    """The text of a persona file in ``fmt`` (persona fields first, in the seed's order)."""
    data: dict[str, Any] = {k: v for k, v in persona.model_dump().items() if v is not None}
    for k, v in (extra or {}).items():
        if k not in data and v is not None:
            data[k] = v
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt == "toml":
        import tomli_w

        return tomli_w.dumps(data, multiline_strings=True)
    if fmt == "yaml":
        return _dump_yaml(data)
    raise ValueError(f"unknown persona format {fmt!r}")


def _existing_extra(path: Path) -> dict[str, Any]:
    try:
        return read_persona(path).extra
    except PersonaFileError:
        return {}


def save_persona(
    path: str | os.PathLike[str], persona: CompanionPersona, *, keep_unknown: bool = True
) -> Path:
    """Write ``persona`` to ``path`` in the format of its extension, atomically.

    With ``keep_unknown`` (default), keys of the existing file that are not persona fields are
    written back unchanged.
    """
    from phantom_cli.config.settings import atomic_write

    p = Path(path)
    fmt = persona_format(p)
    extra = _existing_extra(p) if keep_unknown and p.is_file() else {}
    text = dumps_persona(persona, fmt, extra)
    # a folder made here keeps the umask's mode (atomic_write would make it 0700, like phantom's
    # own folders); the file keeps its mode, a new one is 0644
    p.parent.mkdir(parents=True, exist_ok=True)
    mode = p.stat().st_mode & 0o777 if p.exists() else 0o644
    atomic_write(p, text.encode("utf-8"), mode=mode)
    return p


def example_personas() -> list[Path]:
    """The persona files shipped with the package (``phantom_cli/personas/``)."""
    here = Path(__file__).with_name("personas")
    return sorted(q for q in here.iterdir() if q.suffix.lower() in FORMATS)
