"""The job API's view of a job: what /v1, its events and its webhooks show."""

from __future__ import annotations

import json

from bot import texts
from bot.http.job_view import iso_time, job_view
from bot.i18n import ENGLISH
from poller.errors import ErrorCode
from poller.jobs import Job, JobOptions, JobStatus, VideoOutput


def _job(**changes: object) -> Job:
    base = Job(id="j1", user_id=1, chat_id=1, model="veo3_fast", prompt="a fox", created_at=0.0, updated_at=1.5)
    return base.replace(**changes)


def test_a_new_job_is_queued_with_its_options_and_metadata() -> None:
    view = job_view(_job(metadata=json.dumps({"order": 7}), options=JobOptions(duration_s=8)))

    assert view["status"] == "queued"
    assert view["options"]["duration_s"] == 8
    assert view["metadata"] == {"order": 7}
    assert view["created_at"] == "1970-01-01T00:00:00.000Z"
    assert view["updated_at"] == iso_time(1.5) == "1970-01-01T00:00:01.500Z"
    assert view["error"] is None
    assert view["video"] is None


def test_engine_states_map_onto_the_api_states() -> None:
    assert job_view(_job(status=JobStatus.VALIDATING))["status"] == "queued"
    assert job_view(_job(status=JobStatus.DELAYED))["status"] == "running"
    assert job_view(_job(status=JobStatus.DELIVERING))["status"] == "running"


def test_a_failure_shows_the_users_message_never_the_raw_error() -> None:
    view = job_view(_job(status=JobStatus.FAILED, error_code=ErrorCode.MODERATION_REJECTED, error_raw="secret raw"))

    assert view["error"] == {
        "code": "moderation_rejected",
        "message": texts.error_message(ENGLISH, ErrorCode.MODERATION_REJECTED),
    }
    assert "secret raw" not in json.dumps(view)


def test_a_delivered_job_shows_its_video() -> None:
    out = VideoOutput(
        storage_key="videos/j1.mp4", url="https://s3/x", size_bytes=10, duration_s=8.0, width=1280, height=720
    )

    view = job_view(_job(status=JobStatus.SUCCEEDED, output=out))

    assert view["video"] == {"url": "https://s3/x", "duration_s": 8.0, "width": 1280, "height": 720, "size_bytes": 10}


def test_a_telegram_photo_source_is_not_shown_as_an_image_url() -> None:
    assert job_view(_job(options=JobOptions(image_source="telegram:AgAD")))["options"]["image_url"] is None
    assert (
        job_view(_job(options=JobOptions(image_source="https://x/p.png")))["options"]["image_url"] == "https://x/p.png"
    )
