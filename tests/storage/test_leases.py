"""RedisLeases: heartbeats, compare-and-set adoption, release and batched ownership reads.

On the single redis-server and on the 3-node cluster. Heartbeat expiry is proven with the key's
own TTL (PX) or by deleting the key, never by waiting for it.
"""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis

from poller.jobs import JobStatus
from poller.ports import JobOwnership, Leases, ProcessReport
from storage.keys import RedisKeys
from storage.leases import RedisLeases, report_from_value
from storage.redis_jobs import RedisJobStore
from storage.redis_support import RedisClient
from tests.storage.factories import create_in, make_job, make_session

pytestmark = pytest.mark.integration
KEYS = RedisKeys()


@pytest.fixture
def leases(any_redis: RedisClient) -> RedisLeases:
    return RedisLeases(any_redis, batch_size=100)


def test_redis_leases_implements_the_port(leases: RedisLeases) -> None:
    port: Leases = leases
    assert port is leases


async def test_heartbeat_makes_a_process_live_until_it_retires(leases: RedisLeases) -> None:
    await leases.heartbeat("p1", ttl_s=30)
    await leases.heartbeat("p2", ttl_s=30)
    assert await leases.live_processes() == ["p1", "p2"]

    await leases.retire("p1")

    assert await leases.live_processes() == ["p2"]


async def test_processes_show_what_each_heartbeat_reported(leases: RedisLeases) -> None:
    report = ProcessReport(held_jobs=12, role="poller", version="0.3.0", started_at=1_700_000_000.5)
    await leases.heartbeat("p1", ttl_s=30, report=report)
    await leases.heartbeat("p2", ttl_s=30)

    p1, p2 = await leases.processes()

    assert (p1.process_id, p1.report) == ("p1", report)
    assert (p2.process_id, p2.report) == ("p2", ProcessReport())
    assert time.time() < p1.expires_at <= time.time() + 30


async def test_a_heartbeat_written_before_reports_existed_still_reads(
    leases: RedisLeases, any_redis: RedisClient
) -> None:
    await leases.heartbeat("old", ttl_s=30)
    expires_ms = int((time.time() + 30) * 1000)
    await any_redis.set(KEYS.process("old"), str(expires_ms), px=30_000)  # what 0.2.0 wrote: the bare expiry

    (old,) = await leases.processes()

    assert old.report == ProcessReport()
    assert old.expires_at == expires_ms / 1000
    assert await leases.live_processes() == ["old"]


def test_an_unreadable_heartbeat_value_is_an_empty_report() -> None:
    assert report_from_value("garbage") == (0, ProcessReport())
    assert report_from_value('{"held": "many", "expires": 5}') == (5, ProcessReport())


async def test_a_lapsed_process_is_not_among_the_processes(leases: RedisLeases, any_redis: RedisClient) -> None:
    await leases.heartbeat("dead", ttl_s=30, report=ProcessReport(held_jobs=3))
    await any_redis.delete(KEYS.process("dead"))

    assert await leases.processes() == []


async def test_heartbeat_key_carries_the_ttl_on_the_redis_clock(leases: RedisLeases, any_redis: RedisClient) -> None:
    await leases.heartbeat("p1", ttl_s=2.5)
    assert 0 < await any_redis.pttl(KEYS.process("p1")) <= 2500


async def test_a_process_whose_heartbeat_key_expired_is_not_live(leases: RedisLeases, any_redis: RedisClient) -> None:
    await leases.heartbeat("dead", ttl_s=30)
    await leases.heartbeat("alive", ttl_s=30)
    await any_redis.delete(KEYS.process("dead"))  # what the key's TTL does when "dead" stops renewing

    assert await leases.live_processes() == ["alive"]


async def test_long_dead_processes_are_pruned_from_the_zset(leases: RedisLeases, any_redis: RedisClient) -> None:
    await any_redis.zadd(KEYS.processes(), {"ancient": 1000})
    await leases.heartbeat("p1", ttl_s=30)
    assert await any_redis.zrange(KEYS.processes(), 0, -1) == ["p1"]


async def test_acquire_takes_an_unowned_active_job_and_sets_the_owner(
    leases: RedisLeases, job_store: RedisJobStore
) -> None:
    job = await create_in(job_store, JobStatus.RUNNING)
    assert await leases.acquire(job.id, "p1", expected_owner="") is True
    assert (await job_store.get(job.id)).owner == "p1"


async def test_acquire_refuses_when_the_owner_is_not_the_expected_one(
    leases: RedisLeases, job_store: RedisJobStore
) -> None:
    job = await create_in(job_store, JobStatus.RUNNING, owner="p1")
    assert await leases.acquire(job.id, "p2", expected_owner="") is False
    assert await leases.acquire(job.id, "p2", expected_owner="p3") is False
    assert (await job_store.get(job.id)).owner == "p1"


@pytest.mark.parametrize("status", [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED])
async def test_acquire_refuses_an_ended_job(leases: RedisLeases, job_store: RedisJobStore, status: JobStatus) -> None:
    job = await create_in(job_store, status)
    assert await leases.acquire(job.id, "p1", expected_owner="") is False
    assert (await job_store.get(job.id)).owner == ""


async def test_acquire_of_a_missing_job_creates_nothing(leases: RedisLeases, any_redis: RedisClient) -> None:
    assert await leases.acquire("gone", "p1", expected_owner="") is False
    assert await any_redis.exists(KEYS.job("gone")) == 0


