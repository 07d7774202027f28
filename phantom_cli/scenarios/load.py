"""Reading scenario files (``phantom-scenario/1``): YAML, TOML or JSON, validated by the JSON Schema
that ships beside this module, with the line of every key so an error names ``file:line``.

``load_suite(path) -> Suite`` raises :class:`ScenarioFileError` (exit 2) for anything wrong with
the file: unreadable, not parseable, not valid under the schema (a typo in an ``expect:`` key is
an ``additionalProperties`` error that names the key), a persona file that does not load.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from .model import EXPECT_KEYS, Scenario, Step, Suite, Target

FORMAT = "phantom-scenario/1"
Path_ = tuple[str | int, ...]


class ScenarioFileError(Exception):
    """A bad scenario file: ``str(err)`` is ``file:line: message``."""

    def __init__(self, file: str, line: int | None, message: str) -> None:
        self.file, self.line, self.message = file, line, message
        super().__init__(f"{file}:{line}: {message}" if line else f"{file}: {message}")


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of ``phantom-scenario/1`` (shipped as package data)."""
    text = resources.files(__package__).joinpath("schema.json").read_text(encoding="utf-8")
    return json.loads(text)


@cache
def _validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(schema())


# --------------------------------------------------------------------------- parsing with lines


@dataclass
class Parsed:
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line(self, path: Path_) -> int | None:
        """The line of ``path`` or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), 1)


def _yaml_lines(node: Any, path: Path_, out: dict[Path_, int]) -> None:
    import yaml

    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            k = key.value if isinstance(key, yaml.ScalarNode) else str(key.value)
            out[(*path, k)] = key.start_mark.line + 1
            _yaml_lines(value, (*path, k), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[(*path, i)] = item.start_mark.line + 1
            _yaml_lines(item, (*path, i), out)


def _parse_yaml(text: str) -> Parsed:
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Parsed(None)
        data = loader.construct_document(node)
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {}
    _yaml_lines(node, (), lines)
    return Parsed(data, lines)


def _toml_lines(text: str, data: Any) -> dict[Path_, int]:
    """Approximate lines for TOML (tomllib keeps none): each key's first ``key =`` / ``[[key]]``
    at or after its parent's line, in document order."""
    src = text.splitlines()
    out: dict[Path_, int] = {(): 1}

    def find(key: str, start: int) -> int:
        pat = re.compile(rf"^\s*(\[\[?\s*([\w.\"-]+\.)?)?\"?{re.escape(key)}\"?\s*(=|\]|\.)")
        for i in range(max(start - 1, 0), len(src)):
            if pat.search(src[i]):
                return i + 1
        return start

    def walk(obj: Any, path: Path_, start: int) -> int:
        cursor = start
        if isinstance(obj, dict):
            for k, v in obj.items():
                cursor = find(str(k), cursor)
                out[(*path, k)] = cursor
                cursor = walk(v, (*path, k), cursor)
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                out[(*path, i)] = cursor
                cursor = walk(v, (*path, i), cursor + (1 if isinstance(v, dict) and i else 0))
        return cursor

    walk(data, (), 1)
    return out


def parse_text(text: str, fmt: str, file: str = "<scenario>") -> Parsed:
    """Parse ``text`` as ``fmt`` (yaml | toml | json)."""
    try:
        if fmt == "toml":
            import tomllib

            data = tomllib.loads(text)
            return Parsed(data, _toml_lines(text, data))
        if fmt == "json":
            data = json.loads(text)
            try:  # JSON is (nearly always) YAML: borrow its line marks
                lines = _parse_yaml(text).lines
            except Exception:
                lines = {}
            return Parsed(data, lines)
        return _parse_yaml(text)
    except json.JSONDecodeError as exc:
        raise ScenarioFileError(file, exc.lineno, f"not valid JSON: {exc.msg}") from None
    except Exception as exc:  # yaml.YAMLError, tomllib.TOMLDecodeError
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        m = re.search(r"line (\d+)", str(exc))
        if line is None and m:
            line = int(m.group(1))
        what = {"toml": "TOML", "json": "JSON"}.get(fmt, "YAML")
        msg = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioFileError(file, line, f"not valid {what}: {msg}") from None


def file_format(path: Path) -> str:
    ext = path.suffix.lower()
    return {".toml": "toml", ".json": "json"}.get(ext, "yaml")


# --------------------------------------------------------------------------- schema errors


