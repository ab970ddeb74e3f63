"""The core's reports: the fan-out skips listeners that do nothing with a report (the engine's hot path pays for
no empty call), a failing listener never fails the job, and the engine reports ``job_running`` once per job."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from metrics.listener import PrometheusListener
from poller.engine import Engine
from poller.errors import JobError
from poller.events import JobSource, Listeners, NoEvents, PollOutcome, ProviderOperation
from poller.jobs import Job, JobStatus
from poller.ports import PollResult, TaskState
from storage.analytics import AnalyticsListener
from storage.redis_jobs import RedisJobStore
from storage.submit_pace import RedisSubmitPacer
from tests.poller.fakes import BytesDownloader, MemoryBlobStore, RecordingNotifier, ScriptedProvider, success
from tests.poller.test_engine import build_engine, create_and_adopt
from tests.storage.factories import make_job


class Quiet(NoEvents):
    """Hears nothing: every report it gets is NoEvents' no-op."""


class Counting(NoEvents):
    def __init__(self) -> None:
        self.heard: list[str] = []

    async def job_running(self, job: Job) -> None:
        self.heard.append(f"running:{job.id}")

    async def job_published(self, job: Job) -> None:
        self.heard.append(f"published:{job.id}")

    def provider_called(
        self, provider: str, operation: ProviderOperation, seconds: float, error: JobError | None
    ) -> None:
        self.heard.append(f"called:{operation}")

    def polled(self, provider: str, outcome: PollOutcome, seconds: float, error: JobError | None) -> None:
        self.heard.append(f"polled:{outcome}")


class Failing(NoEvents):
    async def job_created(self, job: Job, source: JobSource) -> None:
        raise RuntimeError("listener down")

    async def job_running(self, job: Job) -> None:
        raise RuntimeError("listener down")

    async def job_ended(self, job: Job) -> None:
        raise RuntimeError("listener down")


class Structural:
    """A listener written before job_running and job_published existed (no NoEvents base)."""

    def __init__(self) -> None:
        self.created: list[str] = []

    async def job_created(self, job: Job, source: JobSource) -> None:
        self.created.append(job.id)


def test_the_fan_out_calls_only_the_listeners_that_do_something_with_a_report() -> None:
    counting = Counting()
    listeners = Listeners([Quiet(), counting, Quiet()])

    # Quiet listeners would raise nothing either way; what matters is that none of their methods is in the lists.
    assert [bound.__self__ for bound in listeners._polled] == [counting]
    assert [bound.__self__ for bound in listeners._provider_called] == [counting]
    assert listeners._step_started == ()
    assert listeners._video_stored == ()
    assert listeners._credits_moved == ()


def test_metrics_analytics_and_the_pacer_do_not_hear_the_new_once_per_job_reports() -> None:
    for listener_type in (PrometheusListener, AnalyticsListener, RedisSubmitPacer):
        assert listener_type.job_running is NoEvents.job_running, listener_type
        assert listener_type.job_published is NoEvents.job_published, listener_type


async def test_job_running_and_published_reach_the_listeners_that_hear_them_despite_a_failing_one() -> None:
    counting = Counting()
    structural = Structural()
    listeners = Listeners([Failing(), structural, counting])  # type: ignore[list-item]  # an older listener
    job = make_job()

    await listeners.job_created(job, JobSource.API)
    await listeners.job_running(job)
    await listeners.job_ended(job)
    await listeners.job_published(job)
    listeners.provider_called("kie", ProviderOperation.POLL, 0.1, None)

    assert structural.created == [job.id]
    assert counting.heard == [f"running:{job.id}", f"published:{job.id}", "called:poll"]


@pytest.fixture
async def counted_engine(fake_redis: aioredis.Redis) -> AsyncIterator[tuple[Engine, RedisJobStore, Counting]]:
    counting = Counting()
    provider = ScriptedProvider()
    engine, jobs, _ = build_engine(
        fake_redis, provider, RecordingNotifier(), BytesDownloader(), MemoryBlobStore(), events=Listeners([counting])
    )
    provider.poll_script.extend([PollResult(TaskState.PENDING)] * 2 + [success()])
    await engine.start()
    yield engine, jobs, counting
    await engine.stop()


async def test_the_engine_reports_job_running_once_when_the_provider_accepts_the_task(
    counted_engine: tuple[Engine, RedisJobStore, Counting],
) -> None:
    engine, jobs, counting = counted_engine
    job = await create_and_adopt(engine, jobs)

    for _ in range(500):
        if (await jobs.get(job.id)).status is JobStatus.SUCCEEDED:
            break
        await asyncio.sleep(0.01)

    assert counting.heard.count(f"running:{job.id}") == 1
    assert counting.heard.index(f"running:{job.id}") < counting.heard.index("polled:running")
