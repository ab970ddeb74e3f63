"""The active/delayed indexes kept beside the job hashes: ordering, revisions and healing.

Each test runs on the single redis-server and on the 3-node cluster (where the job's keys and the
indexes sit on different nodes). A crash between the job step and the index step is simulated by
writing what the crash would leave behind.
"""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from structlog.testing import capture_logs

from poller.errors import InvalidTransition, JobNotFound
from poller.jobs import JobStatus
from sandbox.serve import free_port
from storage.job_index import MAY_BECOME_DELAYED, REV_FIELD, JobIndexes, now_ms
from storage.keys import RedisKeys
from storage.redis_jobs import SCAN_BATCH, RedisJobStore
from storage.redis_support import RedisClient
from tests.storage.factories import create_in, make_job, make_session

pytestmark = pytest.mark.integration
KEYS = RedisKeys()
HOUR_MS = 3600 * 1000


async def rev_of(redis: RedisClient, job_id: str) -> int:
    return int(await redis.hget(KEYS.job(job_id), REV_FIELD) or 0)


def test_only_statuses_before_delayed_may_become_delayed() -> None:
    assert {JobStatus.QUEUED, JobStatus.VALIDATING, JobStatus.RUNNING} == MAY_BECOME_DELAYED


async def test_every_transition_raises_the_revision(job_store: RedisJobStore, any_redis: RedisClient) -> None:
    job = await create_in(job_store, JobStatus.VALIDATING)
    seen = [await rev_of(any_redis, job.id)]
    for target in (JobStatus.RUNNING, JobStatus.DELAYED, JobStatus.DELIVERING, JobStatus.FAILED):
        await job_store.transition(job.id, target)
        seen.append(await rev_of(any_redis, job.id))

    assert seen == sorted(set(seen))  # strictly increasing, even within one millisecond
    assert await any_redis.zscore(KEYS.active_jobs(), job.id) is None


async def test_active_index_score_is_the_revision_of_the_last_change(
    job_store: RedisJobStore, any_redis: RedisClient
) -> None:
    job = await create_in(job_store, JobStatus.RUNNING)
    await job_store.transition(job.id, JobStatus.DELAYED)
    assert await any_redis.zscore(KEYS.active_jobs(), job.id) == await rev_of(any_redis, job.id)


async def test_late_delivery_brings_a_failed_job_back_into_the_active_index(job_store: RedisJobStore) -> None:
    job = await create_in(job_store, JobStatus.RUNNING)
    await job_store.transition(job.id, JobStatus.DELAYED)
    await job_store.transition(job.id, JobStatus.FAILED, fields={"error_code": "timeout"})
    assert job.id not in await job_store.active_job_ids()

    late = await job_store.transition(job.id, JobStatus.DELIVERING, fields={"late": "1"})

    assert late.late
    assert await job_store.active_job_ids() == [job.id]
    assert await job_store.delayed_job_ids() == []


async def test_a_late_removal_never_removes_the_entry_of_a_newer_change(
    job_store: RedisJobStore, any_redis: RedisClient
) -> None:
    # Two processes: one failed the job (revision r), then a late delivery re-added it; the first
    # process's index step ("remove, the job is terminal at r") lands last.
    job = await create_in(job_store, JobStatus.RUNNING)
    await job_store.transition(job.id, JobStatus.FAILED)
    failed_rev = await rev_of(any_redis, job.id)
    await job_store.transition(job.id, JobStatus.DELIVERING)

    indexes = JobIndexes(any_redis, KEYS, grace_s=600)
    await indexes.after_change(job.id, JobStatus.FAILED, failed_rev, None)

    assert await job_store.active_job_ids() == [job.id]


