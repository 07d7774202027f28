"""The renderer: a real PNG (image) or animated WebP/GIF (video) for a skin + category.

Deterministic for a (skin, category, seed): the same inputs give the same bytes. Visibly
different per skin (colours come from the skin's palette, or from its id when it has none; the
style decides flat outlines (anime) or soft shading (realistic); the gender the hair) and per
category (each category has its own composition). The skin name and the category are written on
the picture. Pillow is imported inside the functions (start-up rule). No database, no files.
"""

from __future__ import annotations

import hashlib
import io
import math
import random
from dataclasses import dataclass
from typing import Any

IMAGE_SIZE = (512, 768)
VIDEO_SIZE = (256, 384)
VIDEO_FRAMES = 8
VIDEO_FRAME_MS = 120

RGB = tuple[int, int, int]


def _hex(value: str) -> RGB | None:
    v = value.strip().lstrip("#")
    if len(v) != 6:
        return None
    try:
        return (int(v[0:2], 16), int(v[2:4], 16), int(v[4:6], 16))
    except ValueError:
        return None


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (
        int(a[0] + (b[0] - a[0]) * t),
        int(a[1] + (b[1] - a[1]) * t),
        int(a[2] + (b[2] - a[2]) * t),
    )


@dataclass(frozen=True)
class Palette:
    sky: RGB
    ground: RGB
    skin: RGB
    hair: RGB
    cloth: RGB
    accent: RGB

    @classmethod
    def for_skin(cls, skin: dict[str, Any]) -> Palette:
        """The skin's own palette (``data.palette``: list of '#rrggbb'), else one from its id."""
        given = [c for c in (_hex(str(x)) for x in (skin.get("palette") or [])) if c]
        h = hashlib.sha256(str(skin.get("id", "")).encode()).digest()
        derived = [(h[i], h[i + 1], h[i + 2]) for i in range(0, 18, 3)]
        cols = (given + derived)[:6]
        sky, ground, hair, cloth, accent = cols[0], cols[1], cols[2], cols[3], cols[4]
        tones = [(241, 206, 180), (224, 172, 138), (198, 134, 96), (141, 85, 54), (96, 62, 42)]
        skin_tone = tones[h[20] % len(tones)]
        if skin.get("skin_tone"):
            skin_tone = _hex(str(skin["skin_tone"])) or skin_tone
        return cls(sky, ground, skin_tone, hair, cloth, accent)


def _rng(skin: dict[str, Any], category: str, seed: int) -> random.Random:
    key = f"{skin.get('id')}|{category}|{seed}".encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


# ASCII stand-ins for glyphs a caption font may lack (Pillow's default font has no dashes)
_ASCII = {"—": "-", "–": "-", "‒": "-", "―": "-", "‘": "'", "’": "'", "“": '"', "”": '"',
          "…": "...", "•": "*"}


def _drawable(text: str, font: Any) -> str:
    """``text`` with each character ``font`` has no glyph for (it would draw the missing-glyph
    box) replaced by an ASCII stand-in: "—" → "-", "é" → "e", else "?". A glyph is missing
    when the font renders it exactly like a private-use character (its .notdef glyph)."""
    import unicodedata

    def shape(ch: str) -> Any:
        try:
            mask = font.getmask(ch)
            return mask.size, bytes(mask)
        except Exception:  # noqa: BLE001 - a bitmap font that cannot encode it
            return None

    notdef = shape("\ue000")

    def has(ch: str) -> bool:
        return ch.isspace() or (ch.isprintable() and (got := shape(ch)) is not None and got != notdef)

    out = []
    for ch in text:
        if has(ch):
            out.append(ch)
            continue
        alt = _ASCII.get(ch) or unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
        out.append(alt if alt and all(has(c) for c in alt) else "?")
    return "".join(out)


