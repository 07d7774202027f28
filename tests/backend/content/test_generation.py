"""Generation: job lifecycle, real images, collection, restart recovery, ownership, signed URLs."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from phantom_cli.backend import generation as gen
from phantom_cli.backend.testing import LiveServer
from phantom_cli.client import models as m


def _wait(http: Any, job_id: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = http.get(f"/api/v1/generate/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.02)


@pytest.fixture
def server(tmp_path: Path) -> Any:
    s = LiveServer(tmp_path / "srv", engine="scripted", seed=0).start()
    try:
        yield s
    finally:
        s.stop()


def test_job_goes_queued_running_succeeded(server: LiveServer) -> None:
    server.app.state.job_runner.pause("generation")  # drive the job by hand to see every state
    with server.http() as h:
        r = h.post(
            "/api/v1/generate/image",
            json={"skin_id": "skin_luna_anime", "category": "portrait", "seed": 42},
        )
        assert r.status_code == 202, r.text
        ids = m.GenerateResponse.model_validate(r.json())
        assert (
            m.GenerationJob.model_validate(
                h.get(f"/api/v1/generate/jobs/{ids.job_id}").json()
            ).status
            == "queued"
        )
        conn = server.db()
        try:
            job = gen.claim(conn)
            assert job is not None and job["id"] == ids.job_id
            assert gen.claim(conn) is None  # claimed once only
            running = m.GenerationJob.model_validate(
                h.get(f"/api/v1/generate/jobs/{ids.job_id}").json()
            )
            assert running.status == "running" and running.media is None
            assert gen.process(conn, job, server.settings.media_dir) == "succeeded"
        finally:
            conn.close()
        done = m.GenerationJob.model_validate(h.get(f"/api/v1/generate/jobs/{ids.job_id}").json())
        assert (
            done.status == "succeeded"
            and done.kind == "image"
            and done.generation_id == ids.generation_id
        )
        assert done.media is not None and done.media.relationType == "generated"
        png = h.get(done.media.cdnUrl)
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        img = Image.open(io.BytesIO(png.content))
        img.load()
        assert img.format == "PNG" and img.size == gen.IMAGE_SIZE
        # the result is in the user's collection, filterable by relationType
        col = h.get("/api/v1/media/collection", params={"relationType": "generated"}).json()["data"]
        assert [c["mediaId"] for c in col] == [done.media.mediaId]
        assert col[0]["mediaType"] == "image"


def test_worker_renders_video_as_animation(server: LiveServer) -> None:
    with server.http() as h:
        r = h.post(
            "/api/v1/generate/video", json={"skin_id": "skin_vesk_anime", "category": "action"}
        )
        assert r.status_code == 202
        job = _wait(h, r.json()["job_id"])
        assert job["status"] == "succeeded", job
        assert job["kind"] == "video" and job["media"]["mediaType"] == "video"
        body = h.get(job["media"]["cdnUrl"])
        assert body.headers["content-type"] in ("image/webp", "image/gif")
        img = Image.open(io.BytesIO(body.content))
        assert getattr(img, "n_frames", 1) == gen.VIDEO_FRAMES
        assert img.size == gen.VIDEO_SIZE


def test_validation_and_ownership(server: LiveServer) -> None:
    with server.http() as h:
        r = h.post(
            "/api/v1/generate/image", json={"skin_id": "skin_luna_anime", "category": "bogus"}
        )
        assert r.status_code == 400
        err = r.json()["error"]
        assert err["code"] == "INVALID_REQUEST" and "category" in err["message"]
        assert all(c in err["message"] for c in m.GENERATION_CATEGORIES)
        r = h.post("/api/v1/generate/video", json={"skin_id": "no_such_skin", "category": "scene"})
        assert r.status_code == 404 and "no_such_skin" in r.json()["error"]["message"]
        r = h.post("/api/v1/generate/image", json={"category": "scene"})
        assert r.status_code == 400 and r.json()["error"]["details"][0]["loc"] == [
            "body",
            "skin_id",
        ]
        r = h.post(
            "/api/v1/generate/image",
            json={"skin_id": "skin_luna_anime", "category": "scene", "seed": -1},
        )
        assert r.status_code == 400
        r = h.post(
            "/api/v1/generate/image",
            json={
                "skin_id": "skin_luna_anime",
                "category": "scene",
                "activity_instance_id": "someone-elses",
            },
        )
        assert r.status_code == 404
        mine = h.post(
            "/api/v1/generate/image", json={"skin_id": "skin_theo_anime", "category": "scene"}
        ).json()
    bob = server.make_key(user="bob")
    with server.http(bob) as hb:
        assert hb.get(f"/api/v1/generate/jobs/{mine['job_id']}").status_code == 404
        assert hb.get("/api/v1/generate/jobs/job_nope").status_code == 404
    no_scope = server.make_key(user="carol", scopes=["media"])
    with server.http(no_scope) as hc:
        r = hc.post(
            "/api/v1/generate/image", json={"skin_id": "skin_luna_anime", "category": "scene"}
        )
        assert r.status_code == 403


def test_media_urls_are_signed_and_only_generated_files_are_served(server: LiveServer) -> None:
    with server.http() as h:
        job = _wait(
            h,
            h.post(
                "/api/v1/generate/image", json={"skin_id": "skin_luna_anime", "category": "outfit"}
            ).json()["job_id"],
        )
        url = job["media"]["cdnUrl"]
        mid = job["media"]["mediaId"]
        assert h.get(url).status_code == 200
        assert h.get(url.split("?")[0]).status_code == 404  # no signature
        assert (
            h.get(url[:-1] + ("0" if url[-1] != "0" else "1")).status_code == 404
        )  # wrong signature
        # a signature for one id does not open another
        sig = url.split("sig=")[1]
        assert h.get(f"/api/v1/local/media/med_luna_portrait?sig={sig}").status_code == 404
        # a non-ASCII signature is refused, not a 500
        assert h.get(f"/api/v1/local/media/{mid}", params={"sig": "💥"}).status_code == 404
        # no bearer key needed with a valid signature
    import httpx

    assert httpx.get(server.base_url + url).status_code == 200
    # a media row pointing at a name this server never generates is not served
    conn = server.db()
    try:
        conn.execute("UPDATE media SET file = '../../api_key' WHERE id = ?", (mid,))
        sig = gen.media_sig(conn, mid)
    finally:
        conn.close()
    with server.http() as h:
        assert h.get(f"/api/v1/local/media/{mid}?sig={sig}").status_code == 404


def test_seeded_media_render_on_first_fetch_and_can_be_added(server: LiveServer) -> None:
    with server.http() as h:
        r = h.post(
            "/api/v1/media/collection",
            json={"mediaId": "med_luna_scene", "relationType": "favorited"},
        )
        assert r.status_code == 201, r.text
        url = r.json()["cdnUrl"]
        img = Image.open(io.BytesIO(h.get(url).content))
        assert img.size == gen.IMAGE_SIZE
        assert (
            h.post("/api/v1/media/collection", json={"mediaId": "med_luna_scene"}).status_code
            == 409
        )
        skin = h.get("/api/v1/skins/skin_theo_realistic").json()
        assert h.get(skin["cover_photo_url"]).headers["content-type"] == "image/png"


def test_restart_finishes_queued_and_interrupted_jobs(tmp_path: Path) -> None:
    home = tmp_path / "srv"
    s1 = LiveServer(home, engine="scripted", seed=0).start()
    s1.app.state.job_runner.pause("generation")
    with s1.http() as h:
        queued = h.post(
            "/api/v1/generate/image", json={"skin_id": "skin_luna_anime", "category": "scene"}
        ).json()
        crashed = h.post(
            "/api/v1/generate/video", json={"skin_id": "skin_theo_anime", "category": "selfie"}
        ).json()
    conn = s1.db()
    try:
        job = gen.claim(conn)  # the oldest: "queued" — claim it, then "crash" mid-render
        assert job["id"] == queued["job_id"]
        # a half-written temp file and an orphan rendered file that no media row references
        media_dir = s1.settings.media_dir
        (media_dir / f".gen_{'a' * 32}.png.tmp").write_bytes(b"\x89PNG half")
        (media_dir / f"gen_{'b' * 32}.png").write_bytes(b"\x89PNG orphan")
    finally:
        conn.close()
    s1.stop()
    s2 = LiveServer(home, engine="scripted", seed=0).start()
    try:
        assert not (media_dir / f"gen_{'b' * 32}.png").exists()
        assert not (media_dir / f".gen_{'a' * 32}.png.tmp").exists()
        with s2.http() as h:
            for ids in (queued, crashed):
                job = _wait(h, ids["job_id"])
                assert job["status"] == "succeeded", job
                assert h.get(job["media"]["cdnUrl"]).status_code == 200
            assert _wait(h, queued["job_id"])["attempts"] == 2
            col = h.get("/api/v1/media/collection", params={"relationType": "generated"}).json()[
                "data"
            ]
            assert len(col) == 2
    finally:
        s2.stop()


def test_renderer_is_deterministic_and_differs_per_skin_and_category() -> None:
    luna = {
        "id": "skin_luna_anime",
        "name": "Luna",
        "gender": "female",
        "style": "anime",
        "palette": ["#1b1f4b", "#3b2f63", "#c9d6ff", "#5b6ee1", "#ffd86b"],
    }
    theo = {"id": "skin_theo_realistic", "name": "Theo", "gender": "male", "style": "realistic"}
    a = gen.render_image(luna, "portrait", 1, size=(128, 192))
    assert a == gen.render_image(luna, "portrait", 1, size=(128, 192))
    outs = {
        gen.render_image(s, c, 1, size=(128, 192))
        for s in (luna, theo)
        for c in m.GENERATION_CATEGORIES
    }
    assert len(outs) == 2 * len(m.GENERATION_CATEGORIES)
    # colours come from the skin: the top-left pixel is the skin's sky colour
    px = Image.open(io.BytesIO(a)).convert("RGB").getpixel((0, 0))
    assert px == (0x1B, 0x1F, 0x4B)


def test_job_with_deleted_skin_fails_cleanly(server: LiveServer) -> None:
    server.app.state.job_runner.pause("generation")
    with server.http() as h:
        ids = h.post(
            "/api/v1/generate/image", json={"skin_id": "skin_wren_anime", "category": "scene"}
        ).json()
    conn = server.db()
    try:
        conn.execute("DELETE FROM skins WHERE id = 'skin_wren_anime'")
        job = gen.claim(conn)
        assert gen.process(conn, job, server.settings.media_dir) == "failed"
        row = conn.execute(
            "SELECT status, error FROM generation_jobs WHERE id = ?", (ids["job_id"],)
        ).fetchone()
        assert row["status"] == "failed" and "skin_id" in row["error"]
        assert (
            json.loads(
                conn.execute(
                    "SELECT request FROM generation_jobs WHERE id = ?", (ids["job_id"],)
                ).fetchone()[0]
            )["category"]
            == "scene"
        )
    finally:
        conn.close()


def test_result_is_delivered_to_the_activity_instance(server: LiveServer) -> None:
    with server.http() as h:
        inst = h.post("/api/v1/activity-instances", json={"activity_id": "act_luna"}).json()
        r = h.post(
            "/api/v1/generate/image",
            json={
                "skin_id": "skin_luna_anime",
                "category": "selfie",
                "activity_instance_id": inst["id"],
                "activity_id": "act_luna",
            },
        )
        assert r.status_code == 202, r.text
        job = _wait(h, r.json()["job_id"])
        assert job["status"] == "succeeded"
        msgs = h.get(
            f"/api/v1/activity-instances/{inst['id']}/messages", params={"medium": "image"}
        ).json()["data"]
        assert len(msgs) == 1 and msgs[0]["role"] == "assistant"
        assert msgs[0]["content"] == job["media"]["cdnUrl"]
        assert h.get(msgs[0]["content"]).headers["content-type"] == "image/png"
        # an unpublished activity is refused like a missing one
        r = h.post(
            "/api/v1/generate/image",
            json={
                "skin_id": "skin_luna_anime",
                "category": "selfie",
                "activity_id": "act_clockwork_orchard_draft",
            },
        )
        assert r.status_code == 404


def test_recovery_only_touches_files_it_generates(tmp_path: Path) -> None:
    from phantom_cli.backend import db as dbmod

    conn = dbmod.connect(tmp_path / "t.db")
    dbmod.migrate(conn)
    media = tmp_path / "media"
    media.mkdir()
    mine = gen.write_media_file(media, b"x", "png")
    conn.execute(
        "INSERT INTO media(id, type, url, file, created_at) VALUES ('m1', 'image', '/x', ?, 'now')",
        (mine,),
    )
    orphan = gen.write_media_file(media, b"y", "webp")
    (media / f".gen_{'c' * 32}.gif.tmp").write_bytes(b"half")
    (media / "notes.txt").write_text("someone else's")
    (media / ".hidden.tmp").write_text("someone else's")
    assert gen.recover(conn, media)["orphans_removed"] == 2
    assert sorted(p.name for p in media.iterdir()) == sorted([mine, ".hidden.tmp", "notes.txt"])
    assert orphan not in {p.name for p in media.iterdir()}
    conn.close()


def test_video_can_open_on_the_skin_reference() -> None:
    skin = {"id": "skin_x", "name": "X", "gender": "male", "style": "anime"}
    size = (64, 96)
    ref, _ = gen.render_video(skin, "scene", 3, size=size, frames=3, first_frame="skin_reference")
    own, _ = gen.render_video(skin, "scene", 3, size=size, frames=3)
    portrait = Image.open(io.BytesIO(gen.render_image(skin, "portrait", 0, size=size))).convert(
        "RGB"
    )

    def frame0(data: bytes) -> Image.Image:
        img = Image.open(io.BytesIO(data))
        img.seek(0)
        return img.convert("RGB")

    def diff(a: Image.Image, b: Image.Image) -> float:
        pa, pb = a.tobytes(), b.tobytes()
        return sum(abs(x - y) for x, y in zip(pa, pb, strict=True)) / len(pa)

    assert diff(frame0(ref), portrait) < diff(frame0(own), portrait)