async def test_an_add_that_lands_after_the_removal_takes_itself_back(
    job_store: RedisJobStore, any_redis: RedisClient
) -> None:
    # One process moved the job to delayed (revision r), another cancelled it; the first one's
    # index step ("add, the job is delayed at r") lands after the cancel's removal.
    job = await create_in(job_store, JobStatus.RUNNING)
    delayed = await job_store.transition(job.id, JobStatus.DELAYED)
    delayed_rev = await rev_of(any_redis, job.id)
    await job_store.transition(job.id, JobStatus.CANCELLED)

    indexes = JobIndexes(any_redis, KEYS, grace_s=600)
    await indexes.after_change(job.id, JobStatus.DELAYED, delayed_rev, delayed.transitions["delayed"])

    assert await job_store.active_job_ids() == []
    assert await any_redis.zcard(KEYS.delayed_jobs()) == 0


async def test_create_indexes_before_writing_the_hash_so_a_crash_leaves_only_an_id(
    job_store: RedisJobStore, any_redis: RedisClient
) -> None:
    # What a crash right after the first step of create leaves: an index entry, no hash.
    job = make_job()
    indexes = JobIndexes(any_redis, KEYS, grace_s=600)
    assert await indexes.reserve(job.id, now_ms())

    assert await job_store.active_job_ids() == [job.id]
    with pytest.raises(JobNotFound):
        await job_store.get(job.id)


async def test_the_active_ids_come_in_batches_each_id_once(job_store: RedisJobStore, any_redis: RedisClient) -> None:
    ids = [f"job-{i:05d}" for i in range(2 * SCAN_BATCH + 7)]  # three batches of the scan script
    for start in range(0, len(ids), 1000):
        await any_redis.zadd(KEYS.active_jobs(), {job_id: now_ms() for job_id in ids[start : start + 1000]})
    listed = await job_store.active_job_ids()
    assert len(listed) == len(ids)
    assert set(listed) == set(ids)


async def test_heal_drops_an_old_entry_whose_job_is_gone(job_store: RedisJobStore, any_redis: RedisClient) -> None:
    await any_redis.zadd(KEYS.active_jobs(), {"crashed": now_ms() - HOUR_MS})
    await any_redis.zadd(KEYS.delayed_jobs(), {"crashed": time.time() - 3600})

    await job_store.heal_index("crashed")

    assert await job_store.active_job_ids() == []
    assert await any_redis.zcard(KEYS.delayed_jobs()) == 0


async def test_heal_keeps_a_young_entry_whose_create_may_still_be_running(
    job_store: RedisJobStore, any_redis: RedisClient
) -> None:
    job = make_job()
    indexes = JobIndexes(any_redis, KEYS, grace_s=600)
    await indexes.reserve(job.id, now_ms())

    await job_store.heal_index(job.id)
    await job_store.create(job, make_session(job))  # the create that was in flight finishes

    assert await job_store.active_job_ids() == [job.id]


async def test_heal_re_adds_a_delayed_job_missing_from_both_indexes(
    job_store: RedisJobStore, any_redis: RedisClient
) -> None:
    job = await create_in(job_store, JobStatus.RUNNING)
    delayed = await job_store.transition(job.id, JobStatus.DELAYED)
    await any_redis.zrem(KEYS.active_jobs(), job.id)
    await any_redis.zrem(KEYS.delayed_jobs(), job.id)

    await job_store.heal_index(job.id)

    assert await job_store.active_job_ids() == [job.id]
    assert await any_redis.zscore(KEYS.delayed_jobs(), job.id) == delayed.transitions["delayed"]


async def test_heal_removes_a_terminal_job_left_in_both_indexes(
    job_store: RedisJobStore, any_redis: RedisClient
) -> None:
    job = await create_in(job_store, JobStatus.RUNNING)
    await job_store.transition(job.id, JobStatus.DELAYED)
    await job_store.transition(job.id, JobStatus.FAILED)
    # A crash between the job step and the index step of the failure:
    await any_redis.zadd(KEYS.active_jobs(), {job.id: 1})
    await any_redis.zadd(KEYS.delayed_jobs(), {job.id: 1})

    await job_store.heal_index(job.id)

    assert await job_store.active_job_ids() == []
    assert await any_redis.zcard(KEYS.delayed_jobs()) == 0


