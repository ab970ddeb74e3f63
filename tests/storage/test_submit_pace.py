"""Submit pacing on the real redis-server: a rate per 10 s and slots at once, shared by processes, in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from poller.jobs import Job, JobStatus, TaskKind
from storage.submit_pace import Pace, RedisSubmitPacer

pytestmark = pytest.mark.integration
PACES = {"kie_veo": Pace("kie", "rate", 3), "kie_market": Pace("kie", "rate", 3), "fal": Pace("fal", "slots", 2)}


def job(job_id: str, provider: str = "kie_veo", created_at: float = 1000.0, **changes: object) -> Job:
    return Job(
        id=job_id, user_id=1, chat_id=1, model="m", prompt="p", provider=provider, created_at=created_at
    ).replace(**changes)


@pytest.fixture
async def pacers(redis_url: str) -> AsyncIterator[list[RedisSubmitPacer]]:
    """Two pacers on two clients, standing in for two processes."""
    clients = [aioredis.from_url(redis_url, decode_responses=True) for _ in range(2)]
    try:
        yield [RedisSubmitPacer(client, PACES, jitter_s=0.0) for client in clients]
    finally:
        for client in clients:
            await client.aclose()


async def test_the_rate_is_shared_by_every_process_and_by_both_kie_apis(pacers: list[RedisSubmitPacer]) -> None:
    first, second = pacers
    waits = [
        await first.admit(job("a")),
        await second.admit(job("b", "kie_market", 1001)),
        await first.admit(job("c", created_at=1002)),
        await second.admit(job("d", created_at=1003)),
    ]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert 9.5 < waits[3] <= 10.5, "the fourth waits until the oldest submit leaves the 10 s window (and a margin)"


async def test_waiters_are_admitted_in_the_order_their_jobs_were_created(pacers: list[RedisSubmitPacer]) -> None:
    pacer = pacers[0]
    for name in "abc":
        assert await pacer.admit(job(name)) == 0.0
    late, early = job("late", created_at=2000), job("early", created_at=1500)
    assert await pacer.admit(late) > 0  # asks first, but was created later
    assert await pacer.admit(early) > 0


async def test_a_slot_is_held_until_the_job_ends_and_a_retry_keeps_it(pacers: list[RedisSubmitPacer]) -> None:
    first, second = pacers
    one, two, three = job("f1", "fal"), job("f2", "fal", 1001), job("f3", "fal", 1002)
    assert await first.admit(one) == 0.0
    assert await second.admit(two) == 0.0
    assert await first.admit(three) == pytest.approx(0.5)
    assert await first.admit(one) == 0.0, "a retried submit of a job holding a slot"
    await second.job_ended(one)
    assert await first.admit(three) == 0.0


async def test_a_later_job_does_not_jump_the_line_when_a_slot_frees(pacers: list[RedisSubmitPacer]) -> None:
    pacer = pacers[0]
    assert await pacer.admit(job("f1", "fal")) == 0.0
    assert await pacer.admit(job("f2", "fal", 1001)) == 0.0
    older, newer = job("f3", "fal", 1002), job("f4", "fal", 1003)
    assert await pacer.admit(older) > 0
    assert await pacer.admit(newer) > 0
    await pacer.release(job("f1", "fal"))
    assert await pacer.admit(newer) > 0, "the older waiter is first in line"
    assert await pacer.admit(older) == 0.0


async def test_the_sweep_frees_slots_of_jobs_that_ended_unannounced(pacers: list[RedisSubmitPacer]) -> None:
    pacer = pacers[0]
    await pacer.admit(job("f1", "fal"))
    await pacer.admit(job("f2", "fal", 1001))

    async def statuses(job_ids: object) -> dict[str, JobStatus | None]:
        return {"f1": JobStatus.RUNNING, "f2": None}

    assert await pacer.sweep(statuses) == 1
    assert await pacer.admit(job("f3", "fal", 1002)) == 0.0


async def test_unpaced_providers_and_free_1080p_polls_are_never_held(pacers: list[RedisSubmitPacer]) -> None:
    pacer = pacers[0]
    for index in range(5):
        assert await pacer.admit(job(f"x{index}", "other")) == 0.0
        assert await pacer.admit(job(f"u{index}", kind=TaskKind.UPSCALE_1080P)) == 0.0


async def test_many_processes_at_once_never_pass_the_rate(redis_url: str) -> None:
    clients = [aioredis.from_url(redis_url, decode_responses=True) for _ in range(4)]
    try:
        pacers = [RedisSubmitPacer(client, PACES, jitter_s=0.0) for client in clients]
        waits = await asyncio.gather(*(pacers[i % 4].admit(job(f"j{i}", created_at=1000 + i)) for i in range(40)))
    finally:
        for client in clients:
            await client.aclose()
    assert sum(wait == 0.0 for wait in waits) == 3


async def test_pacing_runs_on_a_redis_cluster(redis_cluster_client: aioredis.RedisCluster) -> None:
    pacer = RedisSubmitPacer(redis_cluster_client, PACES, jitter_s=0.0)
    assert [await pacer.admit(job(f"c{i}", created_at=1000 + i)) == 0.0 for i in range(4)] == [True] * 3 + [False]
    assert await pacer.admit(job("s1", "fal")) == 0.0
    await pacer.job_ended(job("s1", "fal"))
