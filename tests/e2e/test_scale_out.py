"""Several processes, one truth: jobs spread over pollers, a clean stop hands leases back at once, and a
poller that stops heartbeating has its jobs adopted within the lease."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest

from bot.app import Reelay, Role
from poller.jobs import JobStatus
from tests.e2e.conftest import SettingsFactory, videos_in, wait_for_job_status
from tests.fixtures.kie import KieStandIn
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.e2e
FIRST_USER = 700_000


async def owners(reelay: Reelay, job_ids: list[str]) -> Counter[str]:
    return Counter(o.owner for o in await reelay.leases.ownership(job_ids))


async def wait_for(predicate_coro: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate_coro():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


async def test_jobs_spread_and_a_clean_stop_hands_them_over_at_once(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    # A long lease: only the explicit hand-over can explain a prompt adoption.
    settings = make_settings(poll={"lease_s": 60.0, "interval_s": 0.3}, limits={"max_active_jobs_per_user": 1})
    kie.sim.completion_s = (600.0, 600.0)  # nothing finishes during this test
    bot, first, second = (Reelay(settings, role) for role in (Role.BOT, Role.POLLER, Role.POLLER))
    for process in (bot, first, second):
        await process.start()
    stopped = False
    try:
        tg = telegram.emulator
        for user in range(FIRST_USER, FIRST_USER + 40):
            tg.send_text(user, user, f"video {user}")

        async def all_held() -> bool:
            ids = await bot.jobs.active_job_ids()
            held = await owners(bot, ids)
            return len(ids) == 40 and set(held) <= {first.process_id, second.process_id}

        await wait_for(all_held, 20, "both pollers to hold all 40 jobs")
        ids = await bot.jobs.active_job_ids()
        spread = await owners(bot, ids)
        assert spread[first.process_id] > 0
        assert spread[second.process_id] > 0

        started = time.monotonic()
        await first.stop()
        stopped = True

        async def second_holds_all() -> bool:
            return (await owners(bot, ids))[second.process_id] == 40

        await wait_for(second_holds_all, 10, "the second poller to adopt everything")
        assert time.monotonic() - started < settings.lease_s / 2, "adopted at once, not after the lease"
        assert set(await second.jobs.delayed_job_ids()) == set()
    finally:
        for process in (second, bot) if stopped else (first, second, bot):
            await process.stop()


async def test_a_silent_poller_loses_its_jobs_within_the_lease(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    settings = make_settings(poll={"lease_s": 1.0, "interval_s": 0.2})
    tg = telegram.emulator
    bot, doomed = Reelay(settings, Role.BOT), Reelay(settings, Role.POLLER)
    await bot.start()
    await doomed.start()
    assert doomed.worker is not None
    tg.send_text(FIRST_USER, FIRST_USER, "a video that outlives its poller [polls=15]")

    async def polled_by_doomed() -> bool:
        # Held and past its submission: a poller dying mid-submit is a different story (the outcome
        # is unknown, so the job fails; see tests/poller/test_engine.py).
        jobs = await bot.jobs.get_many(await bot.jobs.active_job_ids())
        return any(job.owner == doomed.process_id and job.status is JobStatus.RUNNING for job in jobs)

    await wait_for(polled_by_doomed, 10, "the first poller to hold and poll the job")
    # A hang or crash: the worker's loops and scheduler stop with no hand-over, the heartbeat lapses.
    for task in doomed.worker._tasks:
        task.cancel()
    doomed.worker.engine.scheduler.shutdown(wait=False)

    rescuer = Reelay(settings, Role.POLLER)
    await rescuer.start()
    try:
        ids = await bot.jobs.active_job_ids()

        async def adopted() -> bool:
            return (await owners(bot, ids))[rescuer.process_id] == 1

        # The bound the design promises: the lease lapses (1 s) and the next scan (every lease/2) adopts.
        await wait_for(adopted, 2 * settings.lease_s + 1.0, "the rescuer to adopt within two leases")
        await tg.wait_for_async(lambda: videos_in(telegram, FIRST_USER), timeout=20, what="the video")
        job = await wait_for_job_status(bot, FIRST_USER, JobStatus.SUCCEEDED)
        assert job.owner == rescuer.process_id
        assert len([c for c in tg.calls("sendVideo") if c.ok]) == 1
    finally:
        await rescuer.stop()
        await bot.stop()
        for close in doomed._closers:  # the "crashed" process's connections, closed only to keep teardown quiet
            await close()
        await doomed.redis.aclose()
