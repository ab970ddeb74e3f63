"""Faults handled on purpose, end to end: each one injected at an HTTP stand-in and counted there.

Provider faults come from the KIE simulator (poll faults, submit faults, download faults), Telegram's
from the Bot API emulator (flood control, 5xx) and S3's from a fault-injecting proxy in front of moto.
Every fault is retried within its bound; a job that finally fails tells the user once and refunds once.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.requests import Request

from bot import texts
from bot.app import Reelay
from bot.i18n import ENGLISH
from poller.errors import ErrorCode
from poller.jobs import Job, JobStatus
from sandbox.fault_proxy import FaultProxy, create_app
from sandbox.kie.scenario import Scenario
from sandbox.serve import ThreadedServer
from sandbox.telegram.models import ApiCall
from tests.e2e.conftest import (
    ALICE,
    SettingsFactory,
    running,
    videos_in,
    wait_for_job_status,
)
from tests.fixtures.kie import KieStandIn
from tests.fixtures.s3_server import S3Server
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.e2e

INITIAL_BALANCE = 20
CREDITS = {"enabled": True, "initial_balance": INITIAL_BALANCE}
# botocore's standard mode under S3BlobStore: the first try plus max_attempts=3 retries.
BOTOCORE_TRIES = 4


# --------------------------------------------------------------------------- helpers


def kie_section(kie: KieStandIn, **changes: Any) -> dict[str, Any]:
    """A whole ``providers`` override (sections merge one level deep only) with ``changes`` to ``kie``."""
    return {"kie": {"base_url": kie.url, "api_key": kie.api_key, "timeout_s": 5, **changes}}


def sent_videos(telegram: TelegramStandIn, chat_id: int) -> list[ApiCall]:
    """sendVideo calls to a chat that Telegram accepted."""
    return [c for c in telegram.emulator.calls("sendVideo") if c.ok and str(c.params.get("chat_id")) == str(chat_id)]


def failure_notices(telegram: TelegramStandIn, code: ErrorCode) -> list[ApiCall]:
    """Accepted sendMessage calls carrying the failure message for ``code``."""
    text = texts.error_message(ENGLISH, code)
    return [c for c in telegram.emulator.calls("sendMessage") if c.ok and c.params.get("text") == text]


async def wait_for_terminal(reelay: Reelay, user_id: int, timeout: float = 20.0) -> Job:
    """Wait until the user's newest job has ended, whichever way."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = await reelay.jobs.jobs_for_user(user_id, limit=1)
        if jobs and jobs[0].status.terminal:
            return jobs[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"user {user_id}'s newest job is {jobs[0].status if jobs else None}, not ended")
        await asyncio.sleep(0.02)


async def deliver_one(reelay: Reelay, telegram: TelegramStandIn, prompt: str) -> Job:
    """Send ``prompt`` as Alice and wait for its video and its succeeded job."""
    tg = telegram.emulator
    tg.send_text(ALICE, ALICE, prompt)
    await tg.wait_for_async(lambda: videos_in(telegram, ALICE), timeout=20, what="the video")
    return await wait_for_job_status(reelay, ALICE, JobStatus.SUCCEEDED)


async def fail_one(reelay: Reelay, telegram: TelegramStandIn, prompt: str, code: ErrorCode) -> Job:
    """Send ``prompt`` as Alice, wait for the failed job and for the one failure notice (sent after the refund)."""
    telegram.emulator.send_text(ALICE, ALICE, prompt)
    job = await wait_for_terminal(reelay, ALICE)
    assert job.status is JobStatus.FAILED, f"the job ended {job.status}, not failed"
    assert job.error_code is code
    await telegram.emulator.wait_for_async(lambda: failure_notices(telegram, code), what="the failure notice")
    return job


async def assert_refunded_once(reelay: Reelay, job: Job) -> None:
    """The reserved credits came back, once: the balance is whole again and the ledger says refunded."""
    assert reelay.credits is not None
    assert await reelay.credits.balance(ALICE) == INITIAL_BALANCE
    assert await reelay.credits.state(ALICE, job.id) == "refunded"


def stored_objects(s3_server: S3Server, bucket: str) -> list[dict[str, Any]]:
    """The objects in the bucket (read straight from moto)."""
    return list(s3_server.client().list_objects_v2(Bucket=bucket).get("Contents", []))


class RequestClock:
    """When each request reached a proxy: a fault matcher that stamps every request and never matches."""

    def __init__(self) -> None:
        self.stamps: list[tuple[float, str]] = []

    def __call__(self, request: Request) -> bool:
        self.stamps.append((time.monotonic(), request.url.path))
        return False

    def times(self, path_suffix: str) -> list[float]:
        """Arrival times of the requests whose path ends with ``path_suffix``."""
        return [at for at, path in self.stamps if path.endswith(path_suffix)]


