"""Response shaping: a generation job row (the ``generation_jobs`` view) as a
``models.GenerationJob`` dict."""

from __future__ import annotations

from typing import Any


def get_job(conn: Any, user_id: str, job_id: str) -> Any:
    """The user's generation job row, or None (another user's job is not found)."""
    return conn.execute(
        "SELECT * FROM generation_jobs WHERE id = ? AND user_id = ?", (job_id, user_id)
    ).fetchone()


def job_wire(conn: Any, row: Any) -> dict[str, Any]:
    """A ``models.GenerationJob`` dict for a job row."""
    item = None
    if row["collection_id"]:
        from ..routes.media import get_item

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
