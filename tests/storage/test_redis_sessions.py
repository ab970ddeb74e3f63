"""RedisSessionStore: the session under a job, on the real redis-server and on fakeredis."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from poller.jobs import JobStatus
from poller.ports import Session
from storage.keys import RedisKeys
from storage.redis_jobs import RedisJobStore
from storage.redis_sessions import RedisSessionStore, session_from_fields, session_to_fields
from storage.redis_support import RedisClient
from tests.storage.factories import create_in, make_job, make_session

KEYS = RedisKeys()


def test_session_fields_round_trip_with_unicode_settings_and_no_message() -> None:
    session = Session(chat_id=-100123, user_id=5, language="uk", settings={"prompt_prefix": "кіт 🐈"})
    assert session_from_fields(session_to_fields(session)) == session


def test_partial_session_hash_reads_as_no_session() -> None:
    assert session_from_fields({"status_message_id": "3"}) is None
    assert session_from_fields({}) is None


@pytest.mark.integration
async def test_session_saved_with_the_job_is_restored(
    job_store: RedisJobStore, session_store: RedisSessionStore
) -> None:
    job = make_job()
    session = make_session(job, settings={"model": "veo3", "duration": "8"})
    await job_store.create(job, session)

    assert await session_store.get(job.id) == session


@pytest.mark.integration
async def test_status_message_is_updated_in_place(job_store: RedisJobStore, session_store: RedisSessionStore) -> None:
    job = make_job()
    await job_store.create(job, make_session(job, status_message_id=None))

    await session_store.set_status_message(job.id, 99)

    restored = await session_store.get(job.id)
    assert restored is not None
    assert restored.status_message_id == 99
    assert restored.settings == make_session(job).settings


@pytest.mark.integration
async def test_delete_removes_the_session_and_a_late_update_does_not_revive_it(
    job_store: RedisJobStore, session_store: RedisSessionStore, any_redis: RedisClient
) -> None:
    job = await create_in(job_store, JobStatus.RUNNING)

    await session_store.delete(job.id)
    await session_store.set_status_message(job.id, 5)

    assert await session_store.get(job.id) is None
    assert await any_redis.exists(KEYS.session(job.id)) == 0
    assert (await job_store.get(job.id)).id == job.id  # the job stays


async def test_save_replaces_the_whole_session(fake_redis: aioredis.Redis) -> None:
    store = RedisSessionStore(fake_redis)
    await store.save("j1", Session(chat_id=1, user_id=2, status_message_id=3, settings={"a": "1"}))

    await store.save("j1", Session(chat_id=1, user_id=2))

    assert await store.get("j1") == Session(chat_id=1, user_id=2)


async def test_sessions_use_the_configured_prefix(fake_redis: aioredis.Redis) -> None:
    await RedisSessionStore(fake_redis, prefix="test").save("j1", Session(chat_id=1, user_id=2))
    assert await fake_redis.keys("*") == ["test:job:{j1}:session"]
