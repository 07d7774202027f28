"""Character cards: V1/V2/V3 JSON and PNG import, export, round trip, clear errors."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from phantom_cli.backend import cards

BOOK = {
    "name": "Emberfall lore",
    "scan_depth": 4,
    "token_budget": 512,
    "recursive_scanning": False,
    "extensions": {},
    "entries": [
        {
            "keys": ["Emberfall", "the city"],
            "content": "Emberfall is a city built in the caldera of a sleeping volcano.",
            "extensions": {},
            "enabled": True,
            "insertion_order": 10,
            "name": "city",
            "position": "before_char",
        },
        {"keys": ["Ash Guild"], "content": "The Ash Guild mines heat-stone.", "constant": True},
    ],
}


def v2_card(**over: object) -> dict:
    data = {
        "name": "Mira",
        "description": "A cartographer who maps places that do not exist yet.",
        "personality": "curious, dry humour",
        "scenario": "{{user}} finds Mira's lost map case.",
        "first_mes": "Oh! You found it. Do you have any idea what's in there?",
        "mes_example": "<START>\n{{user}}: Hi\n{{char}}: Careful with that.",
        "creator_notes": "Works best with slow pacing.",
        "system_prompt": "You are {{char}}.",
        "post_history_instructions": "Stay in character.",
        "alternate_greetings": ["You again?", "Shh, the ink is wet."],
        "tags": ["fantasy", "maps"],
        "creator": "tester",
        "character_version": "1.2",
        "extensions": {"talkativeness": "0.5", "world": "Emberfall"},
        "character_book": BOOK,
    }
    data.update(over)
    return {"spec": "chara_card_v2", "spec_version": "2.0", "data": data}


def v3_card(**over: object) -> dict:
    card = v2_card()
    card["spec"], card["spec_version"] = "chara_card_v3", "3.0"
    card["data"].update(
        {
            "nickname": "Mi",
            "group_only_greetings": ["Everyone, gather round the table."],
            "assets": [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}],
            "creator_notes_multilingual": {"pt": "Funciona melhor devagar."},
            "source": ["https://example.invalid/mira"],
            "creation_date": 1700000000,
            "modification_date": 1700000500,
        }
    )
    card["data"].update(over)
    return card


def png_with_text(chunks: list[tuple[str, str, str]]) -> bytes:
    """A PNG with (chunk type, key, text) text chunks, built with Pillow."""
    img = Image.new("RGB", (8, 8), (10, 20, 30))
    info = PngImagePlugin.PngInfo()
    for kind, key, text in chunks:
        if kind == "tEXt":
            info.add_text(key, text)
        elif kind == "zTXt":
            info.add_text(key, text, zip=True)
        elif kind == "iTXt":
            info.add_itxt(key, text, zip=False)
        elif kind == "iTXt-z":
            info.add_itxt(key, text, zip=True)
    buf = io.BytesIO()
    img.save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def b64(obj: dict) -> str:
    return base64.b64encode(json.dumps(obj).encode()).decode()


def test_v2_json_maps_every_field() -> None:
    card = cards.parse_card(json.dumps(v2_card()).encode())
    a = card.activity
    assert card.spec == "chara_card_v2"
    assert a["title"] == "Mira"
    assert a["description"].startswith("A cartographer")
    assert a["personality"] == "curious, dry humour"
    assert a["scenario"].startswith("{{user}}")
    assert a["first_message"].startswith("Oh! You found it")
    assert a["example_dialogue"].startswith("<START>")
    assert a["creator_notes"] == "Works best with slow pacing."
    assert a["system_prompt"] == "You are {{char}}."
    assert a["post_history_instructions"] == "Stay in character."
    assert a["alternate_greetings"] == ["You again?", "Shh, the ink is wet."]
    assert a["tags"] == ["fantasy", "maps"]
    assert a["creator"] == "tester"
    assert a["character_version"] == "1.2"
    assert card.lorebook is not None
    assert [e["keys"] for e in card.lorebook["entries"]] == [
        ["Emberfall", "the city"],
        ["Ash Guild"],
    ]
    # defaults filled in for the entry that omitted them
    assert card.lorebook["entries"][1]["enabled"] is True
    assert card.extra["extensions"]["world"] == "Emberfall"


def test_v3_json_keeps_v3_fields() -> None:
    card = cards.parse_card_json(json.dumps(v3_card()))
    assert card.spec == "chara_card_v3"
    assert card.extra["nickname"] == "Mi"
    assert card.extra["group_only_greetings"] == ["Everyone, gather round the table."]
    assert card.extra["assets"][0]["type"] == "icon"
    assert card.extra["creator_notes_multilingual"] == {"pt": "Funciona melhor devagar."}


def test_v1_flat_card() -> None:
    card = cards.parse_card_json(
        json.dumps({"name": "Old", "first_mes": "Hello.", "description": "d"})
    )
    assert card.spec == "chara_card_v1"
    assert card.activity == {"title": "Old", "first_message": "Hello.", "description": "d"}


@pytest.mark.parametrize("kind", ["tEXt", "zTXt", "iTXt", "iTXt-z"])
def test_png_chara_chunk_of_every_text_kind(kind: str) -> None:
    png = png_with_text([(kind, "chara", b64(v2_card()))])
    card = cards.parse_card(png)
    assert card.source == "png:chara"
    assert card.activity["title"] == "Mira"
    assert card.image_png == png


def test_png_prefers_ccv3() -> None:
    png = png_with_text(
        [("tEXt", "chara", b64(v2_card(name="Old Mira"))), ("tEXt", "ccv3", b64(v3_card()))]
    )
    card = cards.parse_card(png)
    assert card.source == "png:ccv3"
    assert card.spec == "chara_card_v3"
    assert card.activity["title"] == "Mira"


def test_png_falls_back_to_chara_when_ccv3_is_broken() -> None:
    png = png_with_text([("tEXt", "ccv3", "!!!not json"), ("tEXt", "chara", b64(v2_card()))])
    card = cards.parse_card(png)
    assert card.source == "png:chara"


def _as_exported(book: dict | None, fmt: str) -> dict | None:
    """What an export adds to a lorebook: V3 entries carry the required ``use_regex``."""
    if book is None or fmt != "v3":
        return book
    return {**book, "entries": [{"use_regex": False, **e} for e in book["entries"]]}


STAMP = 1_800_000_000  # export time: V3 sets modification_date


def test_round_trip_v2_and_v3_json() -> None:
    for make, fmt in ((v2_card, "v2"), (v3_card, "v3")):
        original = make()
        card = cards.parse_card_obj(original)
        out = cards.build_card(card.activity, fmt=fmt, lorebook=card.lorebook, extra=card.extra,
                               now=STAMP)
        again = cards.parse_card_obj(json.loads(cards.card_json(out)))
        assert again.activity == card.activity
        assert again.lorebook == _as_exported(card.lorebook, fmt)
        expected_extra = {**card.extra, "modification_date": STAMP} if fmt == "v3" else card.extra
        assert again.extra == expected_extra
        # every field the original had comes back with the same value (but the new date)
        for key, value in original["data"].items():
            if key in ("character_book", "modification_date"):
                continue
            assert out["data"][key] == value, key


def test_export_png_has_both_chunks_and_reimports() -> None:
    card = cards.parse_card_obj(v3_card())
    png = cards.export_png(card.activity, lorebook=card.lorebook, extra=card.extra)
    img = Image.open(io.BytesIO(png))
    img.load()
    assert img.size == (400, 600)
    texts = cards.read_png_text(png)
    assert set(texts) >= {"chara", "ccv3"}
    v2 = json.loads(base64.b64decode(texts["chara"][0]))
    v3 = json.loads(base64.b64decode(texts["ccv3"][0]))
    assert v2["spec"] == "chara_card_v2" and v3["spec"] == "chara_card_v3"
    assert v2["data"]["character_book"]["entries"][0]["content"].startswith("Emberfall")
    again = cards.parse_card(png)
    assert again.source == "png:ccv3"
    assert again.activity == card.activity
    assert again.extra == {**card.extra, "modification_date": again.extra["modification_date"]}
    assert again.extra["modification_date"] > card.extra["modification_date"]
    # Pillow reads the same chunks (other tools can too)
    assert img.info["ccv3"] == texts["ccv3"][0]


def test_export_png_keeps_the_card_image_and_replaces_old_chunks() -> None:
    src = png_with_text([("tEXt", "chara", b64(v2_card(name="Stale")))])
    card = cards.parse_card(src)
    card.activity["title"] = "Fresh"
    png = cards.export_png(card.activity, image_png=src)
    assert Image.open(io.BytesIO(png)).size == (8, 8)
    texts = cards.read_png_text(png)
    assert json.loads(base64.b64decode(texts["chara"][0]))["data"]["name"] == "Fresh"
    chunk_keys = [c.data.split(b"\0")[0] for c in cards.iter_png_chunks(png) if c.type == "tEXt"]
    assert chunk_keys.count(b"chara") == 1


@pytest.mark.parametrize(
    ("obj", "where"),
    [
        ([1, 2], "card"),
        ({"spec": "chara_card_v9", "data": {}}, "spec"),
        ({"spec": "chara_card_v2"}, "data"),
        ({"spec": "chara_card_v2", "data": {"description": "x"}}, "data.name"),
        ({"spec": "chara_card_v2", "data": {"name": "  "}}, "data.name"),
        ({"spec": "chara_card_v2", "data": {"name": "x" * 201}}, "data.name"),
        ({"spec": "chara_card_v2", "data": {"name": "A", "first_mes": 3}}, "data.first_mes"),
        ({"spec": "chara_card_v2", "data": {"name": "A", "tags": "a,b"}}, "data.tags"),
        ({"spec": "chara_card_v2", "data": {"name": "A", "tags": ["a", 1]}}, "data.tags[1]"),
        (
            {
                "spec": "chara_card_v2",
                "data": {"name": "A", "character_book": {"entries": [{"content": "c"}]}},
            },
            "data.character_book.entries[0].keys",
        ),
        (
            {
                "spec": "chara_card_v2",
                "data": {"name": "A", "character_book": {"entries": [{"keys": ["k"]}]}},
            },
            "data.character_book.entries[0].content",
        ),
        (
            {"spec": "chara_card_v3", "data": {"name": "A", "assets": {"x": 1}}},
            "data.assets",
        ),
        ({"hello": "world"}, "spec"),
    ],
)
def test_malformed_cards_name_the_field(obj: object, where: str) -> None:
    with pytest.raises(cards.CardError) as exc:
        cards.parse_card_obj(obj)
    assert exc.value.where == where
    assert str(exc.value).startswith(where + ":")


def test_malformed_json_and_png() -> None:
    with pytest.raises(cards.CardError, match="^card: not valid JSON"):
        cards.parse_card(b"{nope")
    with pytest.raises(cards.CardError, match="no 'ccv3' or 'chara'"):
        cards.parse_card(png_with_text([("tEXt", "Comment", "hi")]))
    bad = png_with_text([("tEXt", "chara", "%%%%")])
    with pytest.raises(cards.CardError, match=r"^png chunk tEXt 'chara'"):
        cards.parse_card(bad)
    # corrupt a byte inside the text chunk: CRC check names the chunk
    good = png_with_text([("tEXt", "chara", b64(v2_card()))])
    i = good.index(b"chara") + 10
    corrupt = good[:i] + bytes([good[i] ^ 0x01]) + good[i + 1 :]
    with pytest.raises(cards.CardError, match="png chunk tEXt at offset .*CRC mismatch"):
        cards.parse_card(corrupt)
    with pytest.raises(cards.CardError, match="truncated"):
        cards.parse_card(good[: len(good) // 2])
    # a chunk-level error inside the card names the chunk and the field
    inner = png_with_text([("tEXt", "chara", b64({"spec": "chara_card_v2", "data": {"name": 5}}))])
    with pytest.raises(
        cards.CardError, match=r"png chunk tEXt 'chara' -> data.name: must be a string"
    ):
        cards.parse_card(inner)


def test_hand_written_itxt_chunk_is_read() -> None:
    """An iTXt chunk written by hand (language tag + translated keyword present)."""
    base = png_with_text([])
    body = zlib.compress(b64(v2_card(name="Hand")).encode())
    data = b"chara\0" + b"\x01\x00" + b"en\0" + b"Chara\0" + body
    ctype = b"iTXt"
    chunk = (
        struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))
    )
    iend = base.rindex(b"IEND") - 4
    png = base[:iend] + chunk + base[iend:]
    assert cards.parse_card(png).activity["title"] == "Hand"


# --------------------------------------------------------------------------- property: round trip

_text = st.text(max_size=200)
_activity = st.fixed_dictionaries(
    {"title": st.text(min_size=1, max_size=50).filter(lambda s: s.strip() == s and s != "")},
    optional={
        "description": st.text(min_size=1, max_size=200),
        "personality": st.text(min_size=1, max_size=200),
        "scenario": st.text(min_size=1, max_size=200),
        "first_message": st.text(min_size=1, max_size=200),
        "example_dialogue": st.text(min_size=1, max_size=200),
        "system_prompt": st.text(min_size=1, max_size=200),
        "post_history_instructions": st.text(min_size=1, max_size=200),
        "creator_notes": st.text(min_size=1, max_size=200),
        "creator": st.text(min_size=1, max_size=50),
        "character_version": st.text(min_size=1, max_size=20),
        "alternate_greetings": st.lists(_text, min_size=1, max_size=4),
        "tags": st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=5),
    },
)
_book = st.none() | st.fixed_dictionaries(
    {
        "name": _text,
        "entries": st.lists(
            st.fixed_dictionaries(
                {"keys": st.lists(st.text(min_size=1, max_size=20), max_size=3), "content": _text}
            ),
            max_size=3,
        ),
    }
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(activity=_activity, book=_book, fmt=st.sampled_from(["v2", "v3"]), nick=st.none() | _text)
def test_any_activity_round_trips_through_json_cards(
    activity: dict, book: dict | None, fmt: str, nick: str | None
) -> None:
    lore = cards.parse_lorebook(book, "book") if book is not None else None
    extra = {"nickname": nick} if (nick is not None and fmt == "v3") else {}
    card = cards.build_card(activity, fmt=fmt, lorebook=lore, extra=extra)  # type: ignore[arg-type]
    back = cards.parse_card_json(cards.card_json(card))
    assert back.activity == activity
    assert back.lorebook == _as_exported(lore, fmt)
    if extra:
        assert back.extra.get("nickname") == nick


@settings(max_examples=15, deadline=None)
@given(activity=_activity)
def test_any_activity_round_trips_through_png_cards(activity: dict) -> None:
    png = cards.export_png(activity, image_png=png_with_text([]))
    again = cards.parse_card(png)
    assert again.source == "png:ccv3" and again.activity == activity
