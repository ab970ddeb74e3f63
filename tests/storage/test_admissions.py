"""Invite admissions on the real redis-server (and a cluster): for good, and seen by every process."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from storage.admissions import RedisAdmissions
from storage.redis_support import RedisClient

pytestmark = pytest.mark.integration
USER = 42


async def test_an_invite_admits_a_user_in_every_process(redis_url: str) -> None:
    first, second = (aioredis.from_url(redis_url, decode_responses=True) for _ in range(2))
    try:
        here, there = RedisAdmissions(first), RedisAdmissions(second)
        assert not await there.admitted(USER)

        await here.admit(USER)

        assert await there.admitted(USER)
        assert not await there.admitted(USER + 1)
    finally:
        await first.aclose()
        await second.aclose()


async def test_admissions_work_on_one_node_and_on_a_cluster(any_redis: RedisClient) -> None:
    admissions = RedisAdmissions(any_redis)

    await admissions.admit(USER)

    assert await RedisAdmissions(any_redis).admitted(USER)
    assert not await RedisAdmissions(any_redis).admitted(USER + 1)
