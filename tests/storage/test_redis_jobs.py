"""RedisJobStore against a real redis-server (the Lua scripts need a real Redis: fakeredis has no
Lua without the optional ``lupa`` package)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import replace

import pytest
import redis
import redis.asyncio as aioredis

from poller.errors import InvalidTransition, JobNotFound, TooManyActive
from poller.jobs import ALLOWED_TRANSITIONS, JobStatus
from poller.ports import JobStore
from poller.schedule import AttemptTiming
from storage.job_index import MAY_BECOME_DELAYED
from storage.keys import RedisKeys
from storage.redis_jobs import RedisJobStore
from storage.redis_support import RedisClient
from tests.fixtures.redis_server import RedisServer
from tests.storage.factories import create_in, make_job, make_session

pytestmark = pytest.mark.integration
KEYS = RedisKeys()


def test_redis_job_store_implements_the_port(job_store: RedisJobStore) -> None:
    port: JobStore = job_store
    assert port is job_store


async def test_create_stores_job_session_and_indexes(job_store: RedisJobStore, any_redis: RedisClient) -> None:
    job = make_job()
    await job_store.create(job, make_session(job))

    assert await job_store.get(job.id) == job
    assert await any_redis.hget(KEYS.session(job.id), "chat_id") == str(job.chat_id)
    assert await job_store.active_job_ids() == [job.id]
    assert [j.id for j in await job_store.jobs_for_user(job.user_id)] == [job.id]
    assert await any_redis.ttl(KEYS.job(job.id)) == -1  # active jobs never expire


@pytest.mark.parametrize("status", list(JobStatus))
async def test_create_in_any_status_leaves_the_indexes_as_a_change_to_it_would(
    job_store: RedisJobStore, any_redis: RedisClient, status: JobStatus
) -> None:
    # One node creates and indexes in one script, a cluster in several steps: both must end here.
    job = make_job(status=status, transitions={"delayed": 1_700_000_000.5})
    await any_redis.zadd(KEYS.delayed_jobs(), {job.id: 1.0})  # an expired namesake's leftover

    await job_store.create(job, make_session(job))

    assert (job.id in await job_store.active_job_ids()) is not status.terminal
    delayed_score = await any_redis.zscore(KEYS.delayed_jobs(), job.id)
    if status is JobStatus.DELAYED:
        assert delayed_score == 1_700_000_000.5
    elif status in MAY_BECOME_DELAYED:
        assert delayed_score == 1.0  # may be delayed again: a later change decides
    else:
        assert delayed_score is None
    assert await any_redis.zscore(KEYS.user_jobs(job.user_id), job.id) == pytest.approx(job.created_at)
    assert (await any_redis.ttl(KEYS.job(job.id)) > 0) is status.terminal


async def test_create_refuses_an_existing_id_and_keeps_the_stored_job(job_store: RedisJobStore) -> None:
    job = await create_in(job_store, JobStatus.RUNNING)

    with pytest.raises(InvalidTransition):
        await job_store.create(job.replace(status=JobStatus.QUEUED, prompt="other"), make_session(job))
    assert (await job_store.get(job.id)).prompt == job.prompt


async def test_concurrent_creates_of_one_id_have_exactly_one_winner(job_store: RedisJobStore) -> None:
    job = make_job()
    versions = [job.replace(prompt=f"prompt {n}") for n in range(5)]

    results = await asyncio.gather(*(job_store.create(v, make_session(v)) for v in versions), return_exceptions=True)

    winners = [v for v, r in zip(versions, results, strict=True) if r is None]
    assert len(winners) == 1
    assert all(isinstance(r, InvalidTransition) for r in results if r is not None)
    assert (await job_store.get(job.id)).prompt == winners[0].prompt


async def test_get_of_unknown_job_raises_job_not_found(job_store: RedisJobStore) -> None:
    with pytest.raises(JobNotFound):
        await job_store.get("nope")


async def test_allowed_transition_sets_status_timestamps_and_fields(job_store: RedisJobStore) -> None:
    job = await create_in(job_store, JobStatus.VALIDATING)

    moved = await job_store.transition(
        job.id, JobStatus.RUNNING, fields={"provider_task_id": "task-1", "provider": "kie_veo"}
    )

    assert moved.status is JobStatus.RUNNING
    assert moved.provider_task_id == "task-1"
    assert moved.provider == "kie_veo"
    assert moved.transitions["running"] == moved.updated_at
    assert moved.updated_at >= job.updated_at
    assert await job_store.get(job.id) == moved


@pytest.mark.parametrize(
    ("source", "target"),
    [(source, target) for target in JobStatus for source in sorted(ALLOWED_TRANSITIONS[target])],
)
async def test_every_allowed_transition_leaves_the_indexes_right(
    job_store: RedisJobStore, any_redis: RedisClient, source: JobStatus, target: JobStatus
) -> None:
    # One node moves the indexes in the transition's own script, a cluster in a step after it: alike.
    job = await create_in(job_store, source)
    await any_redis.zadd(KEYS.delayed_jobs(), {job.id: 1.0})  # a delayed entry from before

    moved = await job_store.transition(job.id, target)

    assert (job.id in await job_store.active_job_ids()) is not target.terminal
    delayed_score = await any_redis.zscore(KEYS.delayed_jobs(), job.id)
    if target is JobStatus.DELAYED:
        assert delayed_score == pytest.approx(moved.transitions["delayed"])
    elif target in MAY_BECOME_DELAYED:
        assert delayed_score == 1.0  # may be delayed again: left for a later change
    else:
        assert delayed_score is None


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (JobStatus.QUEUED, JobStatus.DELIVERING),
        (JobStatus.QUEUED, JobStatus.SUCCEEDED),
        (JobStatus.DELIVERING, JobStatus.CANCELLED),
        (JobStatus.SUCCEEDED, JobStatus.FAILED),
        (JobStatus.FAILED, JobStatus.RUNNING),
    ],
)
async def test_transition_outside_the_table_is_refused_and_changes_nothing(
    job_store: RedisJobStore, current: JobStatus, target: JobStatus
) -> None:
    job = await create_in(job_store, current)

    with pytest.raises(InvalidTransition) as refused:
        await job_store.transition(job.id, target, fields={"error_raw": "x"})

    assert refused.value.current == current.value
    assert refused.value.target == target.value
    assert await job_store.get(job.id) == job


async def test_every_allowed_transition_in_the_table_is_accepted(job_store: RedisJobStore) -> None:
    for target, sources in ALLOWED_TRANSITIONS.items():
        for source in sources:
            job = await create_in(job_store, source)
            assert (await job_store.transition(job.id, target)).status is target


async def test_expected_narrows_the_table(job_store: RedisJobStore) -> None:
    job = await create_in(job_store, JobStatus.RUNNING)

    with pytest.raises(InvalidTransition):
        await job_store.transition(job.id, JobStatus.FAILED, expected=frozenset({JobStatus.DELAYED}))
    failed = await job_store.transition(job.id, JobStatus.FAILED, expected=frozenset({JobStatus.RUNNING}))
    assert failed.status is JobStatus.FAILED


async def test_transition_of_missing_job_raises_job_not_found(job_store: RedisJobStore) -> None:
    with pytest.raises(JobNotFound):
        await job_store.transition("missing", JobStatus.FAILED)


async def test_transition_refuses_status_among_fields(job_store: RedisJobStore) -> None:
    job = await create_in(job_store, JobStatus.RUNNING)
    with pytest.raises(ValueError, match="status"):
        await job_store.transition(job.id, JobStatus.DELIVERING, fields={"status": "succeeded"})
    assert (await job_store.get(job.id)).status is JobStatus.RUNNING


async def test_concurrent_transitions_from_one_state_have_exactly_one_winner(
    job_store: RedisJobStore,
) -> None:
    job = await create_in(job_store, JobStatus.RUNNING)
    targets = [JobStatus.DELIVERING] * 4 + [JobStatus.FAILED] * 4 + [JobStatus.CANCELLED] * 4

    results = await asyncio.gather(
        *(job_store.transition(job.id, target, expected=frozenset({JobStatus.RUNNING})) for target in targets),
        return_exceptions=True,
    )

    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, InvalidTransition) for r in losers)
    assert (await job_store.get(job.id)).status is winners[0].status


async def test_two_deliveries_racing_from_running_only_one_delivers(job_store: RedisJobStore) -> None:
    job = await create_in(job_store, JobStatus.RUNNING)

    first, second = await asyncio.gather(
        job_store.transition(job.id, JobStatus.DELIVERING),
        job_store.transition(job.id, JobStatus.DELIVERING),
        return_exceptions=True,
    )

    assert sorted(type(r).__name__ for r in (first, second)) == ["InvalidTransition", "Job"]


@pytest.mark.parametrize("terminal", [JobStatus.SUCCEEDED, JobStatus.FAILED])
async def test_terminal_transition_leaves_active_index_and_sets_ttl(
    job_store: RedisJobStore, any_redis: RedisClient, terminal: JobStatus
) -> None:
    job = await create_in(job_store, JobStatus.DELIVERING)
    await job_store.claim(job.id, "send")

    await job_store.transition(job.id, terminal)

    assert job.id not in await job_store.active_job_ids()
    for key in (KEYS.job(job.id), KEYS.session(job.id), KEYS.effects(job.id)):
        assert 3500 < await any_redis.ttl(key) <= 3600, key
    assert [j.id for j in await job_store.jobs_for_user(job.user_id)] == [job.id]


async def test_non_terminal_transition_keeps_job_active_without_ttl(
    job_store: RedisJobStore, any_redis: RedisClient
) -> None:
    job = await create_in(job_store, JobStatus.RUNNING)
    await job_store.transition(job.id, JobStatus.DELIVERING)
    assert await job_store.active_job_ids() == [job.id]
    assert await any_redis.ttl(KEYS.job(job.id)) == -1


async def test_delayed_index_follows_the_job_in_and_out(job_store: RedisJobStore) -> None:
    job = await create_in(job_store, JobStatus.RUNNING)
    other = await create_in(job_store, JobStatus.RUNNING)

    delayed = await job_store.transition(job.id, JobStatus.DELAYED)
    since = delayed.transitions["delayed"]

    assert await job_store.delayed_job_ids() == [job.id]
    assert await job_store.delayed_job_ids(until=since) == [job.id]
    assert await job_store.delayed_job_ids(until=since - 1) == []
    await job_store.transition(job.id, JobStatus.DELIVERING)
    assert await job_store.delayed_job_ids() == []
    assert other.id in await job_store.active_job_ids()


async def test_failing_a_delayed_job_clears_both_indexes(job_store: RedisJobStore) -> None:
    job = await create_in(job_store, JobStatus.RUNNING)
    await job_store.transition(job.id, JobStatus.DELAYED)

    await job_store.transition(job.id, JobStatus.FAILED, fields={"error_code": "timeout"})

    assert await job_store.delayed_job_ids() == []
    assert await job_store.active_job_ids() == []


FLAT = AttemptTiming(interval_s=60.0, backoff=1.0, max_delay_s=900.0, jitter_factor=1.0)


async def test_start_step_counts_and_plans_the_next_poll_while_held_and_pollable(job_store: RedisJobStore) -> None:
    job = await create_in(job_store, JobStatus.RUNNING, owner="me")

    before = time.time()
    first = await job_store.start_step(job.id, "me", FLAT)
    assert first.attempts == 1
    assert first.next_poll_at is not None
    assert before + 59.9 <= first.next_poll_at <= time.time() + 60.1
    await job_store.transition(job.id, JobStatus.DELAYED)
    second = await job_store.start_step(job.id, "me", FLAT)
    assert second.attempts == 2
    assert (await job_store.get(job.id)).attempts == 2


async def test_start_step_plans_with_backoff_cap_and_jitter_like_the_policy(job_store: RedisJobStore) -> None:
    job = await create_in(job_store, JobStatus.RUNNING, owner="me", attempts=3)
    timing = AttemptTiming(interval_s=10.0, backoff=2.0, max_delay_s=900.0, jitter_factor=0.9)

    started = time.time()
    stepped = await job_store.start_step(job.id, "me", timing)

    assert stepped.attempts == 4
    assert stepped.next_poll_at is not None
    expected = timing.delay_after(4)  # 10 * 2**3 * 0.9 = 72
    assert expected == pytest.approx(72.0)
    assert started + expected - 0.01 <= stepped.next_poll_at <= time.time() + expected + 0.01
    capped = await job_store.start_step(job.id, "me", replace(timing, max_delay_s=5.0, jitter_factor=1.0))
    assert capped.next_poll_at is not None
    assert capped.next_poll_at <= time.time() + 5.01


@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.DELIVERING, JobStatus.CANCELLED])
async def test_start_step_counts_nothing_once_the_job_is_not_pollable(
    job_store: RedisJobStore, status: JobStatus
) -> None:
    job = await create_in(job_store, status, owner="me")
    stepped = await job_store.start_step(job.id, "me", FLAT)
    assert (stepped.status, stepped.attempts, stepped.next_poll_at) == (status, 0, None)


async def test_start_step_counts_nothing_for_a_job_another_process_holds(job_store: RedisJobStore) -> None:
    job = await create_in(job_store, JobStatus.RUNNING, owner="other")
    stepped = await job_store.start_step(job.id, "me", FLAT)
    assert (stepped.owner, stepped.attempts, stepped.next_poll_at) == ("other", 0, None)


async def test_start_step_of_missing_job_raises_job_not_found(job_store: RedisJobStore) -> None:
    with pytest.raises(JobNotFound):
        await job_store.start_step("gone", "me", FLAT)


async def test_claim_is_won_by_exactly_one_of_many_concurrent_callers(job_store: RedisJobStore) -> None:
    job = await create_in(job_store, JobStatus.DELIVERING)

    results = await asyncio.gather(*(job_store.claim(job.id, "send") for _ in range(10)))

    assert results.count(True) == 1
    assert await job_store.claim(job.id, "publish") is True  # effects are independent
    assert await job_store.claim(job.id, "publish") is False


async def test_released_claim_can_be_won_again_once(job_store: RedisJobStore) -> None:
    job = await create_in(job_store, JobStatus.DELIVERING)
    assert await job_store.claim(job.id, "send") is True

    await job_store.release(job.id, "send")

    again = await asyncio.gather(job_store.claim(job.id, "send"), job_store.claim(job.id, "send"))
    assert sorted(again) == [False, True]


async def test_claim_after_the_job_ended_expires_with_the_job(job_store: RedisJobStore, any_redis: RedisClient) -> None:
    job = await create_in(job_store, JobStatus.DELIVERING)
    await job_store.transition(job.id, JobStatus.SUCCEEDED)

    assert await job_store.claim(job.id, "publish") is True
    assert 0 < await any_redis.ttl(KEYS.effects(job.id)) <= 3600


async def test_claim_on_missing_job_raises_and_creates_nothing(
    job_store: RedisJobStore, any_redis: RedisClient
) -> None:
    with pytest.raises(JobNotFound):
        await job_store.claim("gone", "send")
    assert await any_redis.exists(KEYS.effects("gone")) == 0


async def test_update_fields_sets_fields_but_never_status(job_store: RedisJobStore) -> None:
    job = await create_in(job_store, JobStatus.SUCCEEDED)

    await job_store.update_fields(job.id, {"published": "1", "delivered_ref": "1:2:f"})
    with pytest.raises(ValueError, match="status"):
        await job_store.update_fields(job.id, {"status": "queued"})

    stored = await job_store.get(job.id)
    assert (stored.published, stored.delivered_ref, stored.status) == (True, "1:2:f", JobStatus.SUCCEEDED)


async def test_update_fields_of_missing_job_raises_and_creates_nothing(
    job_store: RedisJobStore, any_redis: RedisClient
) -> None:
    with pytest.raises(JobNotFound):
        await job_store.update_fields("gone", {"published": "1"})
    assert await any_redis.exists(KEYS.job("gone")) == 0


async def test_jobs_for_user_newest_first_limited_and_trimmed(job_store: RedisJobStore) -> None:
    created = [await create_in(job_store, user_id=7) for _ in range(7)]  # store keeps 5 per user
    await create_in(job_store, user_id=8)

    newest_first = [job.id for job in reversed(created)]
    assert [j.id for j in await job_store.jobs_for_user(7, limit=3)] == newest_first[:3]
    assert [j.id for j in await job_store.jobs_for_user(7, limit=50)] == newest_first[:5]
    assert await job_store.jobs_for_user(7, limit=0) == []


async def test_jobs_for_user_drops_expired_jobs_from_the_index(
    job_store: RedisJobStore, any_redis: RedisClient
) -> None:
    kept = await create_in(job_store, user_id=9)
    expired = await create_in(job_store, user_id=9)
    await any_redis.delete(KEYS.job(expired.id))  # what the history TTL does

    assert [j.id for j in await job_store.jobs_for_user(9)] == [kept.id]
    assert await any_redis.zrange(KEYS.user_jobs(9), 0, -1) == [kept.id]


async def test_active_count_for_user_counts_the_recent_jobs_that_have_not_ended(
    job_store: RedisJobStore, any_redis: RedisClient
) -> None:
    # Oldest first; the store keeps 5 per user.
    statuses = [JobStatus.RUNNING, JobStatus.SUCCEEDED, JobStatus.QUEUED, JobStatus.FAILED, JobStatus.DELIVERING]
    jobs = [await create_in(job_store, status, user_id=11) for status in statuses]
    await create_in(job_store, JobStatus.RUNNING, user_id=12)  # another user's
    await any_redis.delete(KEYS.job(jobs[2].id))  # an expired entry still in the index counts for nothing

    assert await job_store.active_count_for_user(11) == 2  # delivering and the oldest running one
    assert await job_store.active_count_for_user(11, recent=1) == 1  # the newest: delivering
    assert await job_store.active_count_for_user(11, recent=4) == 1  # the oldest, running, is not among them
    assert await job_store.active_count_for_user(11, recent=0) == 0
    assert await job_store.active_count_for_user(13) == 0  # no jobs at all


async def test_create_refuses_a_job_past_the_users_limit_and_writes_nothing(
    job_store: RedisJobStore, any_redis: RedisClient
) -> None:
    held = [await create_in(job_store, status, user_id=21) for status in (JobStatus.RUNNING, JobStatus.QUEUED)]
    await create_in(job_store, JobStatus.SUCCEEDED, user_id=21)  # ended: does not count
    await create_in(job_store, JobStatus.RUNNING, user_id=22)  # another user's
    refused = make_job(user_id=21)

    with pytest.raises(TooManyActive) as caught:
        await job_store.create(refused, make_session(refused), max_active=2)

    assert caught.value.count == 2
    assert not await any_redis.exists(KEYS.job(refused.id), KEYS.session(refused.id))
    assert refused.id not in await any_redis.zrange(KEYS.user_jobs(21), 0, -1)
    assert await any_redis.zscore(KEYS.active_jobs(), refused.id) is None
    # Room again once one ends; without a limit nothing is counted.
    await job_store.transition(held[0].id, JobStatus.FAILED)
    await job_store.create(refused, make_session(refused), max_active=2)
    unlimited = make_job(user_id=21)
    await job_store.create(unlimited, make_session(unlimited))
    assert await job_store.active_count_for_user(21) == 3


async def test_a_create_resent_at_the_limit_answers_exists_not_over_the_limit(job_store: RedisJobStore) -> None:
    # The reply to the first create was lost: refusing it as "over the limit" would refund a job that runs.
    job = make_job(user_id=23)
    await job_store.create(job, make_session(job), max_active=1)
    with pytest.raises(InvalidTransition):
        await job_store.create(job, make_session(job), max_active=1)


async def test_a_limit_must_be_positive(job_store: RedisJobStore) -> None:
    job = make_job(user_id=24)
    with pytest.raises(ValueError, match="max_active"):
        await job_store.create(job, make_session(job), max_active=0)


async def test_on_one_node_prompts_of_one_user_at_the_same_instant_cannot_pass_the_limit_together(
    single_job_store: RedisJobStore,
) -> None:
    # Two bot processes, each creating at once: the count and the create are one step. (A cluster counts
    # just before its create, so there this race stays open; README, "Redis in production".)
    jobs = [make_job(user_id=25) for _ in range(6)]
    outcomes = await asyncio.gather(
        *(single_job_store.create(job, make_session(job), max_active=2) for job in jobs), return_exceptions=True
    )

    assert sum(outcome is None for outcome in outcomes) == 2
    assert all(isinstance(outcome, TooManyActive) for outcome in outcomes if outcome is not None)
    assert await single_job_store.active_count_for_user(25) == 2


async def test_get_many_keeps_order_and_skips_missing(job_store: RedisJobStore) -> None:
    a, b = await create_in(job_store), await create_in(job_store)
    assert [j.id for j in await job_store.get_many([b.id, "missing", a.id])] == [b.id, a.id]
    assert await job_store.get_many([]) == []


async def test_active_job_ids_returns_every_id_of_a_large_index(job_store: RedisJobStore) -> None:
    jobs = [make_job() for _ in range(2500)]  # more than one ZSCAN batch
    for job in jobs:
        await job_store.create(job, make_session(job))

    ids = await job_store.active_job_ids()

    assert sorted(ids) == sorted(job.id for job in jobs)
    assert await job_store.active_count() == 2500


async def test_transitions_work_after_redis_restarts_and_forgets_scripts(
    redis_server: RedisServer, redis_url: str
) -> None:
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        store = RedisJobStore(client)
        job = await create_in(store, JobStatus.RUNNING)
        await store.transition(job.id, JobStatus.DELAYED)  # script now cached in Redis

        redis_server.restart(keep_data=True)  # the script cache is not persisted

        with contextlib.suppress(redis.ConnectionError):
            await client.ping()  # redis-py surfaces the pooled connection's death once
        moved = await store.transition(job.id, JobStatus.DELIVERING)
        assert moved.status is JobStatus.DELIVERING
    finally:
        await client.aclose()


async def test_client_with_bytes_responses_is_refused(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        with pytest.raises(ValueError, match="decode_responses"):
            RedisJobStore(client)
    finally:
        await client.aclose()
