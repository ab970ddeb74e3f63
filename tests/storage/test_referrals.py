"""Invitations: one code per user, linked once (never oneself, never re-linked), the bonus to both exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from storage.credits import RedisCredits
from storage.referrals import LinkOutcome, RedisReferrals

ALICE, BOB, CAROL = 1, 2, 3


@pytest.fixture
def credits(redis_client: aioredis.Redis) -> RedisCredits:
    return RedisCredits(redis_client, initial_balance=0)


@pytest.fixture
def referrals(redis_client: aioredis.Redis, credits: RedisCredits) -> RedisReferrals:
    return RedisReferrals(redis_client, credits)


@pytest.fixture
async def processes(redis_url: str) -> AsyncIterator[list[RedisReferrals]]:
    clients = [aioredis.from_url(redis_url, decode_responses=True) for _ in range(4)]
    yield [RedisReferrals(client, RedisCredits(client, initial_balance=0)) for client in clients]
    for client in clients:
        await client.aclose()


async def test_a_user_keeps_one_code(referrals: RedisReferrals, processes: list[RedisReferrals]) -> None:
    codes = await asyncio.gather(*(process.code_for(ALICE) for process in processes))

    assert len(set(codes)) == 1
    assert await referrals.code_for(ALICE) == codes[0]
    assert await referrals.code_for(BOB) != codes[0]


async def test_a_link_is_made_once_never_to_oneself(referrals: RedisReferrals) -> None:
    alice, carol = await referrals.code_for(ALICE), await referrals.code_for(CAROL)

    assert await referrals.link(ALICE, alice) is LinkOutcome.SELF
    assert await referrals.link(BOB, "nope") is LinkOutcome.UNKNOWN
    assert await referrals.link(BOB, alice) is LinkOutcome.LINKED
    assert await referrals.link(BOB, carol) is LinkOutcome.ALREADY
    assert await referrals.inviter_of(BOB) == ALICE


async def test_the_bonus_goes_to_both_once_however_often_it_is_asked(
    referrals: RedisReferrals, credits: RedisCredits, processes: list[RedisReferrals]
) -> None:
    await referrals.link(BOB, await referrals.code_for(ALICE))

    paid = await asyncio.gather(*(process.reward(BOB, 25) for process in processes for _ in range(3)))

    assert paid.count(True) >= 1
    assert await credits.balance(BOB) == 25
    assert await credits.balance(ALICE) == 25
    assert await referrals.reward(BOB, 25) is False


async def test_no_inviter_or_no_bonus_pays_nothing(referrals: RedisReferrals, credits: RedisCredits) -> None:
    assert await referrals.reward(CAROL, 25) is False
    await referrals.link(BOB, await referrals.code_for(ALICE))
    assert await referrals.reward(BOB, 0) is False
    assert await credits.balance(ALICE) == 0
