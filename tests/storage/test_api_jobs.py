"""Each API key's job index, its Idempotency-Key records and job revisions, on real Redis (single node and cluster)."""

from __future__ import annotations

import asyncio
import time

from poller.jobs import Job, JobStatus
from poller.ports import Session
from storage.api_jobs import IDEMPOTENCY_TTL_S, RedisApiJobs
from storage.redis_jobs import RedisJobStore
from storage.redis_support import RedisClient


async def test_pages_go_newest_first_and_a_cursor_inside_equal_times_misses_nothing(any_redis: RedisClient) -> None:
    index = RedisApiJobs(any_redis, history_ttl_s=3600, prefix="t")
    now = time.time()
    ids = [f"j{n}" for n in range(7)]
    for n, job_id in enumerate(ids):
        await index.add("key", job_id, now + (n // 3))  # three jobs share each second: ties on the score
    await index.add("other", "x", now)

    seen: list[str] = []
    before = None
    while True:
        rows = await index.page("key", before=before, limit=2)
        if not rows:
            break
        seen += [job_id for job_id, _ in rows]
        before = (rows[-1][1], rows[-1][0])
    assert sorted(seen) == sorted(ids)
    assert len(seen) == len(set(seen))
    scores = [score for _, score in await index.page("key", before=None, limit=10)]
    assert scores == sorted(scores, reverse=True)


async def test_entries_older_than_the_history_are_trimmed(any_redis: RedisClient) -> None:
    index = RedisApiJobs(any_redis, history_ttl_s=60, prefix="t")
    await index.add("key", "old", time.time() - 120)
    await index.add("key", "new", time.time())
    assert [job_id for job_id, _ in await index.page("key", before=None, limit=10)] == ["new"]


async def test_simultaneous_reservations_of_one_key_make_one_owner(any_redis: RedisClient) -> None:
    index = RedisApiJobs(any_redis, history_ttl_s=3600, prefix="t")
    records = await asyncio.gather(*(index.reserve("key", "idem-1", "hash", f"job{n}") for n in range(10)))
    owners = [record for record in records if record.reserved]
    assert len(owners) == 1
    assert {record.job_id for record in records} == {owners[0].job_id}
    ttl = await any_redis.ttl("t:idem:key:idem-1")
    assert 0 < ttl <= IDEMPOTENCY_TTL_S
    # Another API key's same Idempotency-Key is its own.
    assert (await index.reserve("other", "idem-1", "hash", "jobX")).reserved


async def test_a_release_frees_only_its_own_reservation(any_redis: RedisClient) -> None:
    index = RedisApiJobs(any_redis, history_ttl_s=3600, prefix="t")
    first = await index.reserve("key", "idem", "h1", "job1")
    await index.release("key", "idem", first)
    second = await index.reserve("key", "idem", "h2", "job2")
    assert second.reserved
    await index.release("key", "idem", first)  # stale: must not free the retry's reservation
    third = await index.reserve("key", "idem", "h3", "job3")
    assert (third.reserved, third.body_hash, third.job_id) == (False, "h2", "job2")


async def test_a_jobs_revision_grows_with_each_change(any_redis: RedisClient) -> None:
    jobs = RedisJobStore(any_redis, history_ttl_s=3600, prefix="t")
    index = RedisApiJobs(any_redis, history_ttl_s=3600, prefix="t")
    job = Job(id="rev1", user_id=1, chat_id=0, model="veo3_fast", prompt="p")
    assert await index.revision("rev1") == 0
    await jobs.create(job, Session(chat_id=0, user_id=1))
    revisions = [await index.revision("rev1")]
    for status in (JobStatus.VALIDATING, JobStatus.RUNNING, JobStatus.CANCELLED):
        await jobs.transition("rev1", status)
        revisions.append(await index.revision("rev1"))
    assert revisions[0] > 0
    assert revisions == sorted(set(revisions))
