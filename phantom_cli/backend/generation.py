"""Image and video generation: the persistent job queue, its worker thread, and the renderer.

Jobs (``generation_jobs``, area ``generation``) go ``queued -> running -> succeeded | failed``.
One worker thread per server process, with its own SQLite connection, claims the oldest queued
job atomically (``UPDATE … WHERE status = 'queued' … RETURNING`` inside ``BEGIN IMMEDIATE``),
renders it, writes the file under ``settings.media_dir`` with a generated name (temp file, fsync,
rename: never a half-written file under a served name), then in one transaction inserts the
``media`` row, links it to the user's collection (relationType ``generated``) and marks the job
succeeded. At start-up, jobs left ``running`` by a crash go back to ``queued``, and files in the
media folder that no ``media`` row references (a crash between rename and commit) are deleted.

Serving: ``GET /api/v1/local/media/{media_id}?sig=…`` (routes/generate.py) serves only media rows
this server rendered, by the file name stored in the row. The URL carries an HMAC-SHA256
signature of the media id made with a per-install secret kept in the database, so a cdnUrl works
in a browser or image viewer without a bearer key, and ids cannot be enumerated. ``cdnUrl`` is
root-relative (the server's port can change between runs): resolve it against the base URL.

The renderer: a real PNG (image) or animated WebP/GIF (video) for a skin + category.

Deterministic for a (skin, category, seed): the same inputs give the same bytes. Visibly
different per skin (colours come from the skin's palette, or from its id when it has none; the
style decides flat outlines (anime) or soft shading (realistic); the gender the hair) and per
category (each category has its own composition). The skin name and the category are written on
the picture. Pillow is imported inside the functions (start-up rule).
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


def _background(img: Any, pal: Palette, *, horizon: float) -> None:
    from PIL import ImageDraw

    w, h = img.size
    draw = ImageDraw.Draw(img)
    hy = int(h * horizon)
    for y in range(hy):
        draw.line([(0, y), (w, y)], fill=_mix(pal.sky, (255, 255, 255), 0.35 * y / max(1, hy)))
    for y in range(hy, h):
        t = (y - hy) / max(1, h - hy)
        draw.line([(0, y), (w, y)], fill=_mix(pal.ground, (0, 0, 0), 0.5 * t))


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
    if category == "scene":
        _background(img, pal, horizon=0.62)
        draw = ImageDraw.Draw(img)
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
        _figure(
            draw,
            pal,
            cx=w * 0.7,
            top=h * 0.5,
            height=h * 0.3,
            anime=anime,
            feminine=feminine,
            dress=feminine,
        )
    elif category == "portrait":
        _background(img, pal, horizon=1.0)
        draw = ImageDraw.Draw(img)
        for _ in range(6):  # bokeh
            bx, by, br = rng.random() * w, rng.random() * h * 0.6, w * rng.uniform(0.03, 0.08)
            draw.ellipse([bx - br, by - br, bx + br, by + br], fill=_mix(pal.sky, pal.accent, 0.5))
        _figure(
            draw,
            pal,
            cx=w / 2,
            top=h * 0.12 + wave * h * 0.01,
            height=h * 1.6,
            anime=anime,
            feminine=feminine,
            legs=False,
        )
    elif category == "selfie":
        _background(img, pal, horizon=0.75)
        draw = ImageDraw.Draw(img)
        _figure(
            draw,
            pal,
            cx=w * 0.45,
            top=h * 0.18,
            height=h * 1.2,
            anime=anime,
            feminine=feminine,
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
        _background(img, pal, horizon=0.8)
        draw = ImageDraw.Draw(img)
        _figure(
            draw,
            pal,
            cx=w / 2,
            top=h * 0.1,
            height=h * 0.78,
            anime=anime,
            feminine=feminine,
            arm_up=0.15 + 0.1 * wave,
        )
    elif category == "outfit":
        _background(img, pal, horizon=0.85)
        draw = ImageDraw.Draw(img)
        _figure(
            draw,
            pal,
            cx=w / 2,
            top=h * 0.08,
            height=h * 0.8,
            anime=anime,
            feminine=feminine,
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
        _background(img, pal, horizon=0.7)
        draw = ImageDraw.Draw(img)
        for i in range(14):  # motion streaks
            y = rng.random() * h
            x0 = (rng.random() * w + t * w * 1.5 + i * 13) % w
            draw.line(
                [(x0, y), (x0 + w * 0.35, y)],
                fill=_mix(pal.sky, pal.accent, 0.6),
                width=max(2, w // 120),
            )
        _figure(
            draw,
            pal,
            cx=w * 0.5 + wave * w * 0.05,
            top=h * 0.12,
            height=h * 0.7,
            anime=anime,
            feminine=feminine,
            lean=-0.8,
            arm_up=1.0,
        )
    else:  # an unknown category still renders, with a generic composition
        _background(img, pal, horizon=0.7)
        draw = ImageDraw.Draw(img)
        _figure(draw, pal, cx=w / 2, top=h * 0.15, height=h * 0.7, anime=anime, feminine=feminine)
    if not anime:
        img = img.filter(ImageFilter.GaussianBlur(radius=max(1, w // 256)))
    # caption band: skin name and category
    draw = ImageDraw.Draw(img)
    band = int(h * 0.1)
    draw.rectangle([0, h - band, w, h], fill=(12, 10, 16))
    name = str(skin.get("name") or skin.get("id") or "skin")[:40]
    draw.text(
        (w * 0.04, h - band * 0.88), name, fill=(255, 255, 255), font=_font(max(10, band // 3))
    )
    draw.text(
        (w * 0.04, h - band * 0.42),
        category.replace("_", " "),
        fill=pal.accent,
        font=_font(max(9, band // 4)),
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


# =========================================================================== storage and jobs

GENERATION_V1 = """
CREATE TABLE generation_jobs (
    id TEXT PRIMARY KEY,
    generation_id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    request TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    media_id TEXT,
    collection_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX generation_jobs_queue ON generation_jobs(status, created_at, id);
CREATE INDEX generation_jobs_user ON generation_jobs(user_id, created_at);
"""

MAX_ATTEMPTS = 10  # a job whose rendering was interrupted this many times is marked failed
MEDIA_ROUTE = "/api/v1/local/media/{media_id}"
_FILE_RE = r"^(gen|seed)_[0-9a-f]{32}\.(png|webp|gif)$"
CONTENT_TYPES = {"png": "image/png", "webp": "image/webp", "gif": "image/gif"}


def _register() -> None:
    from . import content  # noqa: F401  (content_kv holds the media secret)
    from .db import register_migration

    register_migration("generation", 1, "generation jobs", GENERATION_V1)


_register()


def media_secret(conn: Any) -> bytes:
    """The per-install key that signs media URLs (created on first use, kept in the DB)."""
    import secrets

    row = conn.execute("SELECT value FROM content_kv WHERE key = 'media_secret'").fetchone()
    if row is not None:
        return bytes.fromhex(row[0])
    conn.execute(
        "INSERT OR IGNORE INTO content_kv(key, value) VALUES ('media_secret', ?)",
        (secrets.token_hex(32),),
    )
    row = conn.execute("SELECT value FROM content_kv WHERE key = 'media_secret'").fetchone()
    return bytes.fromhex(row[0])


def media_sig(conn: Any, media_id: str) -> str:
    import hmac

    return hmac.new(media_secret(conn), media_id.encode(), hashlib.sha256).hexdigest()[:32]


def check_sig(conn: Any, media_id: str, sig: str) -> bool:
    import hmac

    return hmac.compare_digest(media_sig(conn, media_id).encode(), (sig or "").encode("utf-8"))


def media_url(conn: Any, media_id: str) -> str:
    """Root-relative signed URL of a medium this server renders."""
    from urllib.parse import quote

    return (
        MEDIA_ROUTE.format(media_id=quote(media_id, safe="")) + f"?sig={media_sig(conn, media_id)}"
    )


def ensure_render_media(
    conn: Any,
    media_id: str,
    kind: str,
    skin_id: str,
    category: str,
    seed: int,
    *,
    title: str | None = None,
    user_id: str | None = None,
) -> str:
    """A ``media`` row rendered lazily on first fetch (seeded media, skin covers)."""
    import json

    from .db import now

    meta = {"render": {"kind": kind, "skin_id": skin_id, "category": category, "seed": seed}}
    if title:
        meta["title"] = title
    conn.execute(
        "INSERT INTO media(id, type, url, file, user_id, metadata, created_at)"
        " VALUES (?,?,?,NULL,?,?,?) ON CONFLICT(id) DO UPDATE SET type = excluded.type,"
        " metadata = excluded.metadata, file = NULL",
        (media_id, kind, media_url(conn, media_id), user_id, json.dumps(meta), now()),
    )
    return media_id


def write_media_file(media_dir: Any, data: bytes, ext: str, prefix: str = "gen") -> str:
    """Write ``data`` under a generated name atomically (temp, fsync, rename); returns the name."""
    import os
    import secrets
    from pathlib import Path

    from phantom_cli.config.paths import private_dir
    from phantom_cli.config.settings import atomic_write

    d = private_dir(Path(media_dir))
    name = f"{prefix}_{secrets.token_hex(16)}.{ext}"
    atomic_write(d / name, data, mode=0o600)
    try:
        dfd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    return name


def media_path(media_dir: Any, name: str | None) -> Any:
    """The file of a media row, or None if the stored name is not one this server generates."""
    import re
    from pathlib import Path

    if not name or not re.match(_FILE_RE, name):
        return None
    return Path(media_dir) / name


def render_for(
    skin: dict[str, Any], kind: str, category: str, seed: int, first_frame: str | None = None
) -> tuple[bytes, str]:
    if kind == "video":
        return render_video(skin, category, seed, first_frame=first_frame or "generate")
    return render_image(skin, category, seed), "png"


def recover(conn: Any, media_dir: Any) -> dict[str, int]:
    """Start-up recovery: requeue jobs a crash left running; delete orphan media files."""
    from pathlib import Path

    from .db import now, transaction

    with transaction(conn):
        requeued = conn.execute(
            "UPDATE generation_jobs SET status = 'queued', updated_at = ? WHERE status = 'running'",
            (now(),),
        ).rowcount
    import re

    from phantom_cli.config.settings import atomic_temp_target

    known = {r[0] for r in conn.execute("SELECT file FROM media WHERE file IS NOT NULL")}
    removed = 0
    d = Path(media_dir)
    ours = re.compile(_FILE_RE)
    if d.is_dir():
        for f in d.iterdir():
            # only names this module generates: never touch anyone else's files
            name = f.name
            if name.startswith(".") and name.endswith(".tmp"):
                # a temp file a kill left: atomic_write's `.<name>.<random>.tmp`, or the
                # `.<name>.tmp` of older versions
                target = atomic_temp_target(name)
                orphan = bool(target and ours.match(target)) or bool(ours.match(name[1:-4]))
            else:
                orphan = bool(ours.match(name)) and name not in known
            if orphan and f.is_file():
                try:
                    f.unlink()
                    removed += 1
                except OSError:
                    pass
    return {"requeued": requeued, "orphans_removed": removed}


def enqueue(conn: Any, user_id: str, kind: str, request: dict[str, Any]) -> dict[str, str]:
    """Insert a queued job (committed before the 202 goes out)."""
    import json

    from .db import new_id, now

    jid, gid, ts = new_id("job"), new_id("gen"), now()
    conn.execute(
        "INSERT INTO generation_jobs(id, generation_id, user_id, kind, status, request,"
        " created_at, updated_at) VALUES (?,?,?,?,'queued',?,?,?)",
        (jid, gid, user_id, kind, json.dumps(request), ts, ts),
    )
    return {"job_id": jid, "generation_id": gid}


def claim(conn: Any) -> Any:
    """Atomically take the oldest queued job (``running``, attempts + 1), or None."""
    from .db import now, transaction

    if (
        conn.execute("SELECT 1 FROM generation_jobs WHERE status = 'queued' LIMIT 1").fetchone()
        is None
    ):
        return None  # cheap read first: an idle worker never takes the write lock
    with transaction(conn):
        row = conn.execute(
            "UPDATE generation_jobs SET status = 'running', attempts = attempts + 1, updated_at = ?"
            " WHERE id = (SELECT id FROM generation_jobs WHERE status = 'queued'"
            " ORDER BY created_at, id LIMIT 1) AND status = 'queued' RETURNING *",
            (now(),),
        ).fetchone()
    return row


def _fail(conn: Any, job_id: str, message: str) -> None:
    from .db import now

    conn.execute(
        "UPDATE generation_jobs SET status = 'failed', error = ?, updated_at = ? WHERE id = ?",
        (message[:500], now(), job_id),
    )


def _test_pause() -> None:
    """Crash tests widen the window between the file rename and the commit (a slow disk) with
    ``PHANTOM_TEST_GENERATION_PAUSE`` seconds, so a SIGKILL lands there and leaves an orphan."""
    import os
    import time

    raw = os.environ.get("PHANTOM_TEST_GENERATION_PAUSE")
    if raw:
        try:
            time.sleep(min(5.0, max(0.0, float(raw))))
        except ValueError:
            pass


def process(conn: Any, job: Any, media_dir: Any) -> str:
    """Render one claimed job and commit its result; returns the final status."""
    import json

    from .content import skin_for_render
    from .db import new_id, now, transaction

    if job["attempts"] > MAX_ATTEMPTS:
        _fail(conn, job["id"], f"rendering was interrupted {MAX_ATTEMPTS} times; giving up")
        return "failed"
    req = json.loads(job["request"])
    skin_row = conn.execute(
        "SELECT id, name, gender, style, data FROM skins WHERE id = ?", (req["skin_id"],)
    ).fetchone()
    if skin_row is None:
        _fail(conn, job["id"], f"skin_id: skin {req['skin_id']!r} no longer exists")
        return "failed"
    skin = skin_for_render(skin_row)
    seed = req.get("seed")
    if seed is None:
        seed = int(hashlib.sha256(job["generation_id"].encode()).hexdigest()[:8], 16)
    data, ext = render_for(
        skin, job["kind"], req["category"], int(seed), req.get("first_frame_source")
    )
    name = write_media_file(media_dir, data, ext)
    _test_pause()
    mid, cid = new_id("med"), new_id("col")
    meta = {
        "generation_id": job["generation_id"],
        "job_id": job["id"],
        "skin_id": skin["id"],
        "category": req["category"],
        "seed": int(seed),
        "format": ext,
        "bytes": len(data),
    }
    try:
        with transaction(conn):
            ts = now()
            conn.execute(
                "INSERT INTO media(id, type, url, file, user_id, metadata, created_at)"
                " VALUES (?,?,?,?,?,?,?)",
                (
                    mid,
                    job["kind"],
                    media_url(conn, mid),
                    name,
                    job["user_id"],
                    json.dumps(meta),
                    ts,
                ),
            )
            conn.execute(
                "INSERT INTO media_collection(id, user_id, media_id, relation_type, is_favorite,"
                " metadata, created_at) VALUES (?,?,?,'generated',0,?,?)",
                (cid, job["user_id"], mid, json.dumps({"generation_id": job["generation_id"]}), ts),
            )
            _deliver(conn, job, req, mid, ts)
            cur = conn.execute(
                "UPDATE generation_jobs SET status = 'succeeded', media_id = ?, collection_id = ?,"
                " error = NULL, updated_at = ? WHERE id = ? AND status = 'running'",
                (mid, cid, ts, job["id"]),
            )
            if cur.rowcount != 1:
                raise RuntimeError("job is no longer running (claimed twice?)")
    except BaseException:
        from contextlib import suppress
        from pathlib import Path

        with suppress(OSError):
            (Path(media_dir) / name).unlink()
        raise
    return "succeeded"


def _deliver(conn: Any, job: Any, req: dict[str, Any], media_id: str, ts: str) -> None:
    """Message delivery (seed 002): a job made for an activity instance posts the result there
    as an assistant message (medium image/video, content the media URL), in the same
    transaction as the result. An archived or deleted instance gets nothing."""
    from .db import new_id

    iid = req.get("activity_instance_id")
    if not iid:
        return
    row = conn.execute(
        "SELECT status FROM activity_instances WHERE id = ? AND user_id = ?", (iid, job["user_id"])
    ).fetchone()
    if row is None or row["status"] != "active":
        return
    conn.execute(
        "INSERT INTO messages(id, instance_id, role, medium, content, created_at, updated_at)"
        " VALUES (?,?,'assistant',?,?,?,?)",
        (new_id("msg"), iid, job["kind"], media_url(conn, media_id), ts, ts),
    )


class GenerationWorker:
    """One background thread with its own connection that drains the job table."""

    def __init__(self, db_path: Any, media_dir: Any, poll_interval: float = 1.0) -> None:
        import threading

        self.db_path = db_path
        self.media_dir = media_dir
        self.poll_interval = poll_interval
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.processed = 0

    def start(self) -> GenerationWorker:
        import threading

        self._thread = threading.Thread(target=self._run, name="phantom-generation", daemon=True)
        self._thread.start()
        return self

    def notify(self) -> None:
        self.wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        import logging

        from .db import connect

        log = logging.getLogger("phantom.backend.generation")
        conn = connect(self.db_path)
        try:
            while not self._stop.is_set():
                try:
                    job = claim(conn)
                except Exception:  # noqa: BLE001 - e.g. database busy: try again later
                    log.exception("claiming a generation job failed")
                    job = None
                if job is None:
                    self.wake.wait(self.poll_interval)
                    self.wake.clear()
                    continue
                try:
                    process(conn, job, self.media_dir)
                except Exception as exc:  # noqa: BLE001 - a job failure must not stop the worker
                    log.exception("generation job %s failed", job["id"])
                    try:
                        _fail(conn, job["id"], f"rendering failed: {type(exc).__name__}: {exc}")
                    except Exception:  # noqa: BLE001
                        log.exception("could not mark job %s failed", job["id"])
                self.processed += 1
        finally:
            conn.close()


def job_wire(conn: Any, row: Any) -> dict[str, Any]:
    """A ``models.GenerationJob`` dict for a job row."""
    item = None
    if row["collection_id"]:
        from .routes.media import get_item

        try:
            item = get_item(conn, row["user_id"], row["collection_id"])
        except Exception:  # noqa: BLE001 - the user removed it from the collection
            item = None
    return {
        "job_id": row["id"],
        "generation_id": row["generation_id"],
        "status": row["status"],
        "kind": row["kind"],
        "error": row["error"],
        "media": item,
        "media_id": row["media_id"],
        "attempts": row["attempts"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