async def test_acquire_many_applies_each_compare_and_set_across_batches(
    leases: RedisLeases, job_store: RedisJobStore
) -> None:
    orphans = [await create_in(job_store, JobStatus.RUNNING, owner="dead") for _ in range(150)]  # > one batch
    taken = await create_in(job_store, JobStatus.RUNNING, owner="p9")
    ended = await create_in(job_store, JobStatus.SUCCEEDED, owner="dead")
    claims = [(job.id, "dead") for job in orphans] + [(taken.id, "dead"), (ended.id, "dead"), ("gone", "dead")]

    won = await leases.acquire_many(claims, "p1")

    assert [o.job_id for o in won] == [job.id for job in orphans]
    assert {(o.status, o.owner) for o in won} == {(JobStatus.RUNNING, "p1")}
    assert {job.owner for job in await job_store.get_many([o.job_id for o in won])} == {"p1"}
    assert (await job_store.get(taken.id)).owner == "p9"
    assert await leases.acquire_many(claims, "p2") == []
    assert await leases.acquire_many([], "p2") == []


async def test_acquire_many_compares_each_job_with_its_own_expected_owner(
    leases: RedisLeases, job_store: RedisJobStore
) -> None:
    of_a = await create_in(job_store, JobStatus.RUNNING, owner="dead-a")
    of_b = await create_in(job_store, JobStatus.DELAYED, owner="dead-b")
    stale = await create_in(job_store, JobStatus.RUNNING, owner="p7")  # adopted since the scan read "dead-a"

    won = await leases.acquire_many([(of_a.id, "dead-a"), (of_b.id, "dead-b"), (stale.id, "dead-a")], "p1")

    assert sorted((o.job_id, o.status) for o in won) == sorted(
        [(of_a.id, JobStatus.RUNNING), (of_b.id, JobStatus.DELAYED)]
    )
    assert (await job_store.get(stale.id)).owner == "p7"


async def test_two_processes_adopting_one_orphan_have_exactly_one_winner(
    leases: RedisLeases, job_store: RedisJobStore
) -> None:
    job = await create_in(job_store, JobStatus.RUNNING, owner="dead")

    results = await asyncio.gather(*(leases.acquire(job.id, f"p{n}", expected_owner="dead") for n in range(8)))

    assert results.count(True) == 1
    assert (await job_store.get(job.id)).owner == f"p{results.index(True)}"


async def test_release_gives_back_only_the_leases_the_process_holds(
    leases: RedisLeases, job_store: RedisJobStore
) -> None:
    mine = [await create_in(job_store, JobStatus.RUNNING, owner="p1") for _ in range(3)]
    theirs = await create_in(job_store, JobStatus.RUNNING, owner="p2")
    ids = [job.id for job in mine] + [theirs.id, "gone"]

    assert await leases.release(ids, "p1") == 3

    owners = {o.job_id: o.owner for o in await leases.ownership(ids)}
    assert owners == {**{job.id: "" for job in mine}, theirs.id: "p2", "gone": ""}


async def test_release_after_another_process_adopted_keeps_the_new_owner(
    leases: RedisLeases, job_store: RedisJobStore
) -> None:
    job = await create_in(job_store, JobStatus.RUNNING, owner="p1")
    assert await leases.acquire(job.id, "p2", expected_owner="p1")

    assert await leases.release([job.id], "p1") == 0
    assert (await job_store.get(job.id)).owner == "p2"


async def test_release_of_many_jobs_spans_several_batches(leases: RedisLeases, job_store: RedisJobStore) -> None:
    jobs = [await create_in(job_store, JobStatus.RUNNING, owner="p1") for _ in range(250)]  # batch size is 100
    assert await leases.release([job.id for job in jobs], "p1") == 250
    assert await leases.release([job.id for job in jobs], "p1") == 0


async def test_acquire_and_release_work_after_redis_forgot_its_scripts(
    leases: RedisLeases, job_store: RedisJobStore, any_redis: RedisClient
) -> None:
    job = await create_in(job_store, JobStatus.RUNNING)
    await leases.acquire(job.id, "p0", expected_owner="")  # the acquire script is cached now
    await any_redis.script_flush()  # what a restart does to the script cache

    assert await leases.acquire(job.id, "p1", expected_owner="p0") is True
    assert await leases.release([job.id], "p1") == 1


async def test_ownership_reports_status_owner_and_due_time_in_order(
    leases: RedisLeases, job_store: RedisJobStore
) -> None:
    running = await create_in(job_store, JobStatus.RUNNING, owner="p1", next_poll_at=1234.5)
    done = await create_in(job_store, JobStatus.SUCCEEDED)

    assert await leases.ownership([done.id, "gone", running.id]) == [
        JobOwnership(done.id, JobStatus.SUCCEEDED, ""),
        JobOwnership("gone", None, ""),
        JobOwnership(running.id, JobStatus.RUNNING, "p1", 1234.5),
    ]
    assert await leases.ownership([]) == []


async def test_ownership_of_many_jobs_spans_several_batches(leases: RedisLeases, job_store: RedisJobStore) -> None:
    jobs = [make_job(status=JobStatus.RUNNING, owner=f"p{n % 3}") for n in range(350)]
    for job in jobs:
        await job_store.create(job, make_session(job))

    found = await leases.ownership([job.id for job in jobs])

    assert [(o.job_id, o.owner) for o in found] == [(job.id, job.owner) for job in jobs]


async def test_empty_process_id_is_refused(leases: RedisLeases) -> None:
    with pytest.raises(ValueError, match="process_id"):
        await leases.acquire("j", "", expected_owner="")
    with pytest.raises(ValueError, match="process_id"):
        await leases.release(["j"], "")


async def test_bytes_client_is_refused(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        with pytest.raises(ValueError, match="decode_responses"):
            RedisLeases(client)
    finally:
        await client.aclose()
