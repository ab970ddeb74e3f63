"""The credits ledger: rules on fakeredis and the real redis-server, races on the real server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from poller.ports import Billing
from storage.credits import NoBilling, RedisBilling, RedisCredits, ReserveResult
from tests.storage.factories import make_job

INITIAL = 10
USER = 42


@pytest.fixture(params=["fakeredis", "redis-server"])
def backend(request: pytest.FixtureRequest) -> aioredis.Redis:
    """Each rule test runs on fakeredis (fast, Lua via lupa) and on the real server."""
    name = "fake_redis" if request.param == "fakeredis" else "redis_client"
    client: aioredis.Redis = request.getfixturevalue(name)
    return client


@pytest.fixture
def ledger(backend: aioredis.Redis) -> RedisCredits:
    return RedisCredits(backend, initial_balance=INITIAL)


@pytest.fixture
async def clients(redis_url: str) -> AsyncIterator[list[aioredis.Redis]]:
    """Four independent clients (own connection pools), standing in for four processes."""
    made = [aioredis.from_url(redis_url, decode_responses=True) for _ in range(4)]
    try:
        yield made
    finally:
        for client in made:
            await client.aclose()


def ledgers(clients: list[aioredis.Redis], initial: int = INITIAL) -> list[RedisCredits]:
    return [RedisCredits(c, initial_balance=initial) for c in clients]


# --------------------------------------------------------------------------- rules


async def test_unknown_user_has_the_initial_balance_without_creating_an_account(
    ledger: RedisCredits, backend: aioredis.Redis
) -> None:
    assert await ledger.balance(USER) == INITIAL
    assert await backend.exists(ledger.key(USER)) == 0


async def test_reserve_takes_the_amount_and_records_the_job(ledger: RedisCredits) -> None:
    result = await ledger.reserve(USER, "j1", 3)
    assert result == ReserveResult(ok=True, balance=7, already=False)
    assert await ledger.balance(USER) == 7
    assert await ledger.state(USER, "j1") == "reserved"


async def test_reserve_refuses_more_than_the_balance_and_charges_nothing(ledger: RedisCredits) -> None:
    result = await ledger.reserve(USER, "j1", INITIAL + 1)
    assert result == ReserveResult(ok=False, balance=INITIAL, already=False)
    assert await ledger.balance(USER) == INITIAL
    assert await ledger.state(USER, "j1") is None


async def test_reserve_of_the_whole_balance_is_allowed(ledger: RedisCredits) -> None:
    assert (await ledger.reserve(USER, "j1", INITIAL)).ok
    assert await ledger.balance(USER) == 0
    assert not (await ledger.reserve(USER, "j2", 1)).ok


async def test_retried_reserve_of_the_same_job_never_charges_again(ledger: RedisCredits) -> None:
    await ledger.reserve(USER, "j1", 4)
    again = await ledger.reserve(USER, "j1", 4)
    different_amount = await ledger.reserve(USER, "j1", 9)
    assert again == ReserveResult(ok=True, balance=6, already=True)
    assert different_amount == ReserveResult(ok=True, balance=6, already=True)
    assert await ledger.balance(USER) == 6


async def test_reserve_after_capture_reports_already_and_ok(ledger: RedisCredits) -> None:
    await ledger.reserve(USER, "j1", 4)
    await ledger.capture(USER, "j1")
    assert await ledger.reserve(USER, "j1", 4) == ReserveResult(ok=True, balance=6, already=True)


async def test_reserve_after_refund_is_refused_and_charges_nothing(ledger: RedisCredits) -> None:
    await ledger.reserve(USER, "j1", 4)
    await ledger.refund(USER, "j1")
    assert await ledger.reserve(USER, "j1", 4) == ReserveResult(ok=False, balance=INITIAL, already=True)
    assert await ledger.state(USER, "j1") == "refunded"


async def test_zero_amount_reserve_is_tracked_like_any_other(ledger: RedisCredits) -> None:
    assert await ledger.reserve(USER, "free", 0) == ReserveResult(ok=True, balance=INITIAL)
    assert await ledger.state(USER, "free") == "reserved"
    assert await ledger.refund(USER, "free") is True
    assert await ledger.refund(USER, "free") is False
    assert await ledger.balance(USER) == INITIAL


async def test_negative_or_non_integer_amounts_are_rejected(ledger: RedisCredits) -> None:
    with pytest.raises(ValueError, match="non-negative"):
        await ledger.reserve(USER, "j1", -1)
    with pytest.raises(ValueError, match="non-negative"):
        await ledger.reserve(USER, "j1", True)
    with pytest.raises(ValueError, match="empty job id"):
        await ledger.reserve(USER, "", 1)
    with pytest.raises(ValueError, match="integer"):
        await ledger.grant(USER, 1.5)  # type: ignore[arg-type]
    assert await ledger.balance(USER) == INITIAL


async def test_capture_keeps_the_credits_once(ledger: RedisCredits) -> None:
    await ledger.reserve(USER, "j1", 3)
    assert await ledger.capture(USER, "j1") is True
    assert await ledger.capture(USER, "j1") is False
    assert await ledger.state(USER, "j1") == "captured"
    assert await ledger.balance(USER) == 7


async def test_refund_gives_the_credits_back_once(ledger: RedisCredits) -> None:
    await ledger.reserve(USER, "j1", 3)
    assert await ledger.refund(USER, "j1") is True
    assert await ledger.refund(USER, "j1") is False
    assert await ledger.state(USER, "j1") == "refunded"
    assert await ledger.balance(USER) == INITIAL


async def test_refund_after_capture_is_refused(ledger: RedisCredits) -> None:
    await ledger.reserve(USER, "j1", 3)
    await ledger.capture(USER, "j1")
    assert await ledger.refund(USER, "j1") is False
    assert await ledger.balance(USER) == 7


async def test_capture_after_refund_is_refused_so_a_late_delivery_is_free(ledger: RedisCredits) -> None:
    await ledger.reserve(USER, "j1", 3)
    await ledger.refund(USER, "j1")
    assert await ledger.capture(USER, "j1") is False
    assert await ledger.state(USER, "j1") == "refunded"
    assert await ledger.balance(USER) == INITIAL


async def test_capture_or_refund_of_a_job_never_reserved_does_nothing(
    ledger: RedisCredits, backend: aioredis.Redis
) -> None:
    assert await ledger.capture(USER, "ghost") is False
    assert await ledger.refund(USER, "ghost") is False
    assert await ledger.state(USER, "ghost") is None
    assert await backend.exists(ledger.key(USER)) == 0


async def test_a_job_reserved_by_one_user_cannot_be_settled_under_another(ledger: RedisCredits) -> None:
    await ledger.reserve(USER, "j1", 3)
    assert await ledger.refund(USER + 1, "j1") is False
    assert await ledger.balance(USER + 1) == INITIAL
    assert await ledger.state(USER, "j1") == "reserved"


async def test_grant_adds_to_a_new_account_on_top_of_the_initial_balance(ledger: RedisCredits) -> None:
    assert await ledger.grant(USER, 5) == INITIAL + 5
    assert await ledger.balance(USER) == INITIAL + 5


async def test_negative_grant_corrects_but_never_goes_below_zero(ledger: RedisCredits) -> None:
    assert await ledger.grant(USER, -4) == INITIAL - 4
    assert await ledger.grant(USER, -100) == 0
    assert await ledger.balance(USER) == 0
    assert await ledger.grant(USER, 2) == 2


async def test_reserved_credits_are_not_touched_by_a_negative_grant(ledger: RedisCredits) -> None:
    await ledger.reserve(USER, "j1", 4)
    assert await ledger.grant(USER, -100) == 0
    assert await ledger.refund(USER, "j1") is True
    assert await ledger.balance(USER) == 4


async def test_every_operation_touches_only_the_users_one_hash_tagged_key(
    ledger: RedisCredits, backend: aioredis.Redis
) -> None:
    await ledger.reserve(USER, "j1", 3)
    await ledger.reserve(USER, "j2", 3)
    await ledger.capture(USER, "j1")
    await ledger.refund(USER, "j2")
    await ledger.grant(USER, 1)
    key = ledger.key(USER)
    assert key == "reelay:credits:{u42}"
    assert await backend.keys("*") == [key]
    assert key_slot(key.encode()) == key_slot(b"{u42}")
    assert await backend.hgetall(key) == {"balance": "8", "job:j1": "captured:3", "job:j2": "refunded:3"}


async def test_prefix_separates_ledgers(backend: aioredis.Redis) -> None:
    a = RedisCredits(backend, prefix="a", initial_balance=5)
    b = RedisCredits(backend, prefix="b", initial_balance=5)
    await a.reserve(USER, "j1", 5)
    assert await b.balance(USER) == 5
    assert a.key(USER) == "a:credits:{u42}"


def test_a_client_returning_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="decode_responses"):
        RedisCredits(aioredis.Redis(), initial_balance=1)


# --------------------------------------------------------------------------- billing adapters


async def test_redis_billing_settles_by_the_jobs_user_and_id(ledger: RedisCredits) -> None:
    billing: Billing = RedisBilling(ledger)
    won, lost = make_job(user_id=USER), make_job(user_id=USER)
    await ledger.reserve(USER, won.id, 2)
    await ledger.reserve(USER, lost.id, 3)
    assert await billing.capture(won) is True
    assert await billing.refund(won) is False
    assert await billing.refund(lost) is True
    assert await billing.capture(lost) is False
    assert await ledger.balance(USER) == INITIAL - 2


async def test_no_billing_never_captures_or_refunds_and_writes_nothing(fake_redis: aioredis.Redis) -> None:
    billing: Billing = NoBilling()
    job = make_job()
    assert await billing.capture(job) is False
    assert await billing.refund(job) is False
    assert await fake_redis.keys("*") == []


# --------------------------------------------------------------------------- races (real server)


async def test_twenty_concurrent_refunds_of_one_job_refund_exactly_once(clients: list[aioredis.Redis]) -> None:
    procs = ledgers(clients)
    await procs[0].reserve(USER, "j1", 7)
    results = await asyncio.gather(*(procs[i % len(procs)].refund(USER, "j1") for i in range(20)))
    assert results.count(True) == 1
    assert await procs[0].balance(USER) == INITIAL
    assert await procs[0].state(USER, "j1") == "refunded"


async def test_capture_racing_refund_has_exactly_one_winner(clients: list[aioredis.Redis]) -> None:
    procs = ledgers(clients, initial=1000)
    jobs = [f"j{i}" for i in range(50)]
    for job_id in jobs:
        await procs[0].reserve(USER, job_id, 5)
    for i, job_id in enumerate(jobs):
        captured, refunded = await asyncio.gather(
            procs[i % 4].capture(USER, job_id), procs[(i + 1) % 4].refund(USER, job_id)
        )
        assert captured != refunded, job_id
        assert await procs[0].state(USER, job_id) == ("captured" if captured else "refunded")
    n_captured = sum([await procs[0].state(USER, j) == "captured" for j in jobs])
    assert await procs[0].balance(USER) == 1000 - 5 * n_captured


async def test_fifty_concurrent_reserves_from_a_balance_of_ten_admit_exactly_ten(
    clients: list[aioredis.Redis],
) -> None:
    procs = ledgers(clients)
    results = await asyncio.gather(*(procs[i % 4].reserve(USER, f"j{i}", 1) for i in range(50)))
    assert sum(r.ok for r in results) == 10
    assert all(r.balance >= 0 for r in results)
    assert sorted(r.balance for r in results if r.ok) == list(range(10))
    assert await procs[0].balance(USER) == 0
    states = [await procs[0].state(USER, f"j{i}") for i in range(50)]
    assert states.count("reserved") == 10
    assert states.count(None) == 40


async def test_concurrent_retries_of_one_reserve_charge_once(clients: list[aioredis.Redis]) -> None:
    procs = ledgers(clients)
    results = await asyncio.gather(*(procs[i % 4].reserve(USER, "j1", 3) for i in range(20)))
    assert all(r.ok for r in results)
    assert sum(not r.already for r in results) == 1
    assert await procs[0].balance(USER) == 7


async def test_concurrent_grants_all_count(clients: list[aioredis.Redis]) -> None:
    procs = ledgers(clients)
    await asyncio.gather(*(procs[i % 4].grant(USER, 1) for i in range(40)))
    assert await procs[0].balance(USER) == INITIAL + 40
