"""The daily allowance on the real redis-server (and a cluster): atomic across processes, per UTC day."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from storage.daily_quota import RedisDailyQuota
from storage.keys import RedisKeys
from storage.redis_support import RedisClient

pytestmark = pytest.mark.integration
USER = 42
NOON = dt.datetime(2025, 3, 14, 12, 0, tzinfo=dt.UTC).timestamp()
MIDNIGHT = dt.datetime(2025, 3, 15, tzinfo=dt.UTC).timestamp()


@pytest.fixture
async def processes(redis_url: str) -> AsyncIterator[list[RedisDailyQuota]]:
    """Four quotas on four independent clients (own connections), standing in for four bot processes."""
    clients = [aioredis.from_url(redis_url, decode_responses=True) for _ in range(4)]
    try:
        yield [RedisDailyQuota(client) for client in clients]
    finally:
        for client in clients:
            await client.aclose()


async def test_prompts_racing_from_several_processes_never_pass_the_limit_together(
    processes: list[RedisDailyQuota],
) -> None:
    takes = await asyncio.gather(*(processes[i % 4].take(USER, 5, NOON) for i in range(40)))

    assert sum(take.ok for take in takes) == 5
    assert await processes[0].used(USER, NOON) == 5
    assert all(take.resets_at == MIDNIGHT for take in takes)


async def test_the_count_lives_until_an_hour_after_its_utc_day(any_redis: RedisClient) -> None:
    quota = RedisDailyQuota(any_redis)

    take = await quota.take(USER, 3, NOON)

    assert (take.ok, take.used, take.day) == (True, 1, "20250314")
    ttl = await any_redis.ttl(RedisKeys().daily_videos(USER, "20250314"))
    assert MIDNIGHT - NOON + 3600 - 5 <= ttl <= MIDNIGHT - NOON + 3600


async def test_a_give_back_undoes_its_own_day_even_after_midnight(any_redis: RedisClient) -> None:
    quota = RedisDailyQuota(any_redis)
    late = MIDNIGHT - 0.5
    first = await quota.take(USER, 1, late)
    refused = await quota.take(USER, 1, late)

    await quota.give_back(refused)  # a refused take counted nothing: nothing to give back
    assert await quota.used(USER, late) == 1
    await quota.give_back(first)  # the job was not created; it is already the next day now

    assert await quota.used(USER, late) == 0
    assert (await quota.take(USER, 1, late)).ok


async def test_a_new_utc_day_starts_from_zero(any_redis: RedisClient) -> None:
    quota = RedisDailyQuota(any_redis)
    assert (await quota.take(USER, 1, NOON)).ok
    assert not (await quota.take(USER, 1, NOON)).ok

    assert (await quota.take(USER, 1, MIDNIGHT + 1)).ok


async def test_a_give_back_never_goes_below_zero(any_redis: RedisClient) -> None:
    quota = RedisDailyQuota(any_redis)
    take = await quota.take(USER, 2, NOON)
    await quota.give_back(take)
    await quota.give_back(take)

    assert await quota.used(USER, NOON) == 0
