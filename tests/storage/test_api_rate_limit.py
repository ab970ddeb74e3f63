"""The per-key request budget: a minute's worth at once, then refusals with a Retry-After, per key, shared."""

from __future__ import annotations

import asyncio
import hashlib
import math

import pytest

from storage.api_rate_limit import ApiRateLimiter
from storage.redis_support import RedisClient

A = hashlib.sha256(b"rk_a").hexdigest()
B = hashlib.sha256(b"rk_b").hexdigest()


async def test_a_minutes_burst_passes_then_the_next_waits_one_interval(fake_redis: RedisClient) -> None:
    limiter = ApiRateLimiter(fake_redis, requests_per_minute=3, prefix="t")

    first = [await limiter.take(A) for _ in range(3)]
    refused = await limiter.take(A)

    assert all(decision.allowed for decision in first)
    assert not refused.allowed
    assert 18 <= refused.retry_after_s <= 20  # one request per 20 s once the burst is spent


async def test_keys_have_separate_budgets(fake_redis: RedisClient) -> None:
    limiter = ApiRateLimiter(fake_redis, requests_per_minute=1, prefix="t")

    assert (await limiter.take(A)).allowed
    assert not (await limiter.take(A)).allowed
    assert (await limiter.take(B)).allowed


@pytest.mark.integration
async def test_processes_share_one_budget_and_it_refills(redis_client: RedisClient) -> None:
    # 600 a minute: one request per 100 ms after the burst.
    one, other = (ApiRateLimiter(redis_client, requests_per_minute=600, prefix="t") for _ in range(2))

    started = asyncio.get_running_loop().time()
    decisions = []
    for _ in range(350):
        decisions += await asyncio.gather(one.take(A), other.take(A))
    refilled = int((asyncio.get_running_loop().time() - started) / 0.1) + 1

    assert 600 <= sum(decision.allowed for decision in decisions) <= 600 + refilled
    refused = [decision for decision in decisions if not decision.allowed]
    assert refused
    assert all(decision.retry_after_s == 1 for decision in refused)
    await asyncio.sleep(0.25)
    assert (await one.take(A)).allowed
    ttl = await redis_client.pttl(f"t:rate:api:{A}")
    assert 0 < ttl <= 60_000 + 100


@pytest.mark.integration
@pytest.mark.parametrize("per_minute", [7, 13, 120])
async def test_rates_that_do_not_divide_a_minute_work(redis_client: RedisClient, per_minute: int) -> None:
    limiter = ApiRateLimiter(redis_client, requests_per_minute=per_minute, prefix="t")

    decisions = [await limiter.take(A) for _ in range(per_minute + 1)]

    assert all(decision.allowed for decision in decisions[:-1])
    assert not decisions[-1].allowed
    assert decisions[-1].retry_after_s == math.ceil(60 / per_minute)