def _figure(
    draw: Any,
    pal: Palette,
    *,
    cx: float,
    top: float,
    height: float,
    anime: bool,
    feminine: bool,
    lean: float = 0.0,
    arm_up: float = 0.0,
    dress: bool = False,
    legs: bool = True,
) -> None:
    """A stylised person: head, hair, torso, arms, legs. ``height`` is head-top to feet."""
    outline = (20, 16, 24) if anime else None
    ow = max(2, int(height / 120)) if anime else 0
    head_r = height * (0.11 if anime else 0.085)
    hx, hy = cx + lean * height * 0.15, top + head_r
    # hair behind the head (long for feminine skins)
    hair_len = head_r * (2.6 if feminine else 1.1)
    draw.rounded_rectangle(
        [hx - head_r * 1.15, hy - head_r * 1.1, hx + head_r * 1.15, hy + hair_len],
        radius=int(head_r),
        fill=pal.hair,
    )
    neck_y = hy + head_r
    shoulder_y = neck_y + head_r * 0.4
    hip_y = top + height * 0.58
    foot_y = top + height
    sw = head_r * (1.9 if not feminine else 1.6)
    # torso (a dress is a trapezoid to the knees)
    if dress:
        knee = top + height * 0.8
        draw.polygon(
            [
                (hx - sw * 0.8, shoulder_y),
                (hx + sw * 0.8, shoulder_y),
                (cx + sw * 1.6, knee),
                (cx - sw * 1.6, knee),
            ],
            fill=pal.cloth,
            outline=outline,
            width=ow,
        )
    else:
        draw.polygon(
            [
                (hx - sw, shoulder_y),
                (hx + sw, shoulder_y),
                (cx + sw * 0.75, hip_y),
                (cx - sw * 0.75, hip_y),
            ],
            fill=pal.cloth,
            outline=outline,
            width=ow,
        )
    limb = max(3, int(head_r * 0.45))
    # arms: left hangs, right rises with arm_up (0..1)
    draw.line(
        [(hx - sw, shoulder_y), (cx - sw * 1.25, hip_y)], fill=pal.skin, width=limb, joint="curve"
    )
    ang = math.radians(90 - 150 * arm_up)
    ex = hx + sw + math.cos(ang) * height * 0.28
    ey = shoulder_y + math.sin(ang) * height * 0.28
    draw.line([(hx + sw, shoulder_y), (ex, ey)], fill=pal.skin, width=limb, joint="curve")
    if legs:
        draw.line(
            [(cx - sw * 0.4, hip_y), (cx - sw * 0.55, foot_y)], fill=pal.ground, width=limb + 2
        )
        draw.line(
            [(cx + sw * 0.4, hip_y), (cx + sw * 0.55, foot_y)], fill=pal.ground, width=limb + 2
        )
    # head on top
    draw.ellipse(
        [hx - head_r, hy - head_r, hx + head_r, hy + head_r],
        fill=pal.skin,
        outline=outline,
        width=ow,
    )
    # fringe
    draw.chord(
        [hx - head_r * 1.05, hy - head_r * 1.15, hx + head_r * 1.05, hy + head_r * 0.4],
        180,
        360,
        fill=pal.hair,
    )
    # eyes: big and bright for anime, small and dark for realistic
    er = head_r * (0.2 if anime else 0.08)
    for side in (-1, 1):
        ex2, ey2 = hx + side * head_r * 0.42, hy + head_r * 0.15
        if anime:
            draw.ellipse([ex2 - er * 0.8, ey2 - er, ex2 + er * 0.8, ey2 + er], fill=pal.accent)
            draw.ellipse(
                [ex2 - er * 0.3, ey2 - er * 0.6, ex2 + er * 0.1, ey2 - er * 0.2],
                fill=(255, 255, 255),
            )
        else:
            draw.ellipse([ex2 - er, ey2 - er, ex2 + er, ey2 + er], fill=(40, 30, 30))


