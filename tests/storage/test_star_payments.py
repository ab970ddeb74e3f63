"""Star purchases: each payment credited once, each refund taken back once, never below zero unless forced."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from storage.credits import RedisCredits
from storage.star_payments import Purchase, PurchaseState, RedisPurchases, RefundCheck

INITIAL = 10


def _purchase(charge_id: str = "ch-1", user_id: int = 7, credits: int = 100, stars: int = 50) -> Purchase:
    return Purchase(charge_id=charge_id, user_id=user_id, pack_id="p100", stars=stars, credits=credits, at=1.0)


@pytest.fixture
def ledger(redis_client: aioredis.Redis) -> tuple[RedisCredits, RedisPurchases]:
    credits = RedisCredits(redis_client, initial_balance=INITIAL)
    return credits, RedisPurchases(redis_client, credits)


@pytest.fixture
async def processes(redis_url: str) -> AsyncIterator[list[RedisPurchases]]:
    """Four clients with their own pools, standing in for four processes."""
    clients = [aioredis.from_url(redis_url, decode_responses=True) for _ in range(4)]
    yield [RedisPurchases(client, RedisCredits(client, initial_balance=INITIAL)) for client in clients]
    for client in clients:
        await client.aclose()


async def test_a_payment_delivered_twice_is_credited_once(ledger: tuple[RedisCredits, RedisPurchases]) -> None:
    credits, purchases = ledger

    first = await purchases.credit(_purchase())
    again = await purchases.credit(_purchase())

    assert (first.added, first.balance) == (True, INITIAL + 100)
    assert (again.added, again.balance) == (False, INITIAL + 100)
    assert await credits.balance(7) == INITIAL + 100
    assert [p.charge_id for p in await purchases.recent(7)] == ["ch-1"]
    assert await purchases.buyer_of("ch-1") == 7


async def test_concurrent_deliveries_in_several_processes_credit_once(processes: list[RedisPurchases]) -> None:
    outcomes = await asyncio.gather(*(ledger.credit(_purchase()) for ledger in processes for _ in range(5)))

    assert sum(outcome.added for outcome in outcomes) == 1
    assert {outcome.balance for outcome in outcomes} == {INITIAL + 100}


async def test_recent_purchases_are_newest_first(ledger: tuple[RedisCredits, RedisPurchases]) -> None:
    _, purchases = ledger
    for index in range(3):
        await purchases.credit(_purchase(charge_id=f"ch-{index}"))

    assert [p.charge_id for p in await purchases.recent(7, limit=2)] == ["ch-2", "ch-1"]


async def test_a_refund_takes_the_credits_back_once(ledger: tuple[RedisCredits, RedisPurchases]) -> None:
    credits, purchases = ledger
    await purchases.credit(_purchase())

    start = await purchases.start_refund("ch-1")
    assert (start.check, start.user_id, start.credits) == (RefundCheck.READY, 7, 100)
    done = await purchases.take_back(7, "ch-1")
    again = await purchases.take_back(7, "ch-1")

    assert (done.took_now, done.taken, done.balance) == (True, 100, INITIAL)
    assert (again.took_now, again.taken) == (False, 100)
    assert await credits.balance(7) == INITIAL
    assert (await purchases.start_refund("ch-1")).check is RefundCheck.ALREADY_REFUNDED
    refunded = await purchases.purchase(7, "ch-1")
    assert refunded is not None
    assert (refunded.state, refunded.taken_back) == (PurchaseState.REFUNDED, 100)


async def test_spent_credits_need_force_and_the_balance_stops_at_zero(
    ledger: tuple[RedisCredits, RedisPurchases],
) -> None:
    credits, purchases = ledger
    await purchases.credit(_purchase())
    await credits.grant(7, -(INITIAL + 60))  # spent 70 of the 110

    refused = await purchases.start_refund("ch-1")
    assert (refused.check, refused.balance) == (RefundCheck.CREDITS_SPENT, 40)
    assert (await purchases.purchase(7, "ch-1")).state is PurchaseState.CREDITED  # type: ignore[union-attr]

    assert (await purchases.start_refund("ch-1", force=True)).check is RefundCheck.READY
    done = await purchases.take_back(7, "ch-1")

    assert (done.taken, done.balance) == (40, 0)


async def test_a_refund_telegram_refused_changes_nothing(ledger: tuple[RedisCredits, RedisPurchases]) -> None:
    credits, purchases = ledger
    await purchases.credit(_purchase())

    await purchases.start_refund("ch-1")
    await purchases.abort_refund(7, "ch-1")

    assert await credits.balance(7) == INITIAL + 100
    assert (await purchases.purchase(7, "ch-1")).state is PurchaseState.CREDITED  # type: ignore[union-attr]


async def test_an_unknown_charge_cannot_be_refunded(ledger: tuple[RedisCredits, RedisPurchases]) -> None:
    _, purchases = ledger

    assert (await purchases.start_refund("never-paid")).check is RefundCheck.UNKNOWN


async def test_two_admins_refunding_at_once_take_the_credits_back_once(processes: list[RedisPurchases]) -> None:
    await processes[0].credit(_purchase())

    starts = await asyncio.gather(*(ledger.start_refund("ch-1") for ledger in processes))
    assert {start.check for start in starts} == {RefundCheck.READY}
    dones = await asyncio.gather(*(ledger.take_back(7, "ch-1") for ledger in processes))

    assert sum(done.took_now for done in dones) == 1
    assert {done.balance for done in dones} == {INITIAL}
