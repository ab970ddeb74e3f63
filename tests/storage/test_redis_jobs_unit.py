"""Fast RedisJobStore checks on fakeredis (its Lua runs through ``lupa``). Races, restarts and
large indexes are proven on the real redis-server in ``test_redis_jobs.py``."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from poller.errors import InvalidTransition, JobNotFound
from poller.jobs import JobOptions, JobStatus, VideoOutput
from poller.schedule import AttemptTiming
from storage.keys import RedisKeys
from storage.redis_jobs import RedisJobStore
from storage.redis_sessions import RedisSessionStore
from tests.storage.factories import make_job, make_session


@pytest.fixture
def store(fake_redis: aioredis.Redis) -> RedisJobStore:
    return RedisJobStore(fake_redis, history_ttl_s=600, user_history=3)


async def test_full_job_round_trips_through_the_hash(store: RedisJobStore) -> None:
    job = make_job(
        status=JobStatus.RUNNING,
        options=JobOptions(duration_s=5, image_url="https://img.example/cat.png"),
        provider="kie_veo",
        provider_task_id="t-1",
        parent_id="parent",
        output=VideoOutput("videos/a.mp4", "https://cdn/a.mp4", 1234, 8.0, 1280, 720),
        transitions={"queued": 1.0, "running": 2.0},
        next_poll_at=99.5,
        cost=3,
    )
    await store.create(job, make_session(job))
    assert await store.get(job.id) == job


async def test_creating_a_terminal_job_skips_active_index_and_sets_ttl(
    store: RedisJobStore, fake_redis: aioredis.Redis
) -> None:
    job = make_job(status=JobStatus.FAILED)
    await store.create(job, make_session(job))

    assert await store.active_job_ids() == []
    assert 0 < await fake_redis.ttl(RedisKeys().job(job.id)) <= 600


async def test_creating_a_delayed_job_indexes_it_as_delayed(store: RedisJobStore) -> None:
    job = make_job(status=JobStatus.DELAYED, transitions={"delayed": 50.0})
    await store.create(job, make_session(job))
    assert await store.delayed_job_ids(until=50.0) == [job.id]
    assert await store.delayed_job_ids(until=49.0) == []


async def test_user_index_is_trimmed_to_the_newest_and_expires(
    store: RedisJobStore, fake_redis: aioredis.Redis
) -> None:
    jobs = [make_job(user_id=1) for _ in range(5)]
    for job in jobs:
        await store.create(job, make_session(job))

    assert await fake_redis.zrevrange(RedisKeys().user_jobs(1), 0, -1) == [j.id for j in jobs[:1:-1]]
    assert 0 < await fake_redis.ttl(RedisKeys().user_jobs(1)) <= 600


async def test_get_of_unknown_job_raises(store: RedisJobStore) -> None:
    with pytest.raises(JobNotFound):
        await store.get("missing")


def test_non_positive_limits_are_refused(fake_redis: aioredis.Redis) -> None:
    with pytest.raises(ValueError, match="positive"):
        RedisJobStore(fake_redis, history_ttl_s=0)


async def test_lua_transition_checks_the_table_and_maintains_indexes(
    store: RedisJobStore, fake_redis: aioredis.Redis
) -> None:
    job = make_job(status=JobStatus.RUNNING)
    await store.create(job, make_session(job))

    with pytest.raises(InvalidTransition):
        await store.transition(job.id, JobStatus.SUCCEEDED)
    delayed = await store.transition(job.id, JobStatus.DELAYED, fields={"late": "1"})
    assert delayed.late
    assert await store.delayed_job_ids() == [job.id]

    done = await store.transition(job.id, JobStatus.FAILED, fields={"error_code": "timeout"})

    assert done.error_code == "timeout"
    assert await store.delayed_job_ids() == []
    assert await store.active_job_ids() == []
    assert 0 < await fake_redis.ttl(RedisKeys().job(job.id)) <= 600
    with pytest.raises(JobNotFound):
        await store.transition("missing", JobStatus.FAILED)


async def test_lua_start_step_claim_release_and_update_fields(store: RedisJobStore) -> None:
    job = make_job(status=JobStatus.RUNNING, owner="me")
    await store.create(job, make_session(job))
    timing = AttemptTiming(interval_s=12.5, backoff=1.0, max_delay_s=900.0, jitter_factor=1.0)

    assert (await store.start_step(job.id, "me", timing)).attempts == 1
    assert await store.claim(job.id, "send") is True
    assert await store.claim(job.id, "send") is False
    await store.release(job.id, "send")
    assert await store.claim(job.id, "send") is True
    await store.update_fields(job.id, {"cost": "4"})
    await store.transition(job.id, JobStatus.CANCELLED)

    assert (await store.start_step(job.id, "me", timing)).attempts == 1  # cancelled: nothing counted
    stored = await store.get(job.id)
    assert (stored.attempts, stored.cost) == (1, 4)


async def test_lua_status_message_is_not_set_on_a_deleted_session(fake_redis: aioredis.Redis) -> None:
    sessions = RedisSessionStore(fake_redis)
    job = make_job()
    await sessions.save(job.id, make_session(job, status_message_id=None))

    await sessions.set_status_message(job.id, 11)
    restored = await sessions.get(job.id)
    await sessions.delete(job.id)
    await sessions.set_status_message(job.id, 12)

    assert restored is not None
    assert restored.status_message_id == 11
    assert await sessions.get(job.id) is None
