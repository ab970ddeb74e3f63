"""The jobs-by-status counts, the ended-jobs outbox and the analytics, on a real redis-server and a real cluster."""

from __future__ import annotations

import asyncio
import time

import pytest

from poller.errors import ErrorCode
from poller.jobs import JobStatus
from storage.analytics import GENERATION_BUCKETS_S, SEEN_TTL_S, RedisAnalytics, percentile_from_buckets
from storage.keys import RedisKeys, hour_of
from storage.redis_jobs import RedisJobStore
from storage.redis_support import RedisClient
from tests.storage.factories import make_job, make_session

pytestmark = pytest.mark.integration
KEYS = RedisKeys()
ACTIVE = [status for status in JobStatus if not status.terminal]


async def run_to(store: RedisJobStore, job_id: str, *path: JobStatus, **fields: str) -> None:
    for status in path:
        await store.transition(job_id, status, fields=fields if status.terminal else None)


async def test_counts_follow_every_change_and_ended_jobs_enter_the_outbox(job_store: RedisJobStore) -> None:
    jobs = [make_job() for _ in range(4)]
    for job in jobs:
        await job_store.create(job, make_session(job))
    a, b, c, d = (job.id for job in jobs)
    await run_to(job_store, a, JobStatus.VALIDATING, JobStatus.RUNNING)
    await run_to(job_store, b, JobStatus.VALIDATING, JobStatus.RUNNING, JobStatus.DELAYED)
    await run_to(job_store, c, JobStatus.VALIDATING, JobStatus.RUNNING, JobStatus.DELIVERING, JobStatus.SUCCEEDED)
    await run_to(job_store, d, JobStatus.CANCELLED, error_code=ErrorCode.CANCELLED.value)

    counts = await job_store.active_counts()

    assert counts == {
        JobStatus.QUEUED: 0,
        JobStatus.VALIDATING: 0,
        JobStatus.RUNNING: 1,
        JobStatus.DELAYED: 1,
        JobStatus.DELIVERING: 0,
    }
    ended = await job_store._redis.zrange(KEYS.ended_jobs(), 0, -1)
    assert sorted(ended) == sorted([c, d])


async def test_a_repeated_or_late_index_step_does_not_count_twice_on_a_cluster(
    redis_cluster_client: RedisClient,
) -> None:
    store = RedisJobStore(redis_cluster_client, history_ttl_s=3600)
    job = make_job()
    await store.create(job, make_session(job))
    await run_to(store, job.id, JobStatus.VALIDATING, JobStatus.RUNNING)
    for _ in range(3):  # heal repeats the step the change already made
        await store.heal_index(job.id)

    counts = await store.active_counts()

    assert counts[JobStatus.RUNNING] == 1
    assert sum(counts.values()) == 1


async def test_counts_are_taken_once_after_an_upgrade_that_kept_none(job_store: RedisJobStore) -> None:
    jobs = [make_job() for _ in range(3)]
    for job in jobs:
        await job_store.create(job, make_session(job))
    await run_to(job_store, jobs[0].id, JobStatus.VALIDATING, JobStatus.RUNNING)
    await job_store._redis.delete(KEYS.job_counts())  # as a release without counts left it

    assert await job_store.ensure_counts() is True
    assert await job_store.ensure_counts() is False
    counts = await job_store.active_counts()
    assert (counts[JobStatus.QUEUED], counts[JobStatus.RUNNING]) == (2, 1)
    await run_to(job_store, jobs[0].id, JobStatus.DELIVERING)  # later changes carry on from the recount
    counts = await job_store.active_counts()
    assert (counts[JobStatus.RUNNING], counts[JobStatus.DELIVERING]) == (0, 1)


async def ended_job(store: RedisJobStore, *, status: JobStatus, **changes: object) -> str:
    job = make_job(model="veo3_fast", **changes)
    await store.create(job, make_session(job))
    await run_to(store, job.id, JobStatus.VALIDATING, JobStatus.RUNNING)
    if status is JobStatus.SUCCEEDED:
        await run_to(store, job.id, JobStatus.DELIVERING, JobStatus.SUCCEEDED)
    elif status is JobStatus.FAILED:
        await run_to(store, job.id, JobStatus.FAILED, error_code=ErrorCode.PROVIDER_ERROR.value)
    else:
        await run_to(store, job.id, JobStatus.CANCELLED, error_code=ErrorCode.CANCELLED.value)
    return job.id