@pytest.fixture
def kie_clock(kie: KieStandIn) -> Iterator[tuple[RequestClock, str]]:
    """A pass-through proxy in front of the KIE simulator that stamps every request; yields it and its URL."""
    proxy = FaultProxy(kie.url)
    clock = RequestClock()
    proxy.inject(500, match=clock)  # the matcher never matches: the fault only gives the clock every request
    with ThreadedServer(create_app(proxy)) as server:
        yield clock, server.url


@pytest.fixture
def s3_proxy(s3_server: S3Server) -> Iterator[tuple[FaultProxy, str]]:
    """A fault-injecting proxy in front of moto's S3; yields it and its URL."""
    proxy = FaultProxy(s3_server.endpoint_url)
    with ThreadedServer(create_app(proxy)) as server:
        yield proxy, server.url


def object_puts(proxy: FaultProxy, bucket: str) -> list[int | None]:
    """The statuses of the PUTs of stored videos that went through the proxy, in order."""
    return [s.status for s in proxy.requests if s.method == "PUT" and re.fullmatch(video_key(bucket), s.path)]


def video_key(bucket: str) -> str:
    """The path of a stored video (not of the start-up write check beside it)."""
    return rf"/{bucket}/videos/[A-Za-z0-9_-]+\.mp4"


# --------------------------------------------------------------------------- provider faults on polls


