"""Generation (seed 002): ``POST /api/v1/generate/image|video`` queue a job (202), the local
extension ``GET /api/v1/generate/jobs/{job_id}`` reports it (owner only), and
``GET /api/v1/local/media/{media_id}?sig=`` serves the files this server rendered.

Rendering is a ``generation.render`` job of the one job system (``phantom_cli.backend.generation.jobs``).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from phantom_cli.client import models as m

from .. import generation as gen
from .. import jobs
from ..content import skin_for_render
from ..endpoints import Ctx, endpoint
from ..errors import ApiError, not_found


def _validate(ctx: Ctx, body: m.GenerateImageRequest) -> None:
    if body.category not in m.GENERATION_CATEGORIES:
        allowed = ", ".join(m.GENERATION_CATEGORIES)
        raise ApiError(
            400,
            message=f"category: {body.category!r} is not a pre-defined category (one of {allowed})",
            details=[{"loc": ["body", "category"], "msg": f"must be one of {allowed}"}],
        )
    if ctx.db.execute("SELECT 1 FROM skins WHERE id = ?", (body.skin_id,)).fetchone() is None:
        raise not_found("skin", body.skin_id)
    if body.activity_instance_id is not None:
        row = ctx.db.execute(
            "SELECT 1 FROM activity_instances WHERE id = ? AND user_id = ?",
            (body.activity_instance_id, ctx.user.id),
        ).fetchone()
        if row is None:
            raise not_found("activity instance", body.activity_instance_id)
    if body.activity_id is not None:
        row = ctx.db.execute(
            "SELECT 1 FROM activities WHERE id = ? AND published = 1", (body.activity_id,)
        ).fetchone()
        if row is None:
            raise not_found("activity", body.activity_id)


def _queue(ctx: Ctx, kind: str) -> dict[str, str]:
    body = ctx.body
    _validate(ctx, body)
    out = gen.enqueue(ctx.db, ctx.user.id, kind, body.model_dump(mode="json"))
    jobs.notify(ctx.app)
    return out


@endpoint(
    "POST",
    "/api/v1/generate/image",
    scope="generate",
    body=m.GenerateImageRequest,
    response=m.GenerateResponse,
    status=202,
    errors=(400, 404),
    idempotent=True,
    summary="Generate an image from a skin + category (queued job)",
)
async def generate_image(ctx: Ctx) -> Any:
    return _queue(ctx, "image")


@endpoint(
    "POST",
    "/api/v1/generate/video",
    scope="generate",
    body=m.GenerateVideoRequest,
    response=m.GenerateResponse,
    status=202,
    errors=(400, 404),
    idempotent=True,
    summary="Generate a video (animated image) from a skin + category (queued job)",
)
async def generate_video(ctx: Ctx) -> Any:
    return _queue(ctx, "video")


@endpoint(
    "GET",
    "/api/v1/generate/jobs/{job_id}",
    scope="generate",
    response=m.GenerationJob,
    errors=(404,),
    summary="Status of a generation job (local extension; owner only)",
)
async def get_job(ctx: Ctx) -> Any:
    row = gen.api.get_job(ctx.db, ctx.user.id, ctx.params["job_id"])
    if row is None:
        raise not_found("generation job", ctx.params["job_id"])
    return gen.job_wire(ctx.db, row)


def _render_missing(settings: Any, media_id: str, meta: dict[str, Any]) -> str | None:
    """Render a lazily-seeded medium in a worker thread; returns its file name."""
    from ..db import connect

    conn = connect(settings.db_path)
    try:
        r = meta.get("render") or {}
        row = conn.execute(
            "SELECT id, name, gender, style, cover_photo_url, data, created_at FROM skins"
            " WHERE id = ?",
            (r.get("skin_id"),),
        ).fetchone()
        skin = skin_for_render(row) if row is not None else {"id": r.get("skin_id"), "name": "?"}
        data, ext = gen.render_for(
            skin, str(r.get("kind", "image")), str(r.get("category")), int(r.get("seed", 0))
        )
        name = gen.write_media_file(settings.media_dir, data, ext, prefix="seed")
        cur = conn.execute(
            "UPDATE media SET file = ? WHERE id = ? AND file IS NULL", (name, media_id)
        )
        if cur.rowcount != 1:  # another request rendered it first
            (settings.media_dir / name).unlink(missing_ok=True)
            got = conn.execute("SELECT file FROM media WHERE id = ?", (media_id,)).fetchone()
            return got[0] if got else None
        return name
    finally:
        conn.close()


async def serve_media(request: Request) -> Response:
    """A file this server rendered; the signed URL stands in for the bearer key."""
    from starlette.responses import FileResponse

    from ..app import run_in_thread

    media_id = request.path_params["media_id"]
    conn = request.app.state.db
    settings = request.app.state.settings
    if not gen.check_sig(conn, media_id, request.query_params.get("sig", "")):
        raise not_found("media", media_id)
    row = conn.execute("SELECT id, file, metadata FROM media WHERE id = ?", (media_id,)).fetchone()
    if row is None:
        raise not_found("media", media_id)
    name = row["file"]
    meta = json.loads(row["metadata"] or "{}")
    if name is None and meta.get("render"):
        name = await run_in_thread(_render_missing, settings, media_id, meta)
    path = gen.media_path(settings.media_dir, name)
    if path is None or not path.is_file():
        raise not_found("media file", media_id)
    ext = path.suffix.lstrip(".")
    return FileResponse(
        path,
        media_type=gen.CONTENT_TYPES.get(ext, "application/octet-stream"),
        headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


routes = [
    generate_image,
    generate_video,
    get_job,
    Route("/api/v1/local/media/{media_id}", serve_media, methods=["GET"]),
]