async def test_a_job_recorded_by_two_processes_at_once_counts_once(job_store: RedisJobStore) -> None:
    analytics = RedisAnalytics(job_store._redis, retention_days=7)
    job = await job_store.get(await ended_job(job_store, status=JobStatus.SUCCEEDED))

    first, second, third = await asyncio.gather(analytics.record(job), analytics.record(job), analytics.record(job))
    summary = await analytics.summary(time.time() - 3600)

    assert sorted([first, second, third]) == [False, False, True]
    [model] = summary.models
    assert (model.jobs, model.succeeded) == (1, 1)
    assert await job_store._redis.zscore(KEYS.ended_jobs(), job.id) is None, "recorded jobs leave the outbox"


async def test_the_summary_counts_statuses_errors_attempts_and_cost(job_store: RedisJobStore) -> None:
    analytics = RedisAnalytics(job_store._redis, retention_days=7, price_of=lambda model, seconds, kind: 10)
    for status in (JobStatus.SUCCEEDED, JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED):
        await analytics.record(await job_store.get(await ended_job(job_store, status=status)))

    summary = await analytics.summary(time.time() - 3600)

    [veo] = summary.models
    as_json = veo.as_json()
    assert (as_json["jobs"], as_json["succeeded"], as_json["failed"], as_json["cancelled"]) == (4, 2, 1, 1)
    assert as_json["success_rate"] == 0.5
    assert as_json["errors"] == {"provider_error": 1}
    assert as_json["cost_per_video"] == 10.0  # no cost reported: the configured price
    assert as_json["generation_p50_s"] is not None
    assert summary.totals.jobs == 4


async def test_a_job_left_in_the_outbox_by_a_stopped_process_is_recorded_by_the_sweep(
    job_store: RedisJobStore,
) -> None:
    analytics = RedisAnalytics(job_store._redis, retention_days=7)
    job_id = await ended_job(job_store, status=JobStatus.FAILED)  # nobody recorded it: the process stopped

    assert await analytics.sweep(job_store, older_than_s=0) == 1
    assert await analytics.sweep(job_store, older_than_s=0) == 0
    summary = await analytics.summary(time.time() - 3600)
    assert summary.totals.failed == 1
    assert await job_store._redis.zscore(KEYS.ended_jobs(), job_id) is None


async def test_the_hour_keys_expire_after_the_retention_and_the_seen_sets_after_a_week(
    single_job_store: RedisJobStore,
) -> None:
    redis = single_job_store._redis
    analytics = RedisAnalytics(redis, retention_days=3)
    job = await single_job_store.get(await ended_job(single_job_store, status=JobStatus.SUCCEEDED))
    await analytics.record(job)

    hour = hour_of(job.updated_at)
    assert 3 * 86400 - 5 <= await redis.ttl(KEYS.stats(job.model, hour)) <= 3 * 86400
    assert SEEN_TTL_S - 5 <= await redis.ttl(KEYS.stats_seen(job.model, hour)) <= SEEN_TTL_S


async def test_a_late_delivery_after_a_timeout_is_not_a_second_job(job_store: RedisJobStore) -> None:
    analytics = RedisAnalytics(job_store._redis, retention_days=7)
    job = make_job()
    await job_store.create(job, make_session(job))
    await run_to(job_store, job.id, JobStatus.VALIDATING, JobStatus.RUNNING)
    await run_to(job_store, job.id, JobStatus.FAILED, error_code=ErrorCode.TIMEOUT.value)
    await analytics.record(await job_store.get(job.id))
    await job_store.transition(job.id, JobStatus.DELIVERING, fields={"late": "1"})
    await job_store.transition(job.id, JobStatus.SUCCEEDED)
    await analytics.record(await job_store.get(job.id))

    totals = (await analytics.summary(time.time() - 3600)).totals

    assert (totals.jobs, totals.failed, totals.succeeded, totals.late_delivered) == (1, 1, 0, 1)


def test_percentiles_interpolate_within_the_bucket() -> None:
    buckets = [0] * (len(GENERATION_BUCKETS_S) + 1)
    buckets[4] = 10  # ten jobs between 45 and 60 s
    assert percentile_from_buckets(buckets, 0.5) == pytest.approx(52.5)
    assert percentile_from_buckets(buckets, 1.0) == pytest.approx(60.0)
    assert percentile_from_buckets([0] * len(buckets), 0.5) is None
