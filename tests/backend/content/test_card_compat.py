"""Card export compatibility, checked with an independent parser (`tavern-card` from PyPI):
V1 fields repeated at the top level, V3 lorebook entries with `use_regex`, `modification_date`,
a numeric `character_version` accepted, and JSON/PNG round trips both ways."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from phantom_cli.backend import cards

tavern_card = pytest.importorskip("tavern_card")  # the `test` extra installs it

V1_KEYS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")


def v2_card(**data: Any) -> dict[str, Any]:
    return {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {
            "name": "Seraphina",
            "description": "{{char}} guards the glade.",
            "personality": "gentle",
            "scenario": "A forest at dusk.",
            "first_mes": "*{{char}} smiles.* Rest now.",
            "mes_example": "<START>\n{{char}}: Hush.",
            "creator_notes": "made by hand",
            "system_prompt": "{{original}}",
            "post_history_instructions": "Stay calm.",
            "alternate_greetings": ["Hello, {{user}}."],
            "tags": ["fantasy"],
            "creator": "tester",
            "character_version": "1.2",
            "extensions": {"talkativeness": "0.7", "fav": True},
            "character_book": {
                "name": "glade",
                "entries": [
                    {"keys": ["/kraken\\w*/i"], "content": "A kraken.", "insertion_order": 1,
                     "enabled": True, "extensions": {}},
                    {"keys": ["lake"], "content": "The lake.", "insertion_order": 2,
                     "enabled": True, "extensions": {}},
                ],
            },
            **data,
        },
    }


def exported(card: dict[str, Any], fmt: str) -> dict[str, Any]:
    imp = cards.parse_card_obj(copy.deepcopy(card))
    return cards.build_card(imp.activity, fmt=fmt, lorebook=imp.lorebook, extra=imp.extra,
                            now=1_800_000_000)  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["v2", "v3"])
def test_exports_repeat_v1_fields_at_top_level(fmt: str) -> None:
    out = exported(v2_card(), fmt)
    for key in V1_KEYS:
        assert out[key] == out["data"][key] and out[key]
    assert out["creatorcomment"] == "made by hand" and out["tags"] == ["fantasy"]
    assert out["talkativeness"] == "0.7" and out["fav"] is True
    # a V1 reader (tavern-card's V1 path: no spec, flat fields) sees the whole character
    flat = {k: v for k, v in out.items() if k not in ("spec", "spec_version", "data")}
    v1 = tavern_card.parse_card(flat)["data"]
    for key in V1_KEYS:
        assert v1[key] == v2_card()["data"][key]


def test_v3_export_of_v2_lorebook_has_use_regex_and_modification_date() -> None:
    out = exported(v2_card(), "v3")
    entries = out["data"]["character_book"]["entries"]
    assert [e["use_regex"] for e in entries] == [True, False]
    assert out["data"]["modification_date"] == 1_800_000_000
    assert out["data"]["creation_date"] == 1_800_000_000
    # a card's own creation_date is kept, the modification date moves
    card = v2_card()
    card["spec"], card["data"]["creation_date"] = "chara_card_v3", 1_700_000_000
    out = exported(card, "v3")
    assert out["data"]["creation_date"] == 1_700_000_000
    assert out["data"]["modification_date"] == 1_800_000_000


@pytest.mark.parametrize("version,expected", [(2, "2"), (1.5, "1.5")])
def test_numeric_character_version_is_accepted_and_converted(version: float, expected: str) -> None:
    imp = cards.parse_card_obj(v2_card(character_version=version))
    assert imp.activity["character_version"] == expected
    assert cards.build_card(imp.activity, fmt="v2")["data"]["character_version"] == expected


@pytest.mark.parametrize("fmt", ["v2", "v3"])
def test_json_round_trip_through_tavern_card(fmt: str) -> None:
    out = exported(v2_card(), fmt)
    theirs = tavern_card.parse_card(cards.card_json(out))
    assert theirs["spec"] == f"chara_card_{fmt}"
    src = v2_card()["data"]
    for key in (*V1_KEYS, "creator_notes", "system_prompt", "post_history_instructions",
                "alternate_greetings", "tags", "creator", "character_version"):
        assert theirs["data"][key] == src[key], key
    assert [e["content"] for e in theirs["data"]["character_book"]["entries"]] == ["A kraken.", "The lake."]
    # and what tavern-card normalised imports back unchanged
    again = cards.parse_card_obj(theirs)
    assert again.activity == cards.parse_card_obj(v2_card()).activity


def test_png_round_trip_both_ways() -> None:
    imp = cards.parse_card_obj(v2_card())
    png = cards.export_png(imp.activity, lorebook=imp.lorebook, extra=imp.extra)
    theirs = tavern_card.parse_png_card(png)  # reads our ccv3 chunk
    assert theirs["spec"] == "chara_card_v3"
    assert theirs["data"]["name"] == "Seraphina"
    assert theirs["data"]["first_mes"] == "*{{char}} smiles.* Rest now."
    # a PNG written by tavern-card (a 'chara' chunk) imports here
    written = tavern_card.write_png_card(tavern_card.parse_card(v2_card()))
    back = cards.parse_card(written)
    assert back.source == "png:chara"
    assert back.activity["title"] == "Seraphina" and back.activity["personality"] == "gentle"
    assert [e["keys"] for e in back.lorebook["entries"]] == [["/kraken\\w*/i"], ["lake"]]


def test_v1_card_normalised_by_tavern_card_imports() -> None:
    flat = {"name": "Rook", "description": "A crow.", "personality": "sly",
            "first_mes": "Caw.", "mes_example": "", "scenario": "", "character_version": 3}
    ours = cards.parse_card_obj(flat)
    assert ours.spec == "chara_card_v1" and ours.activity["character_version"] == "3"
    theirs = cards.parse_card_obj(tavern_card.parse_card(flat))
    assert theirs.activity["title"] == ours.activity["title"] == "Rook"
    assert theirs.activity["first_message"] == "Caw."
