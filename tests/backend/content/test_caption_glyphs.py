"""Issue 18, point 7: generated image captions draw no missing-glyph box ("—" in the seed skin
names is not in Pillow's default font): every character drawn is one the font has."""

from __future__ import annotations

import json
from pathlib import Path

from phantom_cli.backend.generation.render import _drawable, _font, render_image

SKINS = Path(__file__).resolve().parents[3] / "phantom_cli" / "backend" / "content" / "skins.json"


def _missing(text: str, font) -> list[str]:
    notdef = font.getmask("\ue000")
    box = (notdef.size, bytes(notdef))
    out = []
    for ch in text:
        mask = font.getmask(ch)
        if not ch.isspace() and (mask.size, bytes(mask)) == box:
            out.append(ch)
    return out


def test_the_default_font_lacks_the_dash() -> None:
    """The premise: without the fix the caption would show a box for '—'."""
    assert _missing("Luna — Stargazer", _font(20)) == ["—"]


def test_every_seed_skin_caption_is_drawable() -> None:
    font = _font(20)
    names = [s["name"] for s in json.loads(SKINS.read_text(encoding="utf-8"))["skins"]]
    assert any("—" in n for n in names)
    for name in names:
        drawn = _drawable(name, font)
        assert _missing(drawn, font) == [], (name, drawn)
        assert len(drawn) >= len(name) - 1
    assert _drawable("Luna — Stargazer", font) == "Luna - Stargazer"
    assert _missing(_drawable("Café “Noir”… é", font), font) == []
    assert "?" in _drawable("Жук", font)


def test_the_rendered_caption_uses_the_fallback() -> None:
    """The image with '—' in the name is pixel for pixel the one with '-'."""
    a = render_image({"id": "skin_t", "name": "Luna — Stargazer"}, "portrait", seed=1, size=(256, 256))
    b = render_image({"id": "skin_t", "name": "Luna - Stargazer"}, "portrait", seed=1, size=(256, 256))
    assert a == b
