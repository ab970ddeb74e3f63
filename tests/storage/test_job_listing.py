"""RedisJobListing: jobs newest first from the per-hour lists, filtered over a bounded scan, and new jobs since a
head. On the single redis-server and on the 3-node cluster."""

from __future__ import annotations

import time

import pytest

from poller.jobs import Job, JobStatus
from storage.job_listing import RedisJobListing, parse_position, position
from storage.keys import RedisKeys, hour_of
from storage.redis_jobs import RedisJobStore
from storage.redis_support import RedisClient
from tests.storage.factories import make_job, make_session

pytestmark = pytest.mark.integration
KEYS = RedisKeys()
HOUR = 3600.0


@pytest.fixture
def listing(any_redis: RedisClient, job_store: RedisJobStore) -> RedisJobListing:
    return RedisJobListing(any_redis, job_store)


async def stored(store: RedisJobStore, hours_ago: float, **changes: object) -> Job:
    """A finished job created ``hours_ago`` hours ago (finished: the store's create indexes it like any other)."""
    at = time.time() - hours_ago * HOUR
    changes.setdefault("status", JobStatus.SUCCEEDED)
    job = make_job(created_at=at, updated_at=at, **changes)
    await store.create(job, make_session(job))
    return job


def everything(job: Job) -> bool:
    return True


async def test_jobs_come_newest_first_across_hours_a_page_at_a_time(
    listing: RedisJobListing, job_store: RedisJobStore
) -> None:
    jobs = [await stored(job_store, hours_ago) for hours_ago in (30, 5.2, 5.1, 2, 0.01)]

    first = await listing.newest(everything, limit=3)
    second = await listing.newest(everything, limit=3, cursor=first.next_cursor)

    assert [j.id for j in first.jobs] == [j.id for j in reversed(jobs)][:3]
    assert [j.id for j in second.jobs] == [jobs[1].id, jobs[0].id]
    assert not first.stopped_early
    assert second.next_cursor is None  # nothing older within the horizon


async def test_the_predicate_and_the_time_range_filter(listing: RedisJobListing, job_store: RedisJobStore) -> None:
    await stored(job_store, 3, model="veo3")
    wanted = await stored(job_store, 2, model="sora-2-text-to-video", user_id=7)
    await stored(job_store, 1.5, model="sora-2-text-to-video", user_id=8)
    await stored(job_store, 0.5, model="sora-2-text-to-video", user_id=7)

    page = await listing.newest(
        lambda job: job.model.startswith("sora") and job.user_id == 7,
        since=time.time() - 2.5 * HOUR,
        until=time.time() - 1 * HOUR,
    )

    assert [j.id for j in page.jobs] == [wanted.id]
    assert page.next_cursor is None


async def test_a_bounded_scan_says_it_stopped_early_and_a_cursor_goes_on_from_there(
    listing: RedisJobListing, job_store: RedisJobStore
) -> None:
    rare = await stored(job_store, 1, status=JobStatus.FAILED)
    for _ in range(6):
        await stored(job_store, 0.5)

    first = await listing.newest(lambda job: job.status is JobStatus.FAILED, max_scan=4)
    second = await listing.newest(lambda job: job.status is JobStatus.FAILED, max_scan=4, cursor=first.next_cursor)

    assert first.jobs == []
    assert first.stopped_early
    assert first.scanned == 4
    assert [j.id for j in second.jobs] == [rare.id]
    assert second.scanned == 3  # the two newer ones left over, then the rare one; nothing after it
    assert not second.stopped_early


async def test_a_job_whose_hash_expired_is_skipped_but_counted(
    listing: RedisJobListing, job_store: RedisJobStore, any_redis: RedisClient
) -> None:
    kept = await stored(job_store, 1)
    gone = await stored(job_store, 0.5)
    await any_redis.delete(KEYS.job(gone.id))

    page = await listing.newest(everything)

    assert [j.id for j in page.jobs] == [kept.id]
    assert page.scanned == 2


async def test_created_after_a_head_returns_the_new_jobs_oldest_first_then_nothing(
    listing: RedisJobListing, job_store: RedisJobStore
) -> None:
    await stored(job_store, 0)
    head = await listing.head()
    new = [await stored(job_store, 0) for _ in range(3)]

    created, head = await listing.created_after(head)
    again, same_head = await listing.created_after(head)

    assert [j.id for j in created] == [j.id for j in new]
    assert again == []
    assert same_head == head


async def test_created_after_catches_up_across_an_hour_boundary(
    listing: RedisJobListing, job_store: RedisJobStore, any_redis: RedisClient
) -> None:
    now = time.time()
    last_hour = hour_of(now - HOUR)
    await any_redis.rpush(KEYS.jobs_created_in(last_hour), "a", "b")  # ids only; their jobs expired
    job = await stored(job_store, 0)

    created, head = await listing.created_after(position(last_hour, 1), now=now)

    assert [j.id for j in created] == [job.id]  # "b" was read too, but has no job
    assert head == position(hour_of(now), 1)


@pytest.mark.parametrize("stale", ["garbage", "2020010100.0", "2025133112.0", ""])
async def test_created_after_an_unusable_head_starts_again_from_now(listing: RedisJobListing, stale: str) -> None:
    created, head = await listing.created_after(stale)

    assert created == []
    assert head == await listing.head()


def test_positions_read_back_and_nonsense_is_refused() -> None:
    assert parse_position(position(2025013112, 40)) == (2025013112, 40)
    for text in ("2025013112", "2025013112.", "2025013124.1", "x.1", "20250131.1", "2025013112.-1"):
        assert parse_position(text) is None