@pytest.mark.parametrize(
    "faults",
    ["500,502,503", "455", "malformed", "unknown_shape", "deep_json", "timeout"],
)
async def test_a_poll_fault_costs_one_attempt_and_the_video_still_arrives_once(
    faults: str, make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    kie.sim.hang_s = 10  # a "timeout" fault stalls far longer than the client waits
    settings = make_settings(providers=kie_section(kie, timeout_s=1))
    async with running(settings) as reelay:
        job = await deliver_one(reelay, telegram, f"a lighthouse at dusk [faults={faults}] [polls=1]")

    faulted = len(faults.split(","))
    polls = sum(kie.sim.polls.values())
    assert polls == faulted + 2, "each fault cost one poll, then one 'generating' and one 'success' answer"
    assert job.attempts == polls, "every poll, faulted or not, was counted as an attempt"
    assert len(kie.sim.tasks) == 1
    assert len(sent_videos(telegram, ALICE)) == 1


async def test_a_poll_answered_429_waits_for_its_retry_after(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn, kie_clock: tuple[RequestClock, str]
) -> None:
    clock, kie_url = kie_clock
    kie.sim.retry_after_s = 1  # five poll intervals
    settings = make_settings(providers=kie_section(kie, base_url=kie_url))
    async with running(settings) as reelay:
        job = await deliver_one(reelay, telegram, "a windmill in a storm [faults=429] [polls=1]")

    polls = clock.times("/record-info")
    assert len(polls) == 3 == sum(kie.sim.polls.values())
    assert job.attempts == 3
    # The poll after the 429 came no sooner than its Retry-After, not after the usual interval.
    assert polls[1] - polls[0] >= kie.sim.retry_after_s - 0.05 > reelay.settings.poll.interval_s
    assert len(sent_videos(telegram, ALICE)) == 1


# --------------------------------------------------------------------------- provider faults on submit


@pytest.mark.parametrize("fault", ["429", "500", "455"])
async def test_a_refused_submit_is_retried_and_creates_exactly_one_task(
    fault: str, make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    kie.sim.queue_scenario(Scenario(submit_fault=fault))  # the first create only
    async with running(make_settings()) as reelay:
        job = await deliver_one(reelay, telegram, "a paper boat on a pond [polls=1]")

    assert len(kie.sim.submissions) == 2, "refused once, then accepted"
    assert len(kie.sim.tasks) == 1, "the refused create made no task"
    assert job.provider_task_id == next(iter(kie.sim.tasks))
    assert len(sent_videos(telegram, ALICE)) == 1


async def test_a_submit_answered_429_is_retried_after_its_retry_after(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn, kie_clock: tuple[RequestClock, str]
) -> None:
    clock, kie_url = kie_clock
    kie.sim.retry_after_s = 1  # twenty times the engine's own first retry delay
    kie.sim.queue_scenario(Scenario(submit_fault="429"))
    async with running(make_settings(providers=kie_section(kie, base_url=kie_url))) as reelay:
        await deliver_one(reelay, telegram, "a tram in the rain [polls=1]")

    creates = clock.times("/generate")
    assert len(creates) == 2
    assert creates[1] - creates[0] >= kie.sim.retry_after_s - 0.05
    assert len(kie.sim.tasks) == 1


@pytest.mark.parametrize(
    "fault",
    [
        "timeout",
        "malformed",
    ],
)
async def test_a_submit_with_an_unknown_outcome_is_never_resubmitted_and_fails_told_and_refunded_once(
    fault: str, make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    kie.sim.hang_s = 10
    # The simulator creates the task, then never answers (or answers garbage): the client cannot know.
    kie.sim.queue_scenario(Scenario(submit_fault=fault))
    settings = make_settings(providers=kie_section(kie, timeout_s=1), credits=CREDITS)
    async with running(settings) as reelay:
        telegram.emulator.send_text(ALICE, ALICE, "a lantern festival [polls=1]")
        job = await wait_for_terminal(reelay, ALICE)
        tasks = kie.sim.tasks
        assert len(kie.sim.submissions) == 1, f"resubmitted: {len(tasks)} tasks created for one job"
        assert len(tasks) == 1
        assert job.status is JobStatus.FAILED
        assert job.error_code is ErrorCode.PROVIDER_ERROR
        await telegram.emulator.wait_for_async(
            lambda: failure_notices(telegram, ErrorCode.PROVIDER_ERROR), what="the failure notice"
        )
        await assert_refunded_once(reelay, job)

    assert len(failure_notices(telegram, ErrorCode.PROVIDER_ERROR)) == 1
    assert telegram.emulator.calls("sendVideo") == []


# --------------------------------------------------------------------------- Telegram faults


async def test_flood_control_on_send_video_is_waited_out_and_the_video_arrives_once(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    tg = telegram.emulator
    tg.inject_fault("sendVideo", "flood", retry_after=1)
    async with running(make_settings()) as reelay:
        job = await deliver_one(reelay, telegram, "a hummingbird in slow motion [polls=1]")

    assert [c.ok for c in tg.calls("sendVideo")] == [False, True], "one 429, then one accepted send"
    assert len(videos_in(telegram, ALICE)) == 1
    assert job.delivered_ref


async def test_flood_control_on_send_message_is_waited_out_and_the_video_arrives_once(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    tg = telegram.emulator
    tg.inject_fault("sendMessage", "flood", retry_after=1)
    async with running(make_settings()) as reelay:
        await deliver_one(reelay, telegram, "a kite festival [polls=1]")

    refused = [c for c in tg.calls("sendMessage") if not c.ok]
    assert len(refused) == 1
    assert "retry after" in (refused[0].error or "").lower()
    acks = [c for c in tg.calls("sendMessage") if c.ok and c.params.get("text") == texts.GENERATING]
    assert len(acks) == 1, "the refused ack was sent again, once"
    assert len(sent_videos(telegram, ALICE)) == 1
    assert len(videos_in(telegram, ALICE)) == 1


@pytest.mark.parametrize("status", [500, 502])
async def test_a_telegram_5xx_on_send_video_is_retried_and_the_video_arrives_once(
    status: int,
    make_settings: SettingsFactory,
    telegram: TelegramStandIn,
    kie: KieStandIn,
    s3_server: S3Server,
    s3_bucket: str,
) -> None:
    tg = telegram.emulator
    tg.inject_fault("sendVideo", "server_error", status=status)
    async with running(make_settings()) as reelay:
        job = await deliver_one(reelay, telegram, "a glass of water on a train [polls=1]")

    # A definite 5xx answer means the video was not posted, so the retry sends it (once).
    assert [c.ok for c in tg.calls("sendVideo")] == [False, True]
    assert len(videos_in(telegram, ALICE)) == 1
    assert job.delivery_attempts == 1
    assert len(stored_objects(s3_server, s3_bucket)) == 1, "the retry reused the stored video"
    assert sum(kie.sim.downloads.values()) == 2, "the retry fetched the video again for the upload to Telegram"


# --------------------------------------------------------------------------- S3 faults


async def test_s3_errors_on_the_upload_are_retried_and_the_video_is_stored_and_sent_once(
    make_settings: SettingsFactory,
    telegram: TelegramStandIn,
    kie: KieStandIn,
    s3_server: S3Server,
    s3_bucket: str,
    s3_proxy: tuple[FaultProxy, str],
) -> None:
    proxy, proxy_url = s3_proxy
    # One more than botocore absorbs by itself: the first delivery attempt fails, the second stores it.
    proxy.inject(500, times=BOTOCORE_TRIES + 1, match=f"PUT {video_key(s3_bucket)}")
    async with running(make_settings(s3={"endpoint_url": proxy_url})) as reelay:
        job = await deliver_one(reelay, telegram, "a snail crossing a leaf [polls=1]")

    assert object_puts(proxy, s3_bucket) == [500] * (BOTOCORE_TRIES + 1) + [200]
    assert job.delivery_attempts == 1
    stored = stored_objects(s3_server, s3_bucket)
    assert [o["Key"] for o in stored] == [f"videos/{job.id}.mp4"]
    video = videos_in(telegram, ALICE)[0].video
    assert video is not None
    assert stored[0]["Size"] == video.file_size
    assert len(sent_videos(telegram, ALICE)) == 1


async def test_s3_that_always_fails_ends_the_job_told_and_refunded_once(
    make_settings: SettingsFactory,
    telegram: TelegramStandIn,
    kie: KieStandIn,
    s3_server: S3Server,
    s3_bucket: str,
    s3_proxy: tuple[FaultProxy, str],
) -> None:
    proxy, proxy_url = s3_proxy
    attempts = 2
    proxy.inject(500, times=1000, match=f"PUT {video_key(s3_bucket)}")
    settings = make_settings(s3={"endpoint_url": proxy_url}, poll={"delivery_attempts": attempts}, credits=CREDITS)
    async with running(settings) as reelay:
        job = await fail_one(reelay, telegram, "a castle made of sand [polls=1]", ErrorCode.UPLOAD_FAILED)
        await assert_refunded_once(reelay, job)

    assert object_puts(proxy, s3_bucket) == [500] * (BOTOCORE_TRIES * attempts), "bounded: no upload after the last"
    assert sum(kie.sim.downloads.values()) == attempts
    assert stored_objects(s3_server, s3_bucket) == []
    assert telegram.emulator.calls("sendVideo") == []
    assert len(failure_notices(telegram, ErrorCode.UPLOAD_FAILED)) == 1


# --------------------------------------------------------------------------- download faults


@pytest.mark.parametrize("faults", ["500", "truncate", "404,truncate"])
async def test_a_failed_download_is_retried_and_the_video_arrives_once(
    faults: str,
    make_settings: SettingsFactory,
    telegram: TelegramStandIn,
    kie: KieStandIn,
    s3_server: S3Server,
    s3_bucket: str,
) -> None:
    async with running(make_settings()) as reelay:
        job = await deliver_one(reelay, telegram, f"a paper plane over a city [download_faults={faults}] [polls=1]")

    failed = len(faults.split(","))
    assert sum(kie.sim.downloads.values()) == failed + 1
    assert job.delivery_attempts == failed
    stored = stored_objects(s3_server, s3_bucket)
    video = videos_in(telegram, ALICE)[0].video
    assert video is not None
    assert [o["Size"] for o in stored] == [video.file_size], "stored once, whole"
    assert len(sent_videos(telegram, ALICE)) == 1


async def test_downloads_that_keep_failing_end_the_job_told_and_refunded_once(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn, s3_server: S3Server, s3_bucket: str
) -> None:
    attempts = 3
    settings = make_settings(poll={"delivery_attempts": attempts}, credits=CREDITS)
    faults = ",".join(["500", "truncate", "503", "500", "500"])  # more failures than attempts
    async with running(settings) as reelay:
        job = await fail_one(
            reelay, telegram, f"a comet over the sea [download_faults={faults}] [polls=1]", ErrorCode.DOWNLOAD_FAILED
        )
        await assert_refunded_once(reelay, job)
        balance_after = await reelay.credits.balance(ALICE) if reelay.credits else None

    assert sum(kie.sim.downloads.values()) == attempts, "bounded: no download after the last attempt"
    assert job.delivery_attempts == attempts
    assert balance_after == INITIAL_BALANCE
    assert len(failure_notices(telegram, ErrorCode.DOWNLOAD_FAILED)) == 1
    assert telegram.emulator.calls("sendVideo") == []
    assert stored_objects(s3_server, s3_bucket) == []


@pytest.mark.parametrize("fault", ["500", "deep_json"])
async def test_a_provider_that_keeps_failing_polls_is_bounded_and_the_job_fails_refunded_once(
    fault: str, make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    # Every poll answers 500 (or 400 kB of nested brackets, which no JSON parser survives): the attempts run out,
    # the job waits as delayed, then fails with timeout.
    settings = make_settings(
        poll={"max_attempts": 3, "delayed_interval_s": 0.2, "delayed_deadline_s": 0.5}, credits=CREDITS
    )
    kie.sim.queue_scenario(Scenario(faults=[fault] * 200))
    async with running(settings) as reelay:
        job = await fail_one(reelay, telegram, "an endless corridor", ErrorCode.TIMEOUT)
        await assert_refunded_once(reelay, job)
        polls_at_end = sum(kie.sim.polls.values())

    assert polls_at_end >= 3, "every attempt was used before the job was given up"
    assert len(failure_notices(telegram, ErrorCode.TIMEOUT)) == 1
    assert telegram.emulator.calls("sendVideo") == []