async def test_heal_is_idempotent_on_a_healthy_job(job_store: RedisJobStore, any_redis: RedisClient) -> None:
    job = await create_in(job_store, JobStatus.RUNNING)
    score = await any_redis.zscore(KEYS.active_jobs(), job.id)

    await job_store.heal_index(job.id)
    await job_store.heal_index(job.id)

    assert await any_redis.zscore(KEYS.active_jobs(), job.id) == score
    assert await any_redis.zcard(KEYS.delayed_jobs()) == 0


async def test_delayed_job_ids_skips_and_heals_entries_of_jobs_no_longer_delayed(
    job_store: RedisJobStore, any_redis: RedisClient
) -> None:
    delayed = await create_in(job_store, JobStatus.RUNNING)
    await job_store.transition(delayed.id, JobStatus.DELAYED)
    moved_on = await create_in(job_store, JobStatus.DELIVERING)
    await any_redis.zadd(KEYS.delayed_jobs(), {moved_on.id: 1, "vanished": 2})  # crash leftovers

    assert await job_store.delayed_job_ids() == [delayed.id]
    assert await any_redis.zrange(KEYS.delayed_jobs(), 0, -1) == [delayed.id]


async def test_refused_duplicate_create_of_an_ended_job_does_not_index_it(
    job_store: RedisJobStore, any_redis: RedisClient
) -> None:
    ended = await create_in(job_store, JobStatus.SUCCEEDED)

    with pytest.raises(InvalidTransition):
        await job_store.create(ended.replace(status=JobStatus.QUEUED), make_session(ended))

    assert await job_store.active_job_ids() == []
    assert (await job_store.get(ended.id)).status is JobStatus.SUCCEEDED


async def test_refused_duplicate_create_keeps_the_running_job_indexed(
    job_store: RedisJobStore, any_redis: RedisClient
) -> None:
    running = await create_in(job_store, JobStatus.RUNNING)
    score = await any_redis.zscore(KEYS.active_jobs(), running.id)

    with pytest.raises(InvalidTransition):
        await job_store.create(running.replace(status=JobStatus.QUEUED), make_session(running))

    assert await any_redis.zscore(KEYS.active_jobs(), running.id) == score


async def test_many_concurrent_changes_leave_indexes_matching_the_jobs(
    job_store: RedisJobStore, any_redis: RedisClient
) -> None:
    jobs = [await create_in(job_store, JobStatus.RUNNING) for _ in range(100)]
    # Every job is raced by a poll (delivering), a sweep (delayed) and a cancel.
    await asyncio.gather(
        *(
            job_store.transition(job.id, target)
            for job in jobs
            for target in (JobStatus.DELIVERING, JobStatus.DELAYED, JobStatus.CANCELLED)
        ),
        return_exceptions=True,
    )

    stored = await job_store.get_many([job.id for job in jobs])
    active = {job.id for job in stored if not job.status.terminal}
    delayed = {job.id for job in stored if job.status is JobStatus.DELAYED}
    assert set(await job_store.active_job_ids()) == active
    assert set(await any_redis.zrange(KEYS.delayed_jobs(), 0, -1)) == delayed


async def test_index_upkeep_that_cannot_reach_redis_is_logged_not_raised() -> None:
    # The job step succeeded elsewhere; the index step finds Redis gone.
    unreachable = aioredis.Redis(port=free_port(), decode_responses=True, retry=Retry(NoBackoff(), 0))
    try:
        indexes = JobIndexes(unreachable, KEYS, grace_s=600)
        with capture_logs() as logs:
            await indexes.after_change("j1", JobStatus.DELIVERING, 5, None)
    finally:
        await unreachable.aclose()
    assert [entry["event"] for entry in logs] == ["job_index.upkeep_failed"]
