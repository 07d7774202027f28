"""Image and video generation, in four parts:

- ``render``  — the renderer (skin + category + seed → PNG / animated WebP or GIF); pure.
- ``storage`` — media files on disk, signed media URLs, lazily rendered media rows, orphan cleanup.
- ``jobs``    — the ``generation.render`` job kind of the one job system (``backend.jobs``):
  enqueue, claim, process (render → file → one transaction), crash recovery, its migrations.
- ``api``     — a job row as a ``models.GenerationJob`` (the routes are in ``routes/generate.py``).

The names below are re-exported for callers that use ``generation.X``.
"""

from __future__ import annotations

from .api import job_wire
from .jobs import KIND, MAX_ATTEMPTS, claim, enqueue, process, recover
from .render import (
    IMAGE_SIZE,
    VIDEO_FRAME_MS,
    VIDEO_FRAMES,
    VIDEO_SIZE,
    Palette,
    render_for,
    render_image,
    render_video,
    video_format,
)
from .storage import (
    CONTENT_TYPES,
    MEDIA_ROUTE,
    check_sig,
    ensure_render_media,
    media_path,
    media_secret,
    media_sig,
    media_url,
    recover_files,
    write_media_file,
)

__all__ = [
    "CONTENT_TYPES", "IMAGE_SIZE", "KIND", "MAX_ATTEMPTS", "MEDIA_ROUTE", "VIDEO_FRAMES",
    "VIDEO_FRAME_MS", "VIDEO_SIZE", "Palette", "check_sig", "claim", "ensure_render_media",
    "enqueue", "job_wire", "media_path", "media_secret", "media_sig", "media_url", "process",
    "recover", "recover_files", "render_for", "render_image", "render_video", "video_format",
    "write_media_file",
]
