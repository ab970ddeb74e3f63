"""The operator's commands on a job (poller/control.py): re-run a failed delivery, refund credits.

The real engine and job store (on fakeredis) with the outside world faked, as in test_engine.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from poller.control import RerunRefused, refund_credits, rerun_delivery
from poller.errors import ErrorCode, InvalidTransition, JobError
from poller.finish import JobFinisher
from poller.jobs import JobStatus
from poller.ports import PollResult, TaskState
from poller.worker import NEW_JOB
from storage.leases import RedisLeases
from tests.poller.fakes import (
    BytesDownloader,
    MemoryBlobStore,
    RecordingBilling,
    RecordingEvents,
    RecordingNotifier,
    ScriptedProvider,
    success,
    wait_until,
)
from tests.poller.test_engine import FAST, PROCESS, Rig, build_engine


@pytest.fixture
async def rig(fake_redis: aioredis.Redis) -> AsyncIterator[Rig]:
    """An engine on fakeredis with the outside world faked (as test_engine.py's)."""
    provider, notifier, billing = ScriptedProvider(), RecordingNotifier(), RecordingBilling()
    downloader, blobs = BytesDownloader(), MemoryBlobStore()
    engine, jobs, sessions = build_engine(fake_redis, provider, notifier, downloader, blobs, billing=billing)
    finisher = JobFinisher(sessions=sessions, notifier=notifier, billing=billing)
    await engine.start()
    yield Rig(engine, jobs, sessions, provider, downloader, blobs, notifier, billing, finisher)
    await engine.stop()


async def failed_delivery(rig: Rig) -> str:
    """A job whose video was made but could not be downloaded, as often as the policy tries."""
    for _ in range(FAST.delivery_attempts):
        rig.downloader.failures.append(JobError(ErrorCode.DOWNLOAD_FAILED, "HTTP 503 from the CDN"))
    rig.provider.poll_script.append(success())
    job = await rig.new_job()
    await rig.wait_for_status(job.id, JobStatus.FAILED)
    await wait_until(lambda: job.id not in rig.engine.owned, what="the engine to drop the failed job")
    return job.id


async def test_a_rerun_delivers_a_failed_delivery_once_and_never_charges_it(
    rig: Rig, fake_redis: aioredis.Redis
) -> None:
    job_id = await failed_delivery(rig)
    events = RecordingEvents()

    moved = await rerun_delivery(job_id, jobs=rig.jobs, events=events)
    # What the poller that hears the notice does: win the lease, then adopt.
    assert await RedisLeases(fake_redis).acquire(job_id, PROCESS, "")
    rig.engine.adopt(moved)
    done = await rig.wait_for_status(job_id, JobStatus.SUCCEEDED)

    assert moved.status is JobStatus.DELIVERING
    assert (moved.owner, moved.delivery_attempts, moved.late) == ("", 0, True)
    assert events.published == [(NEW_JOB, job_id)]
    assert [delivered[0] for delivered in rig.notifier.delivered] == [job_id]
    assert rig.billing.refunded == [job_id]  # at the failure
    assert rig.billing.captured == []  # the refund stands
    assert done.late
    with pytest.raises(RerunRefused, match="succeeded"):
        await rerun_delivery(job_id, jobs=rig.jobs, events=events)


async def test_a_job_the_provider_failed_has_no_delivery_to_run_again(rig: Rig) -> None:
    failure = JobError(ErrorCode.PROVIDER_ERROR, "internal model error")
    rig.provider.poll_script.append(PollResult(TaskState.FAILED, error=failure))
    job = await rig.new_job()
    await rig.wait_for_status(job.id, JobStatus.FAILED)

    with pytest.raises(RerunRefused, match="provider_error"):
        await rerun_delivery(job.id, jobs=rig.jobs, events=RecordingEvents())


async def test_two_reruns_at_once_move_the_job_once(rig: Rig) -> None:
    job_id = await failed_delivery(rig)
    events = RecordingEvents()
    await rerun_delivery(job_id, jobs=rig.jobs, events=events)

    with pytest.raises((RerunRefused, InvalidTransition)):
        await rerun_delivery(job_id, jobs=rig.jobs, events=events)
    assert events.published == [(NEW_JOB, job_id)]


async def test_refund_gives_credits_back_once_and_then_reports_nothing_to_refund(rig: Rig) -> None:
    job = await rig.new_job()

    first = await refund_credits(job.id, jobs=rig.jobs, finisher=rig.finisher)
    second = await refund_credits(job.id, jobs=rig.jobs, finisher=rig.finisher)

    assert (first, second) == (True, False)
    assert rig.billing.refunded == [job.id]
