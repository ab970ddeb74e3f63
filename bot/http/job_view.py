"""A job as the job API (``/v1``), its Server-Sent Events and its webhooks show it: one view, so a webhook's
``data`` is exactly what ``GET /v1/jobs/{id}`` answers. Errors are the user-facing message, never the provider's raw
error; times are ISO 8601 in UTC."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot import texts
from bot.i18n import ENGLISH  # the API speaks English
from poller.jobs import Job, JobStatus

# Every job starts in one of these states as the API names them; the engine's intermediate ones map onto them.
API_STATUSES: dict[JobStatus, str] = {
    JobStatus.QUEUED: "queued",
    JobStatus.VALIDATING: "queued",
    JobStatus.RUNNING: "running",
    JobStatus.DELAYED: "running",
    JobStatus.DELIVERING: "running",
    JobStatus.SUCCEEDED: "succeeded",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "cancelled",
}


def iso_time(unix_time: float) -> str:
    """``2026-12-07T01:02:03.456Z``."""
    return datetime.fromtimestamp(unix_time, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def metadata_of(job: Job) -> dict[str, Any]:
    """The integrator's metadata object (empty when none was given, or for a job stored unreadable)."""
    if not job.metadata:
        return {}
    try:
        value = json.loads(job.metadata)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def job_view(job: Job) -> dict[str, Any]:
    """``{id, status, model, prompt, options, metadata, created_at, updated_at, attempts, error, video}``."""
    options = job.options
    out = job.output
    error = None
    if job.status is JobStatus.FAILED:
        error = {
            "code": job.error_code.value if job.error_code else "provider_error",
            "message": texts.error_message(ENGLISH, job.error_code),
        }
    return {
        "id": job.id,
        "status": API_STATUSES.get(job.status, job.status.value),
        "model": job.model,
        "prompt": job.prompt,
        "options": {
            "aspect_ratio": options.aspect_ratio.value,
            "duration_s": options.duration_s,
            "resolution": options.resolution,
            "image_url": options.image_source if options.image_source and "://" in options.image_source else None,
        },
        "metadata": metadata_of(job),
        "created_at": iso_time(job.created_at),
        "updated_at": iso_time(job.updated_at),
        "attempts": job.attempts,
        "error": error,
        "video": None
        if out is None or job.status is not JobStatus.SUCCEEDED
        else {
            "url": out.url,
            "duration_s": out.duration_s,
            "width": out.width,
            "height": out.height,
            "size_bytes": out.size_bytes,
        },
    }