def _dotted(path: Path_) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _schema_error(err: Any, parsed: Parsed, file: str) -> ScenarioFileError:
    path = tuple(err.absolute_path)
    where = _dotted(path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        known = set(err.schema.get("properties", {}))
        extra = [k for k in err.instance if k not in known]
        key = extra[0] if extra else "?"
        line = parsed.line((*path, key))
        if path and path[-1] == "expect" or (len(path) >= 2 and path[-2] == "expect"):
            allowed = ", ".join(sorted(k for k in EXPECT_KEYS if "." not in k))
            msg = f"{where}: unknown expectation key {key!r} (known: {allowed}; dotted forms such as reply.contains too)"
        else:
            allowed = ", ".join(sorted(known))
            msg = f"{where}: unknown key {key!r} (allowed: {allowed})"
        return ScenarioFileError(file, line, msg)
    if err.validator in ("oneOf", "anyOf") and "x-message" in err.schema:
        return ScenarioFileError(file, parsed.line(path), f"{where}: {err.schema['x-message']}")
    if err.validator == "dependentSchemas" or err.validator == "dependentRequired":
        return ScenarioFileError(file, parsed.line(path), f"{where}: {err.message}")
    if err.validator in ("oneOf", "anyOf") and "description" in err.schema and not isinstance(err.instance, dict):
        return ScenarioFileError(file, parsed.line(path),
                                 f"{where}: {err.instance!r} is not valid: expected {err.schema['description']}")
    if err.validator in ("oneOf", "anyOf") and err.context:
        # the alternative that got furthest explains best
        best = max(err.context, key=lambda e: len(e.absolute_path))
        return ScenarioFileError(file, parsed.line(tuple(best.absolute_path)),
                                 f"{_dotted(tuple(best.absolute_path))}: {best.message}")
    return ScenarioFileError(file, parsed.line(path), f"{where}: {err.message}")


def validate(parsed: Parsed, file: str) -> None:
    """Raise the first schema error (in document order) as a :class:`ScenarioFileError`."""
    errors = list(_validator().iter_errors(parsed.data))
    if not errors:
        return
    # an unknown key first (a typo explains a "required" error beside it), then document order
    ranked = sorted(errors, key=lambda e: (e.validator != "additionalProperties",
                                           _schema_error(e, parsed, file).line or 0))
    raise _schema_error(ranked[0], parsed, file)


# --------------------------------------------------------------------------- building the model


def _flatten_expect(exp: dict[str, Any]) -> dict[str, Any]:
    """``{reply: {contains: x}, moderation.inbound_prohibited: true}`` → dotted keys."""
    out: dict[str, Any] = {}
    for k, v in exp.items():
        if isinstance(v, dict) and k in ("reply", "moderation", "memory", "error"):
            for sub, sv in v.items():
                out[f"{k}.{sub}"] = sv
        else:
            out[k] = v
    return out


def _target(sc: dict[str, Any], base: Path, file: str, line: int | None) -> Target:
    if "npc" in sc:
        player = sc.get("player") or {}
        return Target(kind="npc", id=str(sc["npc"]), machine=sc.get("machine"),
                      player_name=player.get("name"), player_gender=player.get("gender"))
    if "activity" in sc:
        return Target(kind="activity", id=str(sc["activity"]))
    persona = sc["persona"]
    if isinstance(persona, str):
        from phantom_cli.personafile import PersonaFileError, read_persona

        p = (base / persona) if not Path(persona).is_absolute() else Path(persona)
        name = str(persona)
        try:
            pf = read_persona(p)
        except (PersonaFileError, OSError) as exc:
            # fails this scenario when it runs, not the whole run (like an unknown NPC)
            return Target(kind="persona", id=name, chat_id=sc.get("chat_id"),
                          error=f"unknown persona {persona!r}: {exc}")
        data = pf.persona.model_dump(exclude_none=True)
    else:
        # inline personas are sent as written: the API checks them (a scenario may expect a 400)
        data = dict(persona)
        name = str(data.get("name", "persona"))[:60]
    return Target(kind="persona", id=name, persona=data, chat_id=sc.get("chat_id"))


def build(parsed: Parsed, file: str, base: Path) -> Suite:
    data = parsed.data
    file_vars = dict(data.get("vars") or {})
    scenarios: list[Scenario] = []
    for i, sc in enumerate(data["scenarios"]):
        line = parsed.line(("scenarios", i))
        target = _target(sc, base, file, parsed.line(("scenarios", i, "persona")))
        steps: list[Step] = []
        for j, st in enumerate(sc["steps"]):
            sline = parsed.line(("scenarios", i, "steps", j)) or line
            kind = next(k for k in ("say", "reset", "wait_for_extraction", "scratchpad", "vars") if k in st)
            exp_lines = {}
            if kind == "say" and st.get("expect"):
                flat = _flatten_expect(st["expect"])
                for k in flat:
                    head, _, sub = k.partition(".")
                    p = ("scenarios", i, "steps", j, "expect", k)
                    if p not in parsed.lines and sub:
                        p = ("scenarios", i, "steps", j, "expect", head, sub)
                    exp_lines[k] = parsed.line(p) or sline
            else:
                flat = {}
            value = st[kind]
            steps.append(Step(index=j + 1, kind=kind, line=sline or 0, value=value, expect=flat,
                              expect_lines=exp_lines))
        scenarios.append(Scenario(name=sc["name"], file=file, line=line or 0, target=target,
                                  vars={**file_vars, **(sc.get("vars") or {})}, steps=steps))
    seen: dict[str, int] = {}
    for s in scenarios:
        if s.name in seen:
            raise ScenarioFileError(file, s.line, f"scenario name {s.name!r} is used twice (first at line {seen[s.name]})")
        seen[s.name] = s.line
    return Suite(file=file, scenarios=scenarios)


def load_text(text: str, fmt: str = "yaml", file: str = "<scenario>", base: Path | None = None) -> Suite:
    parsed = parse_text(text, fmt, file)
    if not isinstance(parsed.data, dict):
        raise ScenarioFileError(file, 1, f"a {FORMAT} file is a mapping with 'scenarios:', a list")
    validate(parsed, file)
    return build(parsed, file, base or Path.cwd())


def load_suite(path: str | Path) -> Suite:
    p = Path(path)
    file = str(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioFileError(file, None, f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    return load_text(text, file_format(p), file, p.parent)


SUFFIXES = (".yaml", ".yml", ".toml", ".json")


def discover(paths: list[str]) -> list[Path]:
    """Files given, and scenario files found (recursively, sorted) in folders given."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            # in a folder, only files that look like suites (persona files may sit beside them)
            out.extend(sorted(f for f in p.rglob("*") if f.suffix.lower() in SUFFIXES and f.is_file()
                              and _looks_like_suite(f)))
        else:
            out.append(p)
    return out


def _looks_like_suite(path: Path) -> bool:
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:100_000]
    except OSError:
        return False
    return re.search(r"(^|[\s{\[\"])scenarios[\"]?\s*[:=\]]", head, re.M) is not None
