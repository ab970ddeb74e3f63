"""What a queue-based provider (fal) adds to the engine: the task's place in the queue on the job and the status
message, "no such task" answers tolerated twice, and a cancel that stops the task at the provider first.

The real engine and job store (on fakeredis) with the outside world faked, as in test_engine.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import redis.asyncio as aioredis

from poller.control import AlreadyFinished, cancel_job
from poller.engine import Engine
from poller.errors import ErrorCode, JobError
from poller.finish import JobFinisher
from poller.jobs import Job, JobStatus
from poller.ports import CancelOutcome, PollResult, Session, TaskRef, TaskState
from poller.worker import POKE
from storage.redis_jobs import RedisJobStore
from tests.poller.fakes import (
    BytesDownloader,
    MemoryBlobStore,
    ProviderLookupOf,
    RecordingBilling,
    RecordingEvents,
    RecordingNotifier,
    ScriptedProvider,
    success,
    wait_until,
)
from tests.poller.test_engine import FAST, build_engine, create_and_adopt

PATIENT = dataclasses.replace(FAST, max_attempts=20)


@dataclass
class PlaceNotifier(RecordingNotifier):
    """Records the queue place each progress notice showed."""

    places: list[int | None] = field(default_factory=list)

    async def job_progress(self, job: Job, session: Session) -> None:
        await super().job_progress(job, session)
        self.places.append(job.queue_position)


@dataclass
class CancellingProvider(ScriptedProvider):
    """A provider that can stop tasks, answering ``outcome``."""

    outcome: CancelOutcome = CancelOutcome.CANCELLED

    async def cancel(self, task: TaskRef) -> CancelOutcome:
        self.cancels.append(task)
        return self.outcome


@dataclass
class QueueRig:
    engine: Engine
    jobs: RedisJobStore
    provider: CancellingProvider
    notifier: PlaceNotifier
    finisher: JobFinisher

    async def new_job(self) -> Job:
        return await create_and_adopt(self.engine, self.jobs, model="fal-ai/veo3/fast", provider="fal")

    async def wait_for(self, job_id: str, status: JobStatus) -> Job:
        async def reached() -> bool:
            return (await self.jobs.get(job_id)).status is status

        for _ in range(500):
            if await reached():
                return await self.jobs.get(job_id)
            await asyncio.sleep(0.01)
        raise AssertionError(f"job {job_id} never reached {status}")


@pytest.fixture
async def rig(fake_redis: aioredis.Redis) -> AsyncIterator[QueueRig]:
    provider, notifier, billing = CancellingProvider(), PlaceNotifier(), RecordingBilling()
    engine, jobs, sessions = build_engine(
        fake_redis, provider, notifier, BytesDownloader(), MemoryBlobStore(), policy=PATIENT, billing=billing
    )
    await engine.start()
    yield QueueRig(engine, jobs, provider, notifier, JobFinisher(sessions=sessions, notifier=notifier, billing=billing))
    await engine.stop()


def queued(place: int) -> PollResult:
    return PollResult(TaskState.PENDING, queue_position=place)


def missing() -> JobError:
    return JobError(ErrorCode.PROVIDER_UNAVAILABLE, "404 NOT_FOUND", task_missing=True)


async def test_the_queue_place_is_shown_only_when_it_changes_and_cleared_once_running(rig: QueueRig) -> None:
    running = PollResult(TaskState.PENDING)
    rig.provider.poll_script.extend([queued(3), queued(3), queued(1), running, running, success()])
    job = await rig.new_job()

    await rig.wait_for(job.id, JobStatus.SUCCEEDED)

    # running (submitted), 3, 1, then the place cleared: the repeated 3 and the second "running" edit nothing.
    assert rig.notifier.places == [None, 3, 1, None]
    assert (await rig.jobs.get(job.id)).queue_position is None


async def test_a_poll_error_keeps_the_place(rig: QueueRig) -> None:
    rig.provider.poll_script.extend([queued(2), JobError(ErrorCode.PROVIDER_UNAVAILABLE, "502"), queued(2), success()])
    job = await rig.new_job()

    await rig.wait_for(job.id, JobStatus.SUCCEEDED)

    assert rig.notifier.places == [None, 2]


async def test_two_missing_task_answers_are_tolerated(rig: QueueRig) -> None:
    rig.provider.poll_script.extend([missing(), missing(), PollResult(TaskState.PENDING), missing(), success()])
    job = await rig.new_job()

    done = await rig.wait_for(job.id, JobStatus.SUCCEEDED)

    assert done.task_misses == 1, "an answer in between restarts the count"


async def test_the_third_missing_task_answer_in_a_row_fails_the_job(rig: QueueRig) -> None:
    rig.provider.poll_script.extend([missing(), missing(), missing(), success()])
    job = await rig.new_job()

    failed = await rig.wait_for(job.id, JobStatus.FAILED)

    assert failed.error_code is ErrorCode.PROVIDER_ERROR
    assert failed.task_misses == 2, "the count lives on the job, so a restart keeps it"
    assert rig.provider.polls == 3


async def test_cancel_stops_the_task_at_the_provider_first(rig: QueueRig) -> None:
    job = await rig.new_job()
    running = await rig.wait_for(job.id, JobStatus.RUNNING)
    events = RecordingEvents()

    cancelled = await cancel_job(
        job.id, jobs=rig.jobs, finisher=rig.finisher, events=events, providers=_lookup(rig.provider)
    )

    assert cancelled.status is JobStatus.CANCELLED
    assert [ref.task_id for ref in rig.provider.cancels] == [running.provider_task_id]


async def test_a_cancel_too_late_delivers_the_video_instead(rig: QueueRig) -> None:
    rig.provider.outcome = CancelOutcome.ALREADY_DONE
    job = await rig.new_job()
    await rig.wait_for(job.id, JobStatus.RUNNING)
    events = RecordingEvents()

    with pytest.raises(AlreadyFinished):
        await cancel_job(job.id, jobs=rig.jobs, finisher=rig.finisher, events=events, providers=_lookup(rig.provider))

    assert (await rig.jobs.get(job.id)).status is JobStatus.RUNNING
    assert (POKE, job.id) in events.published, "its holder is told to poll now"
    rig.provider.poll_script.append(success())
    await rig.wait_for(job.id, JobStatus.SUCCEEDED)
    await wait_until(lambda: bool(rig.notifier.delivered), what="the delivery")


async def test_a_provider_that_cannot_be_asked_still_lets_the_job_be_cancelled(rig: QueueRig) -> None:
    rig.provider.outcome = CancelOutcome.NOT_SUPPORTED
    job = await rig.new_job()
    await rig.wait_for(job.id, JobStatus.RUNNING)

    cancelled = await cancel_job(
        job.id, jobs=rig.jobs, finisher=rig.finisher, events=RecordingEvents(), providers=_lookup(rig.provider)
    )

    assert cancelled.status is JobStatus.CANCELLED


def _lookup(provider: CancellingProvider) -> ProviderLookupOf:
    return ProviderLookupOf(provider)
