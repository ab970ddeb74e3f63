"""The engine's rules, with the real Redis job store on fakeredis and the outside world faked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis
from structlog.testing import capture_logs

from poller.control import cancel_job
from poller.delivery import DeliveryPipeline
from poller.engine import Engine
from poller.errors import ErrorCode, InvalidTransition, JobError
from poller.events import JobEvents
from poller.finish import JobFinisher
from poller.jobs import Job, JobStatus, TaskKind, new_job_id
from poller.ports import (
    InputPreparer,
    JobOwnership,
    PollResult,
    PriceList,
    ProviderLookup,
    Session,
    TaskBindings,
    TaskState,
)
from poller.schedule import PollPolicy
from poller.worker import Worker
from providers.registry import ProviderRegistry
from storage.events import RedisEventBus
from storage.leases import RedisLeases
from storage.redis_jobs import RedisJobStore
from storage.redis_sessions import RedisSessionStore
from tests.poller.fakes import (
    VIDEO_BYTES,
    BytesDownloader,
    FixedProbe,
    MemoryBlobStore,
    ProviderLookupOf,
    RecordingBilling,
    RecordingEvents,
    RecordingNotifier,
    ScriptedProvider,
    success,
    wait_until,
)

FAST = PollPolicy(
    interval_s=0.02,
    max_attempts=4,
    jitter=0.0,
    first_poll_s=0.0,
    delayed_interval_s=0.05,
    delayed_deadline_s=30.0,
    submit_attempts=3,
    delivery_attempts=3,
)


@dataclass
class Rig:
    """An engine and everything around it."""

    engine: Engine
    jobs: RedisJobStore
    sessions: RedisSessionStore
    provider: ScriptedProvider
    downloader: BytesDownloader
    blobs: MemoryBlobStore
    notifier: RecordingNotifier
    billing: RecordingBilling
    finisher: JobFinisher

    async def new_job(self, model: str = "veo3_fast", parent_id: str | None = None) -> Job:
        kind = TaskKind.EXTEND if parent_id else TaskKind.GENERATE
        return await create_and_adopt(
            self.engine, self.jobs, model=model, prompt="a fox in snow", parent_id=parent_id, kind=kind
        )

    async def status_of(self, job_id: str) -> JobStatus:
        return (await self.jobs.get(job_id)).status

    async def wait_for_status(self, job_id: str, status: JobStatus, timeout: float = 5.0) -> Job:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (current := await self.status_of(job_id)) is not status:
            if loop.time() > deadline:
                raise AssertionError(f"job {job_id} stayed {current} instead of reaching {status}")
            await asyncio.sleep(0.01)
        return await self.jobs.get(job_id)


PROCESS = "test-process"


def build_engine(
    redis: aioredis.Redis,
    provider: ScriptedProvider,
    notifier: RecordingNotifier,
    downloader: BytesDownloader,
    blobs: MemoryBlobStore,
    policy: PollPolicy = FAST,
    max_in_flight: int = 4,
    billing: RecordingBilling | None = None,
    process_id: str = PROCESS,
    providers: ProviderLookup | None = None,
    tasks: TaskBindings | None = None,
    prices: PriceList | None = None,
    inputs: Callable[[RedisJobStore], InputPreparer] | None = None,
    events: JobEvents | None = None,
) -> tuple[Engine, RedisJobStore, RedisSessionStore]:
    jobs = RedisJobStore(redis)
    sessions = RedisSessionStore(redis)
    billing = billing or RecordingBilling()
    delivery = DeliveryPipeline(
        jobs=jobs,
        sessions=sessions,
        downloader=downloader,
        blobs=blobs,
        probe=FixedProbe(),
        notifier=notifier,
        billing=billing,
        prices=prices,
    )
    engine = Engine(
        process_id=process_id,
        jobs=jobs,
        sessions=sessions,
        providers=providers or ProviderLookupOf(provider),
        tasks=tasks,
        delivery=delivery,
        finisher=JobFinisher(sessions=sessions, notifier=notifier, billing=billing),
        notifier=notifier,
        policy=policy,
        max_polls_in_flight=max_in_flight,
        inputs=inputs(jobs) if inputs is not None else None,
        events=events,
    )
    return engine, jobs, sessions


async def create_and_adopt(engine: Engine, jobs: RedisJobStore, **changes: object) -> Job:
    """Store a job held by the test engine and hand it over, as the worker does after winning the lease."""
    job = Job(id=new_job_id(), user_id=7, chat_id=70, model="veo3", prompt="p", owner=PROCESS).replace(**changes)
    await jobs.create(job, Session(chat_id=70, user_id=7, status_message_id=1))
    engine.adopt(job)
    return job


@pytest.fixture
async def rig(fake_redis: aioredis.Redis) -> AsyncIterator[Rig]:
    provider, notifier, downloader, blobs = (
        ScriptedProvider(),
        RecordingNotifier(),
        BytesDownloader(),
        MemoryBlobStore(),
    )
    billing = RecordingBilling()
    engine, jobs, sessions = build_engine(fake_redis, provider, notifier, downloader, blobs, billing=billing)
    finisher = JobFinisher(sessions=sessions, notifier=notifier, billing=billing)
    await engine.start()
    yield Rig(engine, jobs, sessions, provider, downloader, blobs, notifier, billing, finisher)
    await engine.stop()


async def test_job_is_submitted_polled_and_delivered_once(rig: Rig) -> None:
    rig.provider.poll_script.extend([PollResult(TaskState.PENDING)] * 2 + [success()])
    job = await rig.new_job()

    await rig.wait_for_status(job.id, JobStatus.SUCCEEDED)
    await wait_until(lambda: job.id not in rig.engine.owned, what="the delivery step to finish")
    done = await rig.jobs.get(job.id)

    assert len(rig.provider.submits) == 1
    assert rig.provider.polls == 3
    assert done.provider_task_id == "task-1"
    assert done.attempts == 3
    assert rig.notifier.delivered == [(job.id, VIDEO_BYTES, False)]
    assert rig.blobs.blobs[f"videos/{job.id}.mp4"] == VIDEO_BYTES
    assert done.output is not None
    assert (done.output.width, done.output.height) == (1280, 720)
    assert done.output.size_bytes == len(VIDEO_BYTES)
    assert done.delivered_ref == f"70:1:file-{job.id}"
    assert (job.id, "running") in rig.notifier.progress
    assert await rig.sessions.get(job.id) is None, "the session is cleaned up when the job ends"
    assert rig.billing.captured == [job.id]
    assert rig.billing.refunded == []
    assert set(done.transitions) >= {"validating", "running", "delivering", "succeeded"}


async def test_transient_poll_errors_cost_attempts_but_do_not_end_the_job(rig: Rig) -> None:
    rig.provider.poll_script.extend(
        [
            JobError(ErrorCode.PROVIDER_UNAVAILABLE, "HTTP 502"),
            JobError(ErrorCode.RATE_LIMITED, "429", retry_after=0.01),
            success(),
        ]
    )
    job = await rig.new_job()

    done = await rig.wait_for_status(job.id, JobStatus.SUCCEEDED)

    assert done.attempts == 3
    assert len(rig.notifier.delivered) == 1


async def test_permanent_failure_ends_the_job_at_once_and_tells_the_user_once(rig: Rig) -> None:
    moderation = JobError(ErrorCode.MODERATION_REJECTED, "content policy violation")
    rig.provider.poll_script.extend([PollResult(TaskState.PENDING), PollResult(TaskState.FAILED, error=moderation)])
    job = await rig.new_job()

    failed = await rig.wait_for_status(job.id, JobStatus.FAILED)
    await wait_until(lambda: bool(rig.notifier.ended), what="the failure notice (sent after the transition)")

    assert failed.error_code is ErrorCode.MODERATION_REJECTED
    assert failed.error_raw == "content policy violation"
    assert rig.notifier.ended == [(job.id, "moderation_rejected")]
    assert rig.notifier.delivered == []
    polls_at_failure = rig.provider.polls
    rig.engine.adopt(failed)  # a terminal job is never scheduled again
    assert rig.engine.scheduler.get_job(job.id) is None
    assert rig.provider.polls == polls_at_failure


async def test_a_permanent_poll_error_ends_the_job(rig: Rig) -> None:
    rig.provider.poll_script.append(JobError(ErrorCode.PROVIDER_ERROR, "HTTP 401 unauthorized"))
    job = await rig.new_job()

    failed = await rig.wait_for_status(job.id, JobStatus.FAILED)

    assert failed.error_code is ErrorCode.PROVIDER_ERROR
    assert rig.provider.polls == 1


async def test_attempts_run_out_into_delayed_and_the_sweeper_still_delivers(rig: Rig) -> None:
    rig.provider.poll_script.extend([PollResult(TaskState.PENDING)] * FAST.max_attempts)
    rig.provider.default = PollResult(TaskState.PENDING)
    job = await rig.new_job()

    delayed = await rig.wait_for_status(job.id, JobStatus.DELAYED)
    assert delayed.attempts == FAST.max_attempts
    await wait_until(lambda: (job.id, "delayed") in rig.notifier.progress, what="the delayed notice")
    assert await rig.jobs.delayed_job_ids() == [job.id]

    rig.provider.default = success()
    done = await rig.wait_for_status(job.id, JobStatus.SUCCEEDED)
    assert done.attempts > FAST.max_attempts
    assert len(rig.notifier.delivered) == 1
    assert await rig.jobs.delayed_job_ids() == []


async def test_delayed_job_times_out_at_the_deadline(fake_redis: aioredis.Redis) -> None:
    policy = PollPolicy(
        interval_s=0.01, max_attempts=2, jitter=0, first_poll_s=0, delayed_interval_s=0.05, delayed_deadline_s=0.2
    )
    provider, notifier = ScriptedProvider(), RecordingNotifier()
    engine, jobs, _ = build_engine(fake_redis, provider, notifier, BytesDownloader(), MemoryBlobStore(), policy)
    await engine.start()
    try:
        job = await create_and_adopt(engine, jobs)
        await wait_until(lambda: bool(notifier.ended), what="the timeout notice")
        failed = await jobs.get(job.id)
    finally:
        await engine.stop()

    assert failed.status is JobStatus.FAILED
    assert failed.error_code is ErrorCode.TIMEOUT
    assert notifier.ended == [(job.id, "timeout")]


async def test_a_poll_that_raises_unexpectedly_costs_attempts_and_is_logged_once(fake_redis: aioredis.Redis) -> None:
    policy = PollPolicy(
        interval_s=0.01, max_attempts=3, jitter=0, first_poll_s=0, delayed_interval_s=0.05, delayed_deadline_s=0.3
    )
    provider, notifier = ScriptedProvider(), RecordingNotifier()
    provider.poll_script.extend([RecursionError("maximum recursion depth exceeded")] * 1000)
    engine, jobs, _ = build_engine(fake_redis, provider, notifier, BytesDownloader(), MemoryBlobStore(), policy)
    await engine.start()
    try:
        with capture_logs() as logs:
            job = await create_and_adopt(engine, jobs)
            await wait_until(lambda: bool(notifier.ended), what="the timeout notice")
        failed = await jobs.get(job.id)
    finally:
        await engine.stop()

    assert failed.status is JobStatus.FAILED
    assert failed.error_code is ErrorCode.TIMEOUT, "the attempts ran out, then the delayed deadline passed"
    assert failed.attempts >= policy.max_attempts
    surprises = [e for e in logs if e["event"] == "job.unexpected_error" and e["log_level"] != "debug"]
    assert [(entry["job_id"], entry["error_type"], entry["log_level"]) for entry in surprises] == [
        (job.id, "RecursionError", "error")
    ]
    assert not any(entry.get("exc_info") for entry in logs if entry["log_level"] != "debug"), "no traceback per poll"


async def test_a_delivery_that_raises_unexpectedly_is_bounded_by_its_attempts(rig: Rig) -> None:
    rig.downloader.failures.extend([ZeroDivisionError("a bug")] * FAST.delivery_attempts)
    rig.provider.poll_script.append(success())
    job = await rig.new_job()

    failed = await rig.wait_for_status(job.id, JobStatus.FAILED)

    assert failed.error_code is ErrorCode.DELIVERY_FAILED
    assert rig.downloader.downloads == FAST.delivery_attempts
    assert rig.notifier.delivered == []


async def test_a_submit_that_raises_unexpectedly_fails_once_and_is_never_resent(rig: Rig) -> None:
    rig.provider.submit_script.append(KeyError("taskId"))  # type: ignore[arg-type]
    job = await rig.new_job()

    failed = await rig.wait_for_status(job.id, JobStatus.FAILED)
    await wait_until(lambda: bool(rig.notifier.ended), what="the failure notice")

    assert failed.error_code is ErrorCode.PROVIDER_ERROR, "the request may have left: the outcome is unknown"
    assert len(rig.provider.submits) == 1


async def test_a_model_no_provider_serves_any_more_ends_the_job(fake_redis: aioredis.Redis) -> None:
    provider, notifier = ScriptedProvider(), RecordingNotifier()
    provider.supports = lambda model: False  # type: ignore[method-assign]
    engine, jobs, _ = build_engine(
        fake_redis, provider, notifier, BytesDownloader(), MemoryBlobStore(), providers=ProviderRegistry([provider])
    )
    await engine.start()
    try:
        job = await create_and_adopt(engine, jobs, status=JobStatus.RUNNING, provider_task_id="t-1")
        await wait_until(lambda: bool(notifier.ended), what="the failure notice")
        failed = await jobs.get(job.id)
    finally:
        await engine.stop()

    assert failed.status is JobStatus.FAILED
    assert failed.error_code is ErrorCode.INVALID_INPUT


async def test_a_submitted_task_is_bound_to_its_job(fake_redis: aioredis.Redis) -> None:
    bound: list[tuple[str, str, str]] = []

    class RecordingBindings:
        async def bind(self, provider: str, task_id: str, job_id: str) -> str:
            bound.append((provider, task_id, job_id))
            return job_id

    provider, notifier = ScriptedProvider(), RecordingNotifier()
    engine, jobs, _ = build_engine(
        fake_redis, provider, notifier, BytesDownloader(), MemoryBlobStore(), tasks=RecordingBindings()
    )
    await engine.start()
    try:
        job = await create_and_adopt(engine, jobs, provider="kie_veo")
        await wait_until(lambda: bool(bound), what="the task's binding")
    finally:
        await engine.stop()

    assert bound == [("kie_veo", "task-1", job.id)]


async def test_refused_submit_is_retried_and_succeeds(rig: Rig) -> None:
    rig.provider.submit_script.append(JobError(ErrorCode.RATE_LIMITED, "429", retry_after=0.01))
    rig.provider.poll_script.append(success())
    job = await rig.new_job()

    await rig.wait_for_status(job.id, JobStatus.SUCCEEDED)

    assert len(rig.provider.submits) == 2


async def test_submit_with_unknown_outcome_is_never_repeated(rig: Rig) -> None:
    timeout = JobError(ErrorCode.PROVIDER_UNAVAILABLE, "read timeout", outcome_unknown=True)
    rig.provider.submit_script.append(timeout)
    job = await rig.new_job()

    failed = await rig.wait_for_status(job.id, JobStatus.FAILED)
    await wait_until(lambda: bool(rig.notifier.ended), what="the failure notice (sent after the transition)")

    assert len(rig.provider.submits) == 1
    assert failed.error_code is ErrorCode.PROVIDER_ERROR
    assert rig.notifier.ended == [(job.id, "provider_error")]


async def test_submit_refused_as_invalid_fails_without_retry(rig: Rig) -> None:
    rig.provider.submit_script.append(JobError(ErrorCode.INVALID_INPUT, "prompt must be English"))
    job = await rig.new_job()

    failed = await rig.wait_for_status(job.id, JobStatus.FAILED)

    assert failed.error_code is ErrorCode.INVALID_INPUT
    assert len(rig.provider.submits) == 1


async def test_cancelled_job_is_never_polled_or_delivered(rig: Rig) -> None:
    rig.provider.default = PollResult(TaskState.PENDING)
    job = await rig.new_job()
    await rig.wait_for_status(job.id, JobStatus.RUNNING)
    events = RecordingEvents()

    cancelled = await cancel_job(job.id, jobs=rig.jobs, finisher=rig.finisher, events=events)
    polls = rig.provider.polls
    rig.provider.default = success()
    rig.engine.poll_now(job.id)  # what the published "poke" makes the holder do
    await wait_until(lambda: job.id not in rig.engine.owned, what="the engine to drop the job")

    assert cancelled.status is JobStatus.CANCELLED
    assert events.published == [("poke", job.id)]
    assert await rig.status_of(job.id) is JobStatus.CANCELLED
    assert rig.provider.polls == polls
    assert rig.notifier.delivered == []
    assert rig.notifier.ended == [(job.id, "cancelled")]
    assert rig.billing.refunded == [job.id]
    with pytest.raises(InvalidTransition):
        await cancel_job(job.id, jobs=rig.jobs, finisher=rig.finisher, events=events)
    assert rig.billing.refunded == [job.id]


async def test_failed_download_is_retried_and_uploaded_once(rig: Rig) -> None:
    rig.downloader.failures.append(JobError(ErrorCode.DOWNLOAD_FAILED, "connection reset"))
    rig.provider.poll_script.append(success())
    job = await rig.new_job()

    await rig.wait_for_status(job.id, JobStatus.SUCCEEDED)

    assert rig.downloader.downloads == 2
    assert rig.blobs.writes == 1
    assert len(rig.notifier.delivered) == 1


async def test_definite_send_failure_is_retried_but_an_unknown_one_sends_only_the_link(rig: Rig) -> None:
    rig.notifier.deliver_failures.extend(
        [
            JobError(ErrorCode.DELIVERY_FAILED, "telegram 502"),
            JobError(ErrorCode.DELIVERY_FAILED, "timed out", outcome_unknown=True),
        ]
    )
    rig.provider.poll_script.append(success())
    job = await rig.new_job()

    await rig.wait_for_status(job.id, JobStatus.SUCCEEDED)

    # First failure: certainly not sent, so the claim was released and the video retried.
    # Second: it may have arrived, so the last attempt sends the link, never the video again.
    assert [link_only for _, _, link_only in rig.notifier.delivered] == [True]


async def test_delivery_gives_up_after_its_attempts(rig: Rig) -> None:
    rig.downloader.failures.extend([JobError(ErrorCode.DOWNLOAD_FAILED, "404")] * FAST.delivery_attempts)
    rig.provider.poll_script.append(success())
    job = await rig.new_job()

    failed = await rig.wait_for_status(job.id, JobStatus.FAILED)

    assert failed.error_code is ErrorCode.DOWNLOAD_FAILED
    assert rig.downloader.downloads == FAST.delivery_attempts


async def test_restart_mid_polling_delivers_exactly_once(fake_redis: aioredis.Redis) -> None:
    provider, notifier, downloader, blobs = (
        ScriptedProvider(),
        RecordingNotifier(),
        BytesDownloader(),
        MemoryBlobStore(),
    )
    first, jobs, _ = build_engine(fake_redis, provider, notifier, downloader, blobs)
    await first.start()
    job = await create_and_adopt(first, jobs)
    await wait_until(lambda: provider.polls >= 2, what="two polls")
    await first.stop()
    assert (await jobs.get(job.id)).status is JobStatus.RUNNING

    provider.default = success()
    second, _, _ = build_engine(fake_redis, provider, notifier, downloader, blobs)
    await second.start()
    try:
        second.adopt(await jobs.get(job.id))  # the worker re-acquires the lease after a restart
        await wait_until(lambda: bool(notifier.delivered), what="delivery after the restart")
        await wait_until(lambda: job.id not in second.owned, what="the job to be let go")
    finally:
        await second.stop()

    assert len(notifier.delivered) == 1
    assert len(provider.submits) == 1, "a restart never resubmits"
    assert (await jobs.get(job.id)).status is JobStatus.SUCCEEDED


async def test_interrupted_submit_fails_rather_than_resubmitting(fake_redis: aioredis.Redis) -> None:
    provider, notifier = ScriptedProvider(), RecordingNotifier()
    billing = RecordingBilling()
    engine, jobs, _ = build_engine(
        fake_redis, provider, notifier, BytesDownloader(), MemoryBlobStore(), billing=billing
    )
    job = Job(id=new_job_id(), user_id=7, chat_id=70, model="veo3", prompt="p", owner=PROCESS)
    await jobs.create(job, Session(chat_id=70, user_id=7))
    await jobs.transition(job.id, JobStatus.VALIDATING)  # a process claimed the submit, then died

    await engine.start()
    try:
        engine.adopt(await jobs.get(job.id))
        await wait_until(lambda: bool(notifier.ended), what="the failure notice")
    finally:
        await engine.stop()

    assert provider.submits == []
    assert (await jobs.get(job.id)).error_code is ErrorCode.PROVIDER_ERROR
    assert billing.refunded == [job.id]


async def test_extension_job_uses_the_parent_task(rig: Rig) -> None:
    rig.provider.poll_script.append(success())
    parent = await rig.new_job(model="veo3")
    await rig.wait_for_status(parent.id, JobStatus.SUCCEEDED)

    rig.provider.poll_script.append(success("https://provider.example/ext.mp4"))
    child = await rig.new_job(model="veo3", parent_id=parent.id)
    done = await rig.wait_for_status(child.id, JobStatus.SUCCEEDED)

    assert rig.provider.extends == [("task-1", "a fox in snow")]
    assert done.provider_task_id == "ext-1"
    assert len(rig.notifier.delivered) == 2


async def test_polls_in_flight_never_exceed_the_bound(fake_redis: aioredis.Redis) -> None:
    provider = ScriptedProvider(poll_delay_s=0.05)
    provider.default = PollResult(TaskState.PENDING)
    notifier = RecordingNotifier()
    policy = PollPolicy(interval_s=0.01, max_attempts=3, jitter=0, first_poll_s=0, delayed_interval_s=60)
    engine, jobs, _ = build_engine(
        fake_redis, provider, notifier, BytesDownloader(), MemoryBlobStore(), policy, max_in_flight=3
    )
    await engine.start()
    try:
        for _ in range(20):
            await create_and_adopt(engine, jobs)
        await wait_until(lambda: provider.polls >= 60, timeout=10, what="60 polls")
    finally:
        await engine.stop()

    assert provider.max_in_flight == 3


async def test_stop_lets_a_running_step_finish_its_delivery(fake_redis: aioredis.Redis) -> None:
    provider, notifier = ScriptedProvider(poll_delay_s=0.3, default=success()), RecordingNotifier()
    engine, jobs, _ = build_engine(fake_redis, provider, notifier, BytesDownloader(), MemoryBlobStore())
    await engine.start()
    job = await create_and_adopt(engine, jobs)
    await wait_until(lambda: provider.in_flight == 1, what="a poll in flight")

    await engine.stop()

    assert (await jobs.get(job.id)).status is JobStatus.SUCCEEDED
    assert [link_only for _, _, link_only in notifier.delivered] == [False]


async def new_queued_job(rig: Rig) -> Job:
    job = Job(id=new_job_id(), user_id=7, chat_id=70, model="veo3", prompt="p", status=JobStatus.RUNNING)
    await rig.jobs.create(job.replace(next_poll_at=10**10, provider_task_id="t"), Session(chat_id=70, user_id=7))
    return job


async def test_a_lone_worker_claims_every_new_job_even_past_the_share_of_its_last_scan(
    rig: Rig, fake_redis: aioredis.Redis
) -> None:
    leases = RedisLeases(fake_redis)
    worker = Worker(engine=rig.engine, jobs=rig.jobs, leases=leases, events=RedisEventBus(fake_redis), lease_s=60)
    await leases.heartbeat(PROCESS, 60)
    await new_queued_job(rig)
    assert await worker.scan() == 1  # the scan saw one active job: a share of 1

    claimed = [await worker.claim_new((await new_queued_job(rig)).id) for _ in range(5)]

    assert claimed == [True] * 5
    assert len(rig.engine.owned) == 6


async def test_workers_scanning_at_once_split_the_orphans_evenly_in_one_scan(
    rig: Rig, fake_redis: aioredis.Redis
) -> None:
    # A fleet restart: every job orphaned, two workers scanning at the same moment.
    others = build_engine(
        fake_redis, ScriptedProvider(), RecordingNotifier(), BytesDownloader(), MemoryBlobStore(), process_id="poller-b"
    )[0]
    await others.start()
    leases = RedisLeases(fake_redis)
    workers = [
        Worker(engine=engine, jobs=rig.jobs, leases=leases, events=RedisEventBus(fake_redis), lease_s=60)
        for engine in (rig.engine, others)
    ]
    for worker in workers:
        await leases.heartbeat(worker.process_id, 60)
    jobs = [await new_queued_job(rig) for _ in range(400)]
    try:
        adopted = await asyncio.gather(*(worker.scan() for worker in workers))
        held = [set(worker.engine.owned) for worker in workers]
    finally:
        await others.stop()

    assert sum(adopted) == 400  # none left for a later scan
    assert held[0] | held[1] == {job.id for job in jobs}
    assert not held[0] & held[1]
    assert all(160 <= len(part) <= 240 for part in held)  # each its share of 200, give or take the hash


class CountingLeases(RedisLeases):
    """The real leases, noting which job ids each ownership read asked for."""

    asked: list[list[str]]

    async def ownership(self, job_ids: Sequence[str]) -> list[JobOwnership]:
        self.asked.append(list(job_ids))
        return await super().ownership(job_ids)


async def test_a_scan_reads_only_the_jobs_not_held_here_and_still_counts_them_in_the_share(
    rig: Rig, fake_redis: aioredis.Redis
) -> None:
    leases = CountingLeases(fake_redis)
    leases.asked = []
    worker = Worker(engine=rig.engine, jobs=rig.jobs, leases=leases, events=RedisEventBus(fake_redis), lease_s=60)
    await leases.heartbeat(PROCESS, 60)
    await leases.heartbeat("other-poller", 60)
    held = [await new_queued_job(rig) for _ in range(4)]
    assert await worker.scan() == 2  # four orphans, two live workers: a share of two each
    leases.asked.clear()
    orphan = await new_queued_job(rig)

    held_before = set(rig.engine.owned)

    # 5 active jobs for 2 workers: a share of 3, so room for 1; but half the 3 orphans is the floor.
    assert await worker.scan() == 2

    (asked,) = leases.asked
    assert sorted(asked) == sorted([job.id for job in held if job.id not in held_before] + [orphan.id])
    assert len(rig.engine.owned) == 4
