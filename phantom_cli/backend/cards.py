"""Character cards: import activities from V1/V2/V3 cards (JSON or PNG) and export them back.

Pure module (standard library only, Pillow imported lazily when a PNG has to be drawn), so the
admin route, the CLI and the tests share one implementation.

Formats:

- V2 (``spec: "chara_card_v2"``) and V3 (``spec: "chara_card_v3"``) JSON with the fields under
  ``data``; a V1 card (the same fields flat at the top level, no ``spec``) is accepted too.
- PNG cards carry the card as base64 JSON in a text chunk keyed ``ccv3`` (V3, preferred) or
  ``chara`` (V2, read when there is no usable ``ccv3``). ``tEXt``, ``zTXt`` and ``iTXt`` chunks
  are all read. Exported PNGs carry both: ``chara`` (V2) and ``ccv3`` (V3), as SillyTavern does.

Mapping to seed 002's activity fields::

    name -> title                     mes_example -> example_dialogue
    description -> description        first_mes -> first_message
    personality, scenario, system_prompt, post_history_instructions, alternate_greetings,
    creator_notes, creator, character_version, tags -> the field of the same name
    character_book -> the lorebook (kept whole; instances reference it by snapshot_lorebook_ids)

Card fields with no activity field (V3 ``nickname``, ``group_only_greetings``, ``assets``,
``creator_notes_multilingual``, ``source``, dates, and ``extensions``) are kept in
:attr:`ImportedCard.extra` so that an export gives them back unchanged.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Literal

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_CARD_BYTES = 8 * 1024 * 1024  # JSON text of one card
MAX_PNG_BYTES = 32 * 1024 * 1024  # a whole PNG card
MAX_TEXT_FIELD = 64_000  # characters of any free-text card field
MAX_NAME = 200  # characters of the card name (the activity title)
MAX_LIST_ITEMS = 1000  # greetings, tags, lorebook entries

CardFormat = Literal["v2", "v3"]

#: card field (inside ``data``) -> activity field
CARD_TO_ACTIVITY: dict[str, str] = {
    "name": "title",
    "description": "description",
    "personality": "personality",
    "scenario": "scenario",
    "first_mes": "first_message",
    "mes_example": "example_dialogue",
    "creator_notes": "creator_notes",
    "system_prompt": "system_prompt",
    "post_history_instructions": "post_history_instructions",
    "alternate_greetings": "alternate_greetings",
    "tags": "tags",
    "creator": "creator",
    "character_version": "character_version",
}
ACTIVITY_TO_CARD = {v: k for k, v in CARD_TO_ACTIVITY.items()}

_STRING_FIELDS = (
    "description",
    "personality",
    "scenario",
    "first_mes",
    "mes_example",
    "creator_notes",
    "system_prompt",
    "post_history_instructions",
    "creator",
    "character_version",
)
_LIST_FIELDS = ("alternate_greetings", "tags")
_V1_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")
LOREBOOK_NOT_CARD = (
    "this is a SillyTavern world-info (lorebook) file, not a character card: "
    "import it with `phantom admin import-lorebook FILE [--activity ID]`"
)

#: V3 fields kept in ``extra`` (no activity field of their own)
_V3_EXTRA_FIELDS = (
    "nickname",
    "group_only_greetings",
    "assets",
    "creator_notes_multilingual",
    "source",
    "creation_date",
    "modification_date",
)


class CardError(ValueError):
    """A card that cannot be read. The message names the field or chunk at fault."""

    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}")


@dataclass
class ImportedCard:
    """A card turned into activity fields, its lorebook, and what else it carried."""

    spec: str  # "chara_card_v1" | "chara_card_v2" | "chara_card_v3"
    activity: dict[str, Any]
    lorebook: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    source: str = "json"  # "json" | "png:ccv3" | "png:chara"
    image_png: bytes | None = None  # the PNG the card came in, if any


# --------------------------------------------------------------------------- PNG chunks


@dataclass
class PngChunk:
    type: str
    data: bytes
    offset: int


def iter_png_chunks(png: bytes) -> list[PngChunk]:
    """Every chunk of a PNG file, checked for length and CRC."""
    if len(png) > MAX_PNG_BYTES:
        raise CardError("png", f"file is {len(png)} bytes; the limit is {MAX_PNG_BYTES}")
    if not png.startswith(PNG_SIGNATURE):
        raise CardError("png", "not a PNG file (bad signature)")
    chunks: list[PngChunk] = []
    pos = len(PNG_SIGNATURE)
    while pos < len(png):
        if pos + 8 > len(png):
            raise CardError(f"png chunk at offset {pos}", "truncated chunk header")
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        ctype_b = png[pos + 4 : pos + 8]
        try:
            ctype = ctype_b.decode("ascii")
        except UnicodeDecodeError:
            raise CardError(f"png chunk at offset {pos}", "chunk type is not ASCII") from None
        end = pos + 12 + length
        if end > len(png):
            raise CardError(f"png chunk {ctype} at offset {pos}", "truncated chunk data")
        data = png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length : end])
        if zlib.crc32(ctype_b + data) & 0xFFFFFFFF != crc:
            raise CardError(f"png chunk {ctype} at offset {pos}", "CRC mismatch (corrupt file)")
        chunks.append(PngChunk(ctype, data, pos))
        pos = end
        if ctype == "IEND":
            break
    if not chunks or chunks[0].type != "IHDR":
        raise CardError("png", "first chunk is not IHDR")
    if chunks[-1].type != "IEND":
        raise CardError("png", "no IEND chunk (truncated file)")
    return chunks


def _inflate(data: bytes, where: str) -> bytes:
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, MAX_CARD_BYTES * 2)
    except zlib.error as exc:
        raise CardError(where, f"compressed text does not inflate ({exc})") from None
    if d.unconsumed_tail:
        raise CardError(where, f"inflated text is larger than {MAX_CARD_BYTES * 2} bytes")
    return out


def read_png_text(png: bytes) -> dict[str, tuple[str, str]]:
    """``{keyword: (text, chunk description)}`` of every tEXt/zTXt/iTXt chunk (first wins)."""
    out: dict[str, tuple[str, str]] = {}
    for ch in iter_png_chunks(png):
        if ch.type not in ("tEXt", "zTXt", "iTXt"):
            continue
        key_b, sep, rest = ch.data.partition(b"\0")
        where = f"png chunk {ch.type} at offset {ch.offset}"
        if not sep:
            raise CardError(where, "no NUL after the keyword")
        key = key_b.decode("latin-1")
        where = f"png chunk {ch.type} {key!r}"
        if ch.type == "tEXt":
            text = rest.decode("latin-1")
        elif ch.type == "zTXt":
            if not rest or rest[0] != 0:
                raise CardError(where, "unknown compression method")
            text = _inflate(rest[1:], where).decode("latin-1")
        else:  # iTXt
            if len(rest) < 2:
                raise CardError(where, "truncated iTXt header")
            comp_flag, comp_method = rest[0], rest[1]
            lang_and_rest = rest[2:]
            _lang, sep1, tail = lang_and_rest.partition(b"\0")
            _tkey, sep2, body = tail.partition(b"\0")
            if not (sep1 and sep2):
                raise CardError(where, "malformed iTXt header")
            if comp_flag:
                if comp_method != 0:
                    raise CardError(where, "unknown compression method")
                body = _inflate(body, where)
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raise CardError(where, "text is not UTF-8") from None
        out.setdefault(key, (text, where))
    return out


def _chunk(ctype: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + ctype
        + data
        + struct.pack(">I", zlib.crc32(ctype + data) & 0xFFFFFFFF)
    )


def write_png_text(png: bytes, texts: dict[str, str]) -> bytes:
    """A copy of ``png`` with ``texts`` as tEXt chunks (any old chunk with those keys removed)."""
    chunks = iter_png_chunks(png)
    keys = {k.encode("latin-1") for k in texts}
    out = bytearray(PNG_SIGNATURE)
    for ch in chunks:
        if ch.type in ("tEXt", "zTXt", "iTXt") and ch.data.partition(b"\0")[0] in keys:
            continue
        if ch.type == "IEND":
            for key, value in texts.items():
                out += _chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1"))
        out += _chunk(ch.type.encode("ascii"), ch.data)
    return bytes(out)


# --------------------------------------------------------------------------- parsing


def _decode_b64_json(text: str, where: str) -> Any:
    try:
        raw = base64.b64decode(text.strip(), validate=False)
    except (binascii.Error, ValueError) as exc:
        raise CardError(where, f"not base64 ({exc})") from None
    return _loads(raw, where)


def _loads(raw: bytes | str, where: str) -> Any:
    if len(raw) > MAX_CARD_BYTES:
        raise CardError(where, f"card is {len(raw)} bytes; the limit is {MAX_CARD_BYTES}")
    from .safejson import JSONInputError, loads

    try:
        return loads(raw)  # bounded: no RecursionError or 10,000-digit integer gets through
    except JSONInputError as exc:
        raise CardError(where, str(exc)) from None


def _str(data: dict[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise CardError(f"{where}.{key}", "required")
        return None
    if not isinstance(value, str):
        raise CardError(f"{where}.{key}", f"must be a string, not {type(value).__name__}")
    if len(value) > MAX_TEXT_FIELD:
        raise CardError(f"{where}.{key}", f"{len(value)} characters; the limit is {MAX_TEXT_FIELD}")
    return value


def _str_list(data: dict[str, Any], key: str, where: str) -> list[str] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise CardError(f"{where}.{key}", f"must be a list of strings, not {type(value).__name__}")
    if len(value) > MAX_LIST_ITEMS:
        raise CardError(f"{where}.{key}", f"{len(value)} items; the limit is {MAX_LIST_ITEMS}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise CardError(f"{where}.{key}[{i}]", f"must be a string, not {type(item).__name__}")
        if len(item) > MAX_TEXT_FIELD:
            raise CardError(
                f"{where}.{key}[{i}]", f"{len(item)} characters; the limit is {MAX_TEXT_FIELD}"
            )
    return list(value)


_ENTRY_BOOL = ("enabled", "case_sensitive", "selective", "constant", "use_regex")
_ENTRY_NUM = ("insertion_order", "priority")
_ENTRY_STR = ("name", "comment")


def parse_lorebook(book: Any, where: str) -> dict[str, Any]:
    """Check and normalise a ``character_book`` (V2/V3 shape, unknown keys kept)."""
    if not isinstance(book, dict):
        raise CardError(where, f"must be an object, not {type(book).__name__}")
    entries = book.get("entries", [])
    if not isinstance(entries, list):
        raise CardError(f"{where}.entries", "must be a list")
    if len(entries) > MAX_LIST_ITEMS:
        raise CardError(
            f"{where}.entries", f"{len(entries)} entries; the limit is {MAX_LIST_ITEMS}"
        )
    out: dict[str, Any] = {k: v for k, v in book.items() if k != "entries"}
    for key in ("name", "description"):
        _str(book, key, where)
    for key in ("scan_depth", "token_budget"):
        if key in book and book[key] is not None and not isinstance(book[key], int | float):
            raise CardError(f"{where}.{key}", "must be a number")
    out.setdefault("extensions", {})
    norm: list[dict[str, Any]] = []
    for i, entry in enumerate(entries):
        ew = f"{where}.entries[{i}]"
        if not isinstance(entry, dict):
            raise CardError(ew, f"must be an object, not {type(entry).__name__}")
        keys = _str_list(entry, "keys", ew)
        if keys is None:
            raise CardError(f"{ew}.keys", "required (a list of strings)")
        content = _str(entry, "content", ew, required=True)
        e = dict(entry)
        e["keys"] = keys
        e["content"] = content
        sec = _str_list(entry, "secondary_keys", ew)
        if sec is not None:
            e["secondary_keys"] = sec
        for key in _ENTRY_BOOL:
            if key in entry and entry[key] is not None and not isinstance(entry[key], bool):
                raise CardError(f"{ew}.{key}", "must be true or false")
        for key in _ENTRY_NUM:
            v = entry.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
                raise CardError(f"{ew}.{key}", "must be a number")
        for key in _ENTRY_STR:
            _str(entry, key, ew)
        e.setdefault("enabled", True)
        e.setdefault("insertion_order", i)
        e.setdefault("extensions", {})
        norm.append(e)
    out["entries"] = norm
    return out


def parse_card_obj(obj: Any, *, source: str = "json") -> ImportedCard:
    """A decoded card JSON object -> :class:`ImportedCard`."""
    if not isinstance(obj, dict):
        raise CardError("card", f"must be a JSON object, not {type(obj).__name__}")
    spec = obj.get("spec")
    if spec is None:
        if "name" in obj and ("first_mes" in obj or "description" in obj):
            spec, data, where = "chara_card_v1", obj, "card"
        elif is_lorebook_obj(obj):
            raise CardError("card", LOREBOOK_NOT_CARD)
        else:
            raise CardError("spec", 'missing: expected "chara_card_v2" or "chara_card_v3"')
    elif spec in ("chara_card_v2", "chara_card_v3"):
        data = obj.get("data")
        where = "data"
        if not isinstance(data, dict):
            raise CardError("data", f"required object for spec {spec!r}")
    elif spec == "chara_card_v1" and isinstance(obj.get("data"), dict):
        # a V1 card wrapped like V2 (some converters, e.g. tavern-card, write this)
        spec, data, where = "chara_card_v1", obj["data"], "data"
    else:
        raise CardError("spec", f'{spec!r} is not "chara_card_v2" or "chara_card_v3"')

    name = _str(data, "name", where, required=True)
    assert name is not None
    if not name.strip():
        raise CardError(f"{where}.name", "must not be empty")
    if len(name) > MAX_NAME:
        raise CardError(f"{where}.name", f"{len(name)} characters; the limit is {MAX_NAME}")
    activity: dict[str, Any] = {"title": name.strip()}
    cv = data.get("character_version")
    if isinstance(cv, int | float) and not isinstance(cv, bool):
        # some tools write a number (1, 1.5): accepted and kept as text, as SillyTavern shows it
        data = {**data, "character_version": str(cv)}
    for key in _STRING_FIELDS:
        value = _str(data, key, where)
        if value is not None and value != "":
            activity[CARD_TO_ACTIVITY[key]] = value
    for key in _LIST_FIELDS:
        value_l = _str_list(data, key, where)
        if value_l:
            activity[CARD_TO_ACTIVITY[key]] = value_l

    lorebook = None
    if data.get("character_book") is not None:
        lorebook = parse_lorebook(data["character_book"], f"{where}.character_book")

    extra: dict[str, Any] = {}
    ext = data.get("extensions")
    if ext is not None:
        if not isinstance(ext, dict):
            raise CardError(f"{where}.extensions", "must be an object")
        extra["extensions"] = ext
    if spec == "chara_card_v3":
        _str(data, "nickname", where)
        _str_list(data, "group_only_greetings", where)
        _str_list(data, "source", where)
        assets = data.get("assets")
        if assets is not None:
            if not isinstance(assets, list):
                raise CardError(f"{where}.assets", "must be a list")
            for i, a in enumerate(assets):
                if not isinstance(a, dict):
                    raise CardError(f"{where}.assets[{i}]", "must be an object")
                for k in ("type", "uri", "name", "ext"):
                    _str(a, k, f"{where}.assets[{i}]")
        cnm = data.get("creator_notes_multilingual")
        if cnm is not None and (
            not isinstance(cnm, dict) or not all(isinstance(v, str) for v in cnm.values())
        ):
            raise CardError(f"{where}.creator_notes_multilingual", "must map language to text")
        for key in ("creation_date", "modification_date"):
            v = data.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
                raise CardError(f"{where}.{key}", "must be a unix timestamp (number)")
        for key in _V3_EXTRA_FIELDS:
            if data.get(key) is not None:
                extra[key] = data[key]
    return ImportedCard(spec=spec, activity=activity, lorebook=lorebook, extra=extra, source=source)


def parse_card_json(raw: bytes | str) -> ImportedCard:
    """A card from JSON text."""
    return parse_card_obj(_loads(raw, "card"), source="json")


def parse_card_png(png: bytes) -> ImportedCard:
    """A card from a PNG: the ``ccv3`` chunk if present and valid, else ``chara``."""
    texts = read_png_text(png)
    if "ccv3" not in texts and "chara" not in texts:
        raise CardError("png", "no 'ccv3' or 'chara' text chunk: this PNG carries no card")
    first_error: CardError | None = None
    for key in ("ccv3", "chara"):
        if key not in texts:
            continue
        text, where = texts[key]
        try:
            card = parse_card_obj(_decode_b64_json(text, where), source=f"png:{key}")
        except CardError as exc:
            if first_error is None:
                first_error = CardError(f"{where} -> {exc.where}", exc.problem)
            continue
        card.image_png = png
        return card
    assert first_error is not None
    raise first_error


def parse_card(raw: bytes) -> ImportedCard:
    """A card from file bytes: PNG (by signature) or JSON."""
    if raw.startswith(PNG_SIGNATURE):
        return parse_card_png(raw)
    return parse_card_json(raw)


# --------------------------------------------------------------------------- export


def build_card(
    activity: dict[str, Any],
    *,
    fmt: CardFormat = "v3",
    lorebook: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """An activity (wire fields) -> a V2 or V3 card object.

    As SillyTavern writes them: the V1 fields (``name``, ``description``, ``personality``,
    ``scenario``, ``first_mes``, ``mes_example``, ``creatorcomment``, ``tags``) are repeated at
    the top level; V3 sets ``modification_date`` (now, unix seconds; ``creation_date`` too when
    the card had none) and gives every lorebook entry the required ``use_regex``."""
    if fmt not in ("v2", "v3"):
        raise CardError("format", f"{fmt!r} is not v2 or v3")
    extra = extra or {}
    data: dict[str, Any] = {"name": activity.get("title") or ""}
    for card_key, act_key in CARD_TO_ACTIVITY.items():
        if card_key == "name":
            continue
        value = activity.get(act_key)
        if card_key in _LIST_FIELDS:
            data[card_key] = list(value or [])
        else:
            data[card_key] = value or ""
    data["extensions"] = dict(extra.get("extensions") or {})
    if lorebook is not None:
        book = dict(lorebook)
        book.pop("id", None)
        if fmt == "v3":
            book["entries"] = [_v3_entry(e) for e in book.get("entries") or []]
        data["character_book"] = book
    if fmt == "v2":
        return {**_v1_fields(data, extra), "spec": "chara_card_v2", "spec_version": "2.0", "data": data}
    data["group_only_greetings"] = list(extra.get("group_only_greetings") or [])
    for key in _V3_EXTRA_FIELDS:
        if key != "group_only_greetings" and extra.get(key) is not None:
            data[key] = extra[key]
    stamp = int(time.time()) if now is None else int(now)
    data.setdefault("creation_date", stamp)
    data["modification_date"] = stamp
    return {**_v1_fields(data, extra), "spec": "chara_card_v3", "spec_version": "3.0", "data": data}


def _v1_fields(data: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """The V1 fields SillyTavern repeats at the top level of a V2/V3 card, for V1 readers."""
    out = {k: data.get(k) or "" for k in _V1_FIELDS}
    out["creatorcomment"] = data.get("creator_notes") or ""
    out["tags"] = list(data.get("tags") or [])
    out["talkativeness"] = str((extra.get("extensions") or {}).get("talkativeness", "0.5"))
    out["fav"] = bool((extra.get("extensions") or {}).get("fav", False))
    return out


def _v3_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """A lorebook entry as V3 requires it: ``use_regex`` present (true when the entry's keys
    are SillyTavern ``/pattern/flags`` regexes), ``extensions`` present."""
    from .content.lore import is_regex_key

    e = dict(entry)
    if not isinstance(e.get("use_regex"), bool):
        e["use_regex"] = any(is_regex_key(str(k)) for k in e.get("keys") or [])
    e.setdefault("extensions", {})
    e.setdefault("enabled", True)
    return e


def card_json(card: dict[str, Any]) -> str:
    return json.dumps(card, ensure_ascii=False, indent=2) + "\n"


def _b64(card: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(card, ensure_ascii=False).encode("utf-8")).decode("ascii")


def default_card_image(title: str, width: int = 400, height: int = 600) -> bytes:
    """A plain PNG for a card that has no image of its own (Pillow)."""
    import hashlib
    import io

    from PIL import Image, ImageDraw

    h = hashlib.sha256(title.encode("utf-8")).digest()
    top, bottom = (h[0], h[1], h[2]), (h[3] // 3, h[4] // 3, h[5] // 3)
    img = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(img)
    for y in range(height):
        t = y / max(1, height - 1)
        draw.line(
            [(0, y), (width, y)],
            fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    draw.ellipse([width * 0.3, height * 0.18, width * 0.7, height * 0.45], fill=(20, 20, 28))
    draw.rounded_rectangle(
        [width * 0.18, height * 0.48, width * 0.82, height * 0.95], radius=40, fill=(20, 20, 28)
    )
    draw.text((16, 16), title[:40], fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def export_png(
    activity: dict[str, Any],
    *,
    lorebook: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    image_png: bytes | None = None,
) -> bytes:
    """A PNG card carrying both ``chara`` (V2) and ``ccv3`` (V3) chunks."""
    base = image_png or default_card_image(str(activity.get("title") or "card"))
    v2 = build_card(activity, fmt="v2", lorebook=lorebook, extra=extra)
    v3 = build_card(activity, fmt="v3", lorebook=lorebook, extra=extra)
    return write_png_text(base, {"chara": _b64(v2), "ccv3": _b64(v3)})


# --------------------------------------------------------------------------- lorebooks (world info)

#: SillyTavern world-info entry field -> (character_book field or ``extensions`` key)
_WI_TO_EXT = {
    "excludeRecursion": "exclude_recursion",
    "preventRecursion": "prevent_recursion",
    "delayUntilRecursion": "delay_until_recursion",
    "displayIndex": "display_index",
    "probability": "probability",
    "useProbability": "useProbability",
    "depth": "depth",
    "selectiveLogic": "selectiveLogic",
    "group": "group",
    "groupOverride": "group_override",
    "groupWeight": "group_weight",
    "scanDepth": "scan_depth",
    "caseSensitive": "case_sensitive",
    "matchWholeWords": "match_whole_words",
    "useGroupScoring": "use_group_scoring",
    "automationId": "automation_id",
    "role": "role",
    "vectorized": "vectorized",
    "sticky": "sticky",
    "cooldown": "cooldown",
    "delay": "delay",
}
_EXT_TO_WI = {v: k for k, v in _WI_TO_EXT.items()}


def is_lorebook_obj(obj: Any) -> bool:
    """A SillyTavern world-info file (``entries`` map or list) or a bare ``character_book``."""
    return isinstance(obj, dict) and "spec" not in obj and isinstance(obj.get("entries"), dict | list)


def _wi_entry(uid: str, e: Any, where: str) -> dict[str, Any]:
    """One SillyTavern world-info entry -> a character_book entry (as SillyTavern's
    ``convertWorldInfoToCharacterBook`` does; its own settings go to ``extensions``)."""
    if not isinstance(e, dict):
        raise CardError(where, f"must be an object, not {type(e).__name__}")
    keys = _str_list(e, "key", where)
    if keys is None:
        raise CardError(f"{where}.key", "required (a list of strings)")
    content = _str(e, "content", where) or ""
    position = e.get("position", 0)
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= 6:
        raise CardError(f"{where}.position", "must be a number 0-6 (SillyTavern's positions)")
    logic = e.get("selectiveLogic", 0)
    if logic is not None and (isinstance(logic, bool) or logic not in (0, 1, 2, 3)):
        raise CardError(f"{where}.selectiveLogic", "must be 0 (AND ANY), 1 (NOT ALL), 2 (NOT ANY) or 3 (AND ALL)")
    prob = e.get("probability")
    if prob is not None and (isinstance(prob, bool) or not isinstance(prob, int | float) or not 0 <= prob <= 100):
        raise CardError(f"{where}.probability", "must be a number 0-100")
    order = e.get("order", 100)
    if isinstance(order, bool) or not isinstance(order, int | float):
        raise CardError(f"{where}.order", "must be a number")
    for key in ("constant", "selective", "disable"):
        if e.get(key) is not None and not isinstance(e[key], bool):
            raise CardError(f"{where}.{key}", "must be true or false")
    ext = dict(e.get("extensions") or {}) if isinstance(e.get("extensions"), dict) else {}
    for wi_key, ext_key in _WI_TO_EXT.items():
        if wi_key in e:
            ext[ext_key] = e[wi_key]
    ext["position"] = position
    out: dict[str, Any] = {
        "id": e.get("uid", uid),
        "keys": keys,
        "secondary_keys": _str_list(e, "keysecondary", where) or [],
        "comment": _str(e, "comment", where) or "",
        "content": content,
        "constant": bool(e.get("constant", False)),
        "selective": bool(e.get("selective", True)),
        "insertion_order": order,
        "enabled": not e.get("disable", False),
        "position": "before_char" if position == 0 else "after_char",
        "extensions": ext,
    }
    if isinstance(e.get("caseSensitive"), bool):
        out["case_sensitive"] = e["caseSensitive"]
    return out


def parse_lorebook_file(obj: Any, *, name: str | None = None) -> tuple[dict[str, Any], str]:
    """A lorebook file -> ``(character_book, kind)``. Accepted: SillyTavern world-info JSON
    (``{"entries": {"0": {uid, key, keysecondary, content, order, position, …}}}``),
    a V2/V3 ``character_book`` (``entries`` a list of ``{keys, content, …}``), or a whole
    V2/V3 card (its ``data.character_book``). ``kind``: ``worldinfo`` | ``character_book`` |
    ``card``."""
    if not isinstance(obj, dict):
        raise CardError("lorebook", f"must be a JSON object, not {type(obj).__name__}")
    if obj.get("spec") in ("chara_card_v2", "chara_card_v3"):
        book = (obj.get("data") or {}).get("character_book") if isinstance(obj.get("data"), dict) else None
        if book is None:
            raise CardError("data.character_book", "this card carries no lorebook")
        return parse_lorebook(book, "data.character_book"), "card"
    entries = obj.get("entries")
    if isinstance(entries, dict):
        if len(entries) > MAX_LIST_ITEMS:
            raise CardError("entries", f"{len(entries)} entries; the limit is {MAX_LIST_ITEMS}")
        conv = [_wi_entry(str(k), v, f"entries.{k}") for k, v in entries.items()]
        conv.sort(key=lambda x: ((x["extensions"].get("display_index") or 0), str(x["id"])))
        book: dict[str, Any] = {
            "name": obj.get("name") if isinstance(obj.get("name"), str) else (name or ""),
            "entries": conv,
        }
        for k in ("description", "scan_depth", "token_budget", "recursive_scanning"):
            if obj.get(k) is not None:
                book[k] = obj[k]
        return parse_lorebook(book, "lorebook"), "worldinfo"
    if isinstance(entries, list):
        if entries and all(isinstance(x, dict) and "key" in x and "keys" not in x for x in entries):
            return parse_lorebook_file({**obj, "entries": {str(i): x for i, x in enumerate(entries)}},
                                       name=name)
        book = dict(obj)
        if not book.get("name") and name:
            book["name"] = name
        return parse_lorebook(book, "lorebook"), "character_book"
    if "spec" in obj or "name" in obj and "first_mes" in obj:
        raise CardError("lorebook", "this is a character card without a lorebook "
                        "(import it with `phantom admin import-card`)")
    raise CardError("entries", "missing: expected SillyTavern world info ({\"entries\": {…}}) "
                    "or a character_book ({\"entries\": […]})")


def lorebook_to_worldinfo(book: dict[str, Any]) -> dict[str, Any]:
    """A stored lorebook -> SillyTavern world-info JSON (the ``entries`` map form)."""
    from .content.lore import POSITION_NUMBERS, entry_position

    entries: dict[str, Any] = {}
    for i, e in enumerate(book.get("entries") or []):
        ext = dict(e.get("extensions") or {})
        uid = e.get("id")
        uid = uid if isinstance(uid, int) and not isinstance(uid, bool) else i
        wi: dict[str, Any] = {
            "uid": uid,
            "key": list(e.get("keys") or []),
            "keysecondary": list(e.get("secondary_keys") or []),
            "comment": e.get("comment") or e.get("name") or "",
            "content": e.get("content") or "",
            "constant": bool(e.get("constant", False)),
            "selective": bool(e.get("selective", True)),
            "selectiveLogic": ext.get("selectiveLogic", 0),
            "order": e.get("insertion_order", 100),
            "position": POSITION_NUMBERS.get(entry_position(e), 0),
            "disable": e.get("enabled", True) is False,
            "addMemo": True,
            "excludeRecursion": bool(ext.get("exclude_recursion", False)),
            "preventRecursion": bool(ext.get("prevent_recursion", False)),
            "delayUntilRecursion": bool(ext.get("delay_until_recursion", False)),
            "probability": ext.get("probability", 100),
            "useProbability": ext.get("useProbability", True),
            "depth": ext.get("depth", 4),
            "group": ext.get("group", ""),
            "scanDepth": ext.get("scan_depth"),
            "caseSensitive": e.get("case_sensitive", ext.get("case_sensitive")),
            "matchWholeWords": ext.get("match_whole_words"),
            "displayIndex": ext.get("display_index", i),
        }
        for ext_key, wi_key in _EXT_TO_WI.items():
            if ext_key in ext and wi_key not in wi:
                wi[wi_key] = ext[ext_key]
        entries[str(uid)] = wi
    out: dict[str, Any] = {"entries": entries}
    if book.get("name"):
        out["name"] = book["name"]
    for k in ("description", "scan_depth", "token_budget", "recursive_scanning"):
        if book.get(k) is not None:
            out[k] = book[k]
    return out
