"""RedisSignInAttempts: five wrong tokens within a minute lock an address out for a minute, seen by every client."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from storage.keys import RedisKeys
from storage.redis_support import RedisClient
from storage.sign_in_attempts import RedisSignInAttempts

pytestmark = pytest.mark.integration
KEYS = RedisKeys()


async def test_the_fifth_wrong_token_locks_the_address_and_only_that_one(any_redis: RedisClient) -> None:
    attempts = RedisSignInAttempts(any_redis)

    counts = [await attempts.failed("10.0.0.1") for _ in range(5)]

    assert counts == [1, 2, 3, 4, 5]
    assert await attempts.locked("10.0.0.1")
    assert not await attempts.locked("10.0.0.2")


async def test_four_wrong_tokens_leave_the_address_free(any_redis: RedisClient) -> None:
    attempts = RedisSignInAttempts(any_redis)
    for _ in range(4):
        await attempts.failed("10.0.0.1")

    assert not await attempts.locked("10.0.0.1")


async def test_the_window_starts_at_the_first_wrong_try_and_the_lockout_lasts_a_minute(any_redis: RedisClient) -> None:
    attempts = RedisSignInAttempts(any_redis)
    key = KEYS.console_sign_in_failures("10.0.0.1")
    await attempts.failed("10.0.0.1")
    first_ttl = await any_redis.ttl(key)
    await any_redis.expire(key, 5)  # most of the minute went by
    for _ in range(4):
        await attempts.failed("10.0.0.1")

    assert 55 <= first_ttl <= 60
    assert 55 <= await any_redis.ttl(key) <= 60  # locked for a whole minute from the fifth


async def test_signing_in_forgets_the_wrong_tries(any_redis: RedisClient) -> None:
    attempts = RedisSignInAttempts(any_redis)
    for _ in range(3):
        await attempts.failed("10.0.0.1")

    await attempts.succeeded("10.0.0.1")

    assert await attempts.failed("10.0.0.1") == 1


async def test_another_client_of_the_same_redis_sees_the_lockout(redis_client: aioredis.Redis, redis_url: str) -> None:
    for _ in range(5):
        await RedisSignInAttempts(redis_client).failed("10.0.0.1")
    other = aioredis.from_url(redis_url, decode_responses=True)
    try:
        assert await RedisSignInAttempts(other).locked("10.0.0.1")
    finally:
        await other.aclose()


async def test_an_address_with_a_colon_or_brace_gets_its_own_escaped_key(any_redis: RedisClient) -> None:
    attempts = RedisSignInAttempts(any_redis)
    for _ in range(5):
        await attempts.failed("::1")

    assert await attempts.locked("::1")
    assert not await attempts.locked(":")
    assert await any_redis.exists(KEYS.console_sign_in_failures("::1"))