def _background(img: Any, pal: Palette, *, horizon: float) -> Any:
    """Sky above ``horizon`` (a fraction of the height), ground below; returns the ImageDraw."""
    from PIL import ImageDraw

    w, h = img.size
    draw = ImageDraw.Draw(img)
    hy = int(h * horizon)
    for y in range(hy):
        draw.line([(0, y), (w, y)], fill=_mix(pal.sky, (255, 255, 255), 0.35 * y / max(1, hy)))
    for y in range(hy, h):
        t = (y - hy) / max(1, h - hy)
        draw.line([(0, y), (w, y)], fill=_mix(pal.ground, (0, 0, 0), 0.5 * t))
    return draw


def _compose(
    skin: dict[str, Any], category: str, seed: int, size: tuple[int, int], t: float
) -> Any:
    """One frame (``t`` in [0, 1): the animation phase; 0 for a still image)."""
    from PIL import Image, ImageDraw, ImageFilter

    w, h = size
    pal = Palette.for_skin(skin)
    rng = _rng(skin, category, seed)
    anime = str(skin.get("style") or "").lower() != "realistic"
    feminine = str(skin.get("gender") or "").lower() in ("female", "woman", "f")
    img = Image.new("RGB", size, pal.sky)
    wave = math.sin(2 * math.pi * t)

    def figure(draw: Any, **kw: Any) -> None:
        _figure(draw, pal, anime=anime, feminine=feminine, **kw)

    if category == "scene":
        draw = _background(img, pal, horizon=0.62)
        sun_x = w * (0.15 + 0.7 * rng.random()) + wave * w * 0.05
        sun_y = h * (0.15 + 0.2 * rng.random())
        r = w * 0.09
        draw.ellipse([sun_x - r, sun_y - r, sun_x + r, sun_y + r], fill=pal.accent)
        for _ in range(4):  # mountains
            mx, mw, mh = rng.random() * w, w * (0.3 + rng.random() * 0.4), h * rng.uniform(0.1, 0.3)
            draw.polygon(
                [(mx - mw / 2, h * 0.62), (mx, h * 0.62 - mh), (mx + mw / 2, h * 0.62)],
                fill=_mix(pal.ground, pal.sky, 0.4 + rng.random() * 0.3),
            )
        figure(
            draw,
            cx=w * 0.7,
            top=h * 0.5,
            height=h * 0.3,
            dress=feminine,
        )
    elif category == "portrait":
        draw = _background(img, pal, horizon=1.0)
        for _ in range(6):  # bokeh
            bx, by, br = rng.random() * w, rng.random() * h * 0.6, w * rng.uniform(0.03, 0.08)
            draw.ellipse([bx - br, by - br, bx + br, by + br], fill=_mix(pal.sky, pal.accent, 0.5))
        figure(
            draw,
            cx=w / 2,
            top=h * 0.12 + wave * h * 0.01,
            height=h * 1.6,
            legs=False,
        )
    elif category == "selfie":
        draw = _background(img, pal, horizon=0.75)
        figure(
            draw,
            cx=w * 0.45,
            top=h * 0.18,
            height=h * 1.2,
            lean=0.3 + wave * 0.1,
            arm_up=0.85,
            legs=False,
        )
        m = int(w * 0.03)
        draw.rounded_rectangle(
            [m, m, w - m, h - m], radius=int(w * 0.06), outline=pal.accent, width=max(3, w // 60)
        )
        draw.ellipse([w / 2 - 6, m + 8, w / 2 + 6, m + 20], fill=pal.accent)  # camera dot
    elif category == "full_body":
        draw = _background(img, pal, horizon=0.8)
        figure(
            draw,
            cx=w / 2,
            top=h * 0.1,
            height=h * 0.78,
            arm_up=0.15 + 0.1 * wave,
        )
    elif category == "outfit":
        draw = _background(img, pal, horizon=0.85)
        figure(
            draw,
            cx=w / 2,
            top=h * 0.08,
            height=h * 0.8,
            dress=True,
            arm_up=0.05,
        )
        for i in range(5):  # pattern on the outfit
            y = h * (0.38 + 0.07 * i) + wave * 3
            draw.line([(w * 0.35, y), (w * 0.65, y)], fill=pal.accent, width=max(2, w // 100))
        for _ in range(12):  # sparkle
            sx, sy = rng.random() * w, rng.random() * h * 0.8
            s = w * 0.012 * (1.2 + wave * 0.5)
            draw.polygon(
                [(sx, sy - s * 2), (sx + s, sy), (sx, sy + s * 2), (sx - s, sy)],
                fill=(255, 255, 255),
            )
    elif category == "action":
        draw = _background(img, pal, horizon=0.7)
        for i in range(14):  # motion streaks
            y = rng.random() * h
            x0 = (rng.random() * w + t * w * 1.5 + i * 13) % w
            draw.line(
                [(x0, y), (x0 + w * 0.35, y)],
                fill=_mix(pal.sky, pal.accent, 0.6),
                width=max(2, w // 120),
            )
        figure(
            draw,
            cx=w * 0.5 + wave * w * 0.05,
            top=h * 0.12,
            height=h * 0.7,
            lean=-0.8,
            arm_up=1.0,
        )
    else:  # an unknown category still renders, with a generic composition
        draw = _background(img, pal, horizon=0.7)
        figure(draw, cx=w / 2, top=h * 0.15, height=h * 0.7)
    if not anime:
        img = img.filter(ImageFilter.GaussianBlur(radius=max(1, w // 256)))
    # caption band: skin name and category
    draw = ImageDraw.Draw(img)
    band = int(h * 0.1)
    draw.rectangle([0, h - band, w, h], fill=(12, 10, 16))
    name = str(skin.get("name") or skin.get("id") or "skin")[:40]
    name_font, category_font = _font(max(10, band // 3)), _font(max(9, band // 4))
    draw.text(
        (w * 0.04, h - band * 0.88), _drawable(name, name_font), fill=(255, 255, 255),
        font=name_font,
    )
    draw.text(
        (w * 0.04, h - band * 0.42),
        _drawable(category.replace("_", " "), category_font),
        fill=pal.accent,
        font=category_font,
    )
    return img


def render_image(
    skin: dict[str, Any], category: str, seed: int = 0, size: tuple[int, int] = IMAGE_SIZE
) -> bytes:
    """A PNG of the skin in the category's composition."""
    img = _compose(skin, category, seed, size, 0.0)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def video_format() -> str:
    """``webp`` when Pillow has animated WebP, else ``gif``."""
    from PIL import features

    return "webp" if features.check("webp") else "gif"


def render_video(
    skin: dict[str, Any],
    category: str,
    seed: int = 0,
    size: tuple[int, int] = VIDEO_SIZE,
    frames: int = VIDEO_FRAMES,
    first_frame: str = "generate",
) -> tuple[bytes, str]:
    """An animated image (``frames`` frames, looping) and its format (``webp`` or ``gif``).

    ``first_frame="skin_reference"`` opens on the skin's reference portrait (seed 002's
    ``first_frame_source``); ``"generate"`` opens on the category's own first frame.
    """
    imgs = [_compose(skin, category, seed, size, i / frames) for i in range(frames)]
    if first_frame == "skin_reference":
        imgs[0] = _compose(skin, "portrait", 0, size, 0.0)
    fmt = video_format()
    buf = io.BytesIO()
    if fmt == "webp":
        imgs[0].save(
            buf,
            format="WEBP",
            save_all=True,
            append_images=imgs[1:],
            duration=VIDEO_FRAME_MS,
            loop=0,
            quality=80,
            method=0,
        )
    else:
        imgs[0].save(
            buf,
            format="GIF",
            save_all=True,
            append_images=imgs[1:],
            duration=VIDEO_FRAME_MS,
            loop=0,
        )
    return buf.getvalue(), fmt


def render_for(
    skin: dict[str, Any], kind: str, category: str, seed: int, first_frame: str | None = None
) -> tuple[bytes, str]:
    if kind == "video":
        return render_video(skin, category, seed, first_frame=first_frame or "generate")
    return render_image(skin, category, seed), "png"
