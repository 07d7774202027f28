"""Persona files in TOML, JSON and YAML: valid, limits, unknown keys, round-trip."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from phantom_cli.client.models import CompanionPersona
from phantom_cli.personafile import (
    PersonaFileError,
    PersonaFileWarning,
    dumps_persona,
    example_personas,
    load_persona,
    read_persona,
    save_persona,
)

LUNA = {
    "name": "Luna",
    "bio": "A warm, witty companion who loves astronomy.",
    "chat_style": "playful, curious",
}


def write(path: Path, data: dict) -> Path:
    ext = path.suffix
    if ext == ".json":
        path.write_text(json.dumps(data), encoding="utf-8")
    elif ext == ".toml":
        import tomli_w

        path.write_text(tomli_w.dumps(data), encoding="utf-8")
    else:
        import yaml

        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


EXTS = [".toml", ".json", ".yaml", ".yml"]


@pytest.mark.parametrize("ext", EXTS)
def test_valid_file_loads(tmp_path: Path, ext: str) -> None:
    p = write(tmp_path / f"luna{ext}", LUNA)
    persona = load_persona(p)
    assert persona == CompanionPersona(**LUNA)


@pytest.mark.parametrize("ext", EXTS)
def test_limit_violation_names_file_field_and_limit(tmp_path: Path, ext: str) -> None:
    p = write(tmp_path / f"luna{ext}", {**LUNA, "chat_style": "x" * 81})
    with pytest.raises(PersonaFileError) as exc:
        load_persona(p)
    msg = str(exc.value)
    assert str(p) in msg
    assert "chat_style" in msg
    assert "81 characters" in msg and "80" in msg
    assert exc.value.problems[0][0] == "chat_style"


@pytest.mark.parametrize("ext", EXTS)
def test_missing_name_is_named(tmp_path: Path, ext: str) -> None:
    p = write(tmp_path / f"p{ext}", {"bio": "no name"})
    with pytest.raises(PersonaFileError) as exc:
        load_persona(p)
    assert "name: is required (1–120 characters)" in str(exc.value)


@pytest.mark.parametrize("ext", EXTS)
def test_unknown_keys_warn_with_their_names(tmp_path: Path, ext: str) -> None:
    p = write(tmp_path / f"luna{ext}", {**LUNA, "favourite_star": "Vega", "mood": "sunny"})
    seen: list[str] = []
    persona = load_persona(p, warn=seen.append)
    assert persona.name == "Luna"
    assert len(seen) == 1 and "'favourite_star'" in seen[0] and "'mood'" in seen[0]
    assert str(p) in seen[0]
    with pytest.warns(PersonaFileWarning, match="favourite_star"):
        load_persona(p)


@pytest.mark.parametrize("ext", EXTS)
def test_round_trip_keeps_every_field_and_unknown_keys(tmp_path: Path, ext: str) -> None:
    full = CompanionPersona(
        name="Luna",
        nickname="Lu",
        date_of_birth="1998-04-02",
        gender="no",  # a YAML 1.1 boolean word must stay text
        bio="Line one.\nLine two with \"quotes\" and 'single' and ünïcödé ✨\n",
        custom_instructions="  leading spaces\ttab\n\nblank line above",
        chat_style="playful",
    )
    p = tmp_path / f"luna{ext}"
    write(p, {"name": "Old", "x_tool": "keep me"})
    save_persona(p, full)
    pf = read_persona(p)
    assert pf.persona == full
    assert pf.extra == {"x_tool": "keep me"}
    assert pf.format == {".yml": "yaml"}.get(ext, ext[1:])
    # second save is byte-identical (stable output)
    before = p.read_bytes()
    save_persona(p, pf.persona)
    assert p.read_bytes() == before


def test_yaml_scalars_stay_text(tmp_path: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text("name: Bram\ndate_of_birth: 1971-02-03\nnickname: yes\nlanguage: 3.5\n")
    persona = load_persona(p)
    assert persona.date_of_birth == "1971-02-03"
    assert persona.nickname == "yes"
    assert persona.language == "3.5"


def test_toml_number_and_date_become_text_but_bool_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "p.toml"
    p.write_text('name = "Luna"\ndate_of_birth = 1998-04-02\nnickname = 7\n')
    persona = load_persona(p)
    assert persona.date_of_birth == "1998-04-02" and persona.nickname == "7"
    p.write_text('name = "Luna"\nbio = true\n')
    with pytest.raises(PersonaFileError, match="bio: must be text, not a boolean"):
        load_persona(p)


def test_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(PersonaFileError, match="no such file"):
        load_persona(tmp_path / "missing.toml")
    bad_ext = tmp_path / "luna.txt"
    bad_ext.write_text("name: x")
    with pytest.raises(PersonaFileError, match="unsupported extension '.txt'"):
        load_persona(bad_ext)
    broken = tmp_path / "broken.json"
    broken.write_text("{name: ")
    with pytest.raises(PersonaFileError, match="invalid JSON"):
        load_persona(broken)
    broken_toml = tmp_path / "broken.toml"
    broken_toml.write_text("name = ")
    with pytest.raises(PersonaFileError, match="invalid TOML"):
        load_persona(broken_toml)
    broken_yaml = tmp_path / "broken.yaml"
    broken_yaml.write_text("name: [unclosed")
    with pytest.raises(PersonaFileError, match="invalid YAML"):
        load_persona(broken_yaml)
    a_list = tmp_path / "list.json"
    a_list.write_text("[1, 2]")
    with pytest.raises(PersonaFileError, match="top level must be a table"):
        load_persona(a_list)


def test_request_body_is_recognised(tmp_path: Path) -> None:
    p = tmp_path / "req.json"
    p.write_text(json.dumps({"chat_id": "u", "persona": LUNA, "messages": []}))
    with pytest.raises(PersonaFileError, match="looks like a request body"):
        load_persona(p)


def test_shipped_examples_are_valid() -> None:
    files = example_personas()
    assert {f.name for f in files} >= {"luna.toml", "bram.yaml"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        personas = [load_persona(f) for f in files]
    assert "Luna" in {p.name for p in personas}
    luna = next(p for p in personas if p.name == "Luna")
    assert luna.bio == LUNA["bio"] and luna.chat_style == LUNA["chat_style"]


def test_dumps_persona_omits_unset_fields() -> None:
    text = dumps_persona(CompanionPersona(name="Luna"), "json")
    assert json.loads(text) == {"name": "Luna"}


def test_a_wrongly_typed_name_is_reported_once(tmp_path: Path) -> None:
    """QA: `name: [1, 2]` was reported twice: "must be text, not a list; is required"."""
    p = tmp_path / "p.yaml"
    p.write_text("name: [1, 2]\n")
    with pytest.raises(PersonaFileError) as info:
        load_persona(p)
    assert info.value.problems == [("name", "must be text, not a list")]
    p.write_text("bio: hi\n")  # a name that is really missing is still reported
    with pytest.raises(PersonaFileError) as info:
        load_persona(p)
    assert info.value.problems == [("name", "is required (1–120 characters)")]


def test_save_is_atomic_and_keeps_the_file_mode(tmp_path: Path) -> None:
    p = tmp_path / "new" / "luna.toml"
    save_persona(p, CompanionPersona(**LUNA))
    assert (p.stat().st_mode & 0o777) == 0o644  # a new file
    p.chmod(0o600)
    save_persona(p, CompanionPersona(name="Lu"))
    assert (p.stat().st_mode & 0o777) == 0o600  # an existing file keeps its mode
    assert load_persona(p).name == "Lu"
    assert [q.name for q in p.parent.iterdir()] == ["luna.toml"]  # no temp file left
