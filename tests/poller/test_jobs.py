"""The job model: the transition table and the flat field mapping stores rely on."""

from __future__ import annotations

import itertools

import pytest

from poller.errors import ErrorCode
from poller.jobs import (
    ACTIVE_STATES,
    AspectRatio,
    Job,
    JobOptions,
    JobStatus,
    RefusedSubmit,
    TaskKind,
    VideoOutput,
    can_transition,
    new_job_id,
    status_of,
)


def test_happy_path_is_allowed_step_by_step() -> None:
    path = [
        JobStatus.QUEUED,
        JobStatus.VALIDATING,
        JobStatus.RUNNING,
        JobStatus.DELAYED,
        JobStatus.DELIVERING,
        JobStatus.SUCCEEDED,
    ]
    assert all(can_transition(a, b) for a, b in itertools.pairwise(path))
    assert can_transition(JobStatus.RUNNING, JobStatus.DELIVERING)


@pytest.mark.parametrize("terminal", [JobStatus.SUCCEEDED, JobStatus.CANCELLED])
def test_nothing_leaves_a_terminal_state(terminal: JobStatus) -> None:
    assert not any(can_transition(terminal, target) for target in JobStatus)


def test_a_failed_job_can_only_be_reopened_for_a_late_delivery() -> None:
    assert [t for t in JobStatus if can_transition(JobStatus.FAILED, t)] == [JobStatus.DELIVERING]


def test_every_active_state_can_fail_but_delivery_cannot_be_cancelled() -> None:
    assert all(can_transition(state, JobStatus.FAILED) for state in ACTIVE_STATES)
    assert not can_transition(JobStatus.DELIVERING, JobStatus.CANCELLED)
    assert can_transition(JobStatus.RUNNING, JobStatus.CANCELLED)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (JobStatus.QUEUED, JobStatus.RUNNING),
        (JobStatus.RUNNING, JobStatus.SUCCEEDED),
        (JobStatus.DELAYED, JobStatus.RUNNING),
        (JobStatus.RUNNING, JobStatus.QUEUED),
    ],
)
def test_skips_and_reversals_are_refused(current: JobStatus, target: JobStatus) -> None:
    assert not can_transition(current, target)


def test_job_round_trips_through_fields() -> None:
    job = Job(
        id=new_job_id(),
        user_id=1,
        chat_id=-100,
        model="veo3",
        prompt="a fox: in snow\nat dawn",
        options=JobOptions(aspect_ratio=AspectRatio.PORTRAIT, duration_s=8, image_url="https://img/x.png"),
        provider="kie_veo",
        provider_task_id="veo_task_1",
        parent_id="parent123",
        status=JobStatus.FAILED,
        attempts=4,
        transitions={"running": 10.5, "failed": 20.25},
        next_poll_at=30.0,
        output=VideoOutput("videos/x.mp4", "https://s3/x.mp4", 99, 8.0, 720, 1280),
        error_code=ErrorCode.TIMEOUT,
        error_raw="no result",
        late=True,
        delivered_ref="1:2:abc",
        published=True,
        result_url="https://provider/x.mp4",
        delivery_attempts=2,
    )

    fields = job.to_fields()

    assert all(isinstance(v, str) for v in fields.values())
    assert Job.from_fields(fields) == job


def test_default_options_round_trip_and_unknown_values_are_refused() -> None:
    job = Job(id="j1", user_id=1, chat_id=1, model="veo3", prompt="p", transitions={"queued": 1.0})
    fields = job.to_fields()
    assert "aspect_ratio" not in fields  # defaults are not stored...
    assert Job.from_fields(fields) == job  # ...and come back as the defaults
    assert Job.from_fields({**fields, "duration_s": "10"}).options == JobOptions(duration_s=10)
    with pytest.raises(ValueError, match="paused"):
        Job.from_fields({**fields, "status": "paused"})
    with pytest.raises(ValueError, match="4:3"):
        Job.from_fields({**fields, "aspect_ratio": "4:3"})
    with pytest.raises(ValueError, match="nope"):
        Job.from_fields({**fields, "error_code": "nope"})


def test_status_of_reads_every_status_and_refuses_others() -> None:
    assert [status_of(status.value) for status in JobStatus] == list(JobStatus)
    with pytest.raises(ValueError, match="paused"):
        status_of("paused")


def test_job_ids_are_short_url_safe_and_unique() -> None:
    ids = {new_job_id() for _ in range(1000)}

    assert len(ids) == 1000
    assert all(len(i) == 11 and i.replace("-", "").replace("_", "").isalnum() for i in ids)


def test_kinds_task_meta_failover_and_frames_round_trip() -> None:
    job = Job(
        id="j1",
        user_id=1,
        chat_id=1,
        model="fal-ai/veo3/fast",
        prompt="p",
        options=JobOptions(image_url="https://s3/in.jpg", last_image_url="https://s3/in2.jpg", resolution="1080p"),
        parent_id="p1",
        kind=TaskKind.UPSCALE_4K,
        task_meta={"status_url": "https://queue.fal.run/fal-ai/veo3/requests/r1/status"},
        requested_model="veo3_fast",
        refused_submits=(RefusedSubmit("veo3_fast", "kie_veo", "provider_unavailable", "HTTP 455", 12.5),),
    )
    assert Job.from_fields(job.to_fields()) == job


def test_a_child_job_stored_before_kinds_existed_is_an_extension() -> None:
    fields = Job(id="j1", user_id=1, chat_id=1, model="veo3", prompt="p").to_fields()
    assert Job.from_fields(fields).kind is TaskKind.GENERATE
    assert "kind" not in fields
    fields["parent_id"] = "p1"
    assert Job.from_fields(fields).kind is TaskKind.EXTEND


def test_unreadable_task_meta_and_failover_records_are_dropped_not_fatal() -> None:
    fields = Job(id="j1", user_id=1, chat_id=1, model="veo3", prompt="p").to_fields()
    fields.update(task_meta="{not json", refused_submits='[{"model": "x"}, 3]')
    job = Job.from_fields(fields)
    assert (job.task_meta, job.refused_submits) == ({}, ())
