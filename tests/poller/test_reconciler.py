"""Late success after a timeout: delivered once, marked late, never charged again."""

from __future__ import annotations

from typing import NamedTuple

import pytest
import redis.asyncio as aioredis

from poller.delivery import DeliveryPipeline
from poller.engine import Engine
from poller.errors import ErrorCode
from poller.finish import JobFinisher
from poller.jobs import Job, JobStatus, new_job_id
from poller.ports import PollResult, Session, TaskState
from poller.reconciler import LateReconciler
from poller.schedule import PollPolicy
from storage.redis_jobs import RedisJobStore
from storage.redis_sessions import RedisSessionStore
from tests.poller.fakes import (
    BytesDownloader,
    FixedProbe,
    MemoryBlobStore,
    MemoryLateChecks,
    ProviderLookupOf,
    RecordingBilling,
    RecordingNotifier,
    ScriptedProvider,
    success,
    wait_until,
)

PROCESS = "reconciler-test"
POLICY = PollPolicy(
    interval_s=0.01, max_attempts=2, jitter=0, first_poll_s=0, delayed_interval_s=0.02, delayed_deadline_s=0.05
)


class Parts(NamedTuple):
    engine: Engine
    jobs: RedisJobStore
    reconciler: LateReconciler
    checks: MemoryLateChecks
    notifier: RecordingNotifier
    billing: RecordingBilling
    provider: ScriptedProvider


@pytest.fixture
def parts(fake_redis: aioredis.Redis) -> Parts:
    jobs, sessions = RedisJobStore(fake_redis), RedisSessionStore(fake_redis)
    provider, notifier, billing, checks = (
        ScriptedProvider(),
        RecordingNotifier(),
        RecordingBilling(),
        MemoryLateChecks(),
    )
    delivery = DeliveryPipeline(
        jobs=jobs,
        sessions=sessions,
        downloader=BytesDownloader(),
        blobs=MemoryBlobStore(),
        probe=FixedProbe(),
        notifier=notifier,
        billing=billing,
    )
    finisher = JobFinisher(
        sessions=sessions, notifier=notifier, billing=billing, late_checks=checks, late_check_delays_s=(0.0, 0.0, 0.0)
    )
    engine = Engine(
        process_id=PROCESS,
        jobs=jobs,
        sessions=sessions,
        providers=ProviderLookupOf(provider),
        delivery=delivery,
        finisher=finisher,
        notifier=notifier,
        policy=POLICY,
        max_polls_in_flight=2,
    )
    reconciler = LateReconciler(engine=engine, jobs=jobs, checks=checks, delays_s=(0.0, 0.0, 0.0))
    return Parts(engine, jobs, reconciler, checks, notifier, billing, provider)


async def timed_out_job(engine: Engine, jobs: RedisJobStore, notifier: RecordingNotifier) -> Job:
    job = Job(id=new_job_id(), user_id=7, chat_id=70, model="veo3", prompt="p", owner=PROCESS)
    await jobs.create(job, Session(chat_id=70, user_id=7))
    engine.adopt(job)
    await wait_until(lambda: bool(notifier.ended), what="the timeout")
    failed = await jobs.get(job.id)
    assert failed.error_code is ErrorCode.TIMEOUT
    return failed


async def test_video_that_turns_up_after_the_timeout_is_delivered_late_and_not_charged(parts: Parts) -> None:
    engine, jobs, reconciler, checks, notifier, billing, provider = parts
    await engine.start()
    try:
        job = await timed_out_job(engine, jobs, notifier)
        assert billing.refunded == [job.id]
        assert job.id in checks.due_at

        provider.default = success()
        assert await reconciler.run_due() == 1
        await wait_until(lambda: bool(notifier.delivered), what="the late delivery")
        await wait_until(lambda: job.id not in engine.owned, what="the job to end")
        done = await jobs.get(job.id)
    finally:
        await engine.stop()

    assert done.status is JobStatus.SUCCEEDED
    assert done.late is True
    assert len(notifier.delivered) == 1
    assert billing.captured == [], "the refund given at the timeout stands"
    assert await reconciler.run_due() == 0


async def test_late_checks_stop_after_the_last_delay(parts: Parts) -> None:
    engine, jobs, reconciler, _, notifier, _, provider = parts
    await engine.start()
    try:
        job = await timed_out_job(engine, jobs, notifier)
        provider.default = PollResult(TaskState.PENDING)
        runs = [await reconciler.run_due() for _ in range(5)]
    finally:
        await engine.stop()

    assert runs == [1, 1, 1, 0, 0]
    assert (await jobs.get(job.id)).late_checks == 3
    assert (await jobs.get(job.id)).status is JobStatus.FAILED
    assert notifier.delivered == []


async def test_a_check_claimed_by_a_process_that_died_comes_due_again(parts: Parts) -> None:
    engine, jobs, reconciler, checks, notifier, _, provider = parts
    await engine.start()
    try:
        job = await timed_out_job(engine, jobs, notifier)
        assert await checks.claim_due(job.id, 0.0)  # another process claimed the check, then died

        provider.default = success()
        assert await reconciler.run_due() == 1
        await wait_until(lambda: bool(notifier.delivered), what="the late delivery")
    finally:
        await engine.stop()

    assert job.id not in checks.due_at, "a finished check is removed"
