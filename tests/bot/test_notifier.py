"""TelegramNotifier on the Telegram emulator: status edits never hold up the engine nor an ack."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import AIORateLimiter, ExtBot

from bot import texts
from bot.i18n import ENGLISH
from bot.notifier import TelegramNotifier
from bot.rate_limit import Lane, PriorityRateLimiter
from poller.errors import ErrorCode
from poller.jobs import Job, JobStatus, VideoOutput
from poller.ports import LocalVideo, Session
from tests.fixtures.telegram import TelegramStandIn

USER = 8001
LIMITS: dict[str, Any] = {"upload_limit_bytes": 50 * 1024 * 1024, "link_ttl_s": 86400}


def job(status: JobStatus, number: int = 1, **changes: Any) -> Job:
    return Job(
        id=f"job{number}",
        user_id=USER,
        chat_id=USER,
        model="veo3_fast",
        prompt="a fox",
        status=status,
        **changes,
    )


async def status_messages(bot: ExtBot[Any], count: int) -> list[Session]:
    """``count`` acks already in the chat, as the sessions of their jobs."""
    sessions = []
    for _ in range(count):
        ack = await bot.send_message(USER, texts.GENERATING)
        sessions.append(Session(chat_id=USER, user_id=USER, status_message_id=ack.message_id))
    return sessions


def edits(telegram: TelegramStandIn) -> list[str]:
    return [str(call.params["text"]) for call in telegram.emulator.calls("editMessageText") if call.ok]


@pytest.fixture
async def laned_bot(telegram: TelegramStandIn) -> AsyncIterator[ExtBot[Lane]]:
    """The application bot as a PriorityRateLimiter builds it: 10 messages a second, 1 kept for acks."""
    telegram.emulator.add_user(USER)
    limiter = PriorityRateLimiter(overall_max_rate=10, reserve=1)
    async with ExtBot(telegram.token, base_url=telegram.base_url, rate_limiter=limiter) as bot:
        yield bot


async def test_job_progress_returns_before_its_edit_and_acks_overtake_it(
    laned_bot: ExtBot[Lane], telegram: TelegramStandIn
) -> None:
    notifier = TelegramNotifier(laned_bot, **LIMITS)
    sessions = await status_messages(laned_bot, 10)  # the whole burst is spent on these

    for number, session in enumerate(sessions[:3]):
        await notifier.job_progress(job(JobStatus.RUNNING, number), session)
    assert edits(telegram) == []  # queued, not sent: the engine did not wait for the budget
    acks = [asyncio.create_task(laned_bot.send_message(USER, f"{texts.GENERATING} {i}")) for i in range(3)]
    await asyncio.gather(*acks)
    await notifier.status_edits.drain()

    methods = [call.method for call in telegram.emulator.calls()[-6:]]
    assert methods == ["sendMessage"] * 3 + ["editMessageText"] * 3
    assert edits(telegram) == [texts.status_message(ENGLISH, JobStatus.RUNNING)] * 3


async def test_deliveries_take_their_turn_from_the_shared_budget(telegram: TelegramStandIn, tmp_path: Path) -> None:
    telegram.emulator.add_user(USER)
    limiter = PriorityRateLimiter(overall_max_rate=2, overall_time_period=10_000, reserve=0)  # two, ever
    async with (
        ExtBot(telegram.token, base_url=telegram.base_url, rate_limiter=limiter) as bot,
        ExtBot(telegram.token, base_url=telegram.base_url) as send_bot,  # as wired: no limiter of its own
    ):
        notifier = TelegramNotifier(bot, send_bot=send_bot, **LIMITS)
        (session,) = await status_messages(bot, 1)
        output = VideoOutput(storage_key="k.mp4", url="https://cdn.example/k.mp4", size_bytes=10)
        video = LocalVideo(path=tmp_path / "k.mp4", output=output)

        await notifier.deliver(job(JobStatus.DELIVERING), session, video, link_only=True)
        next_request = asyncio.create_task(limiter.budget.acquire())
        await asyncio.sleep(0)

        assert not next_request.done(), "the delivery spent the last token"
        next_request.cancel()
        await notifier.aclose()


async def test_without_lanes_status_edits_still_arrive(telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(USER)
    async with ExtBot(telegram.token, base_url=telegram.base_url, rate_limiter=AIORateLimiter()) as bot:
        notifier = TelegramNotifier(bot, **LIMITS)
        (session,) = await status_messages(bot, 1)

        await notifier.job_progress(job(JobStatus.RUNNING), session)
        await notifier.status_edits.drain()

    assert edits(telegram) == [texts.status_message(ENGLISH, JobStatus.RUNNING)]


async def test_a_failed_job_gets_its_status_edited_and_a_message_saying_why(
    laned_bot: ExtBot[Lane], telegram: TelegramStandIn
) -> None:
    notifier = TelegramNotifier(laned_bot, **LIMITS)
    (session,) = await status_messages(laned_bot, 1)

    await notifier.job_ended(job(JobStatus.FAILED, error_code=ErrorCode.TIMEOUT), session)
    await notifier.status_edits.drain()

    said = texts.error_message(ENGLISH, ErrorCode.TIMEOUT)
    assert edits(telegram) == [said]
    assert telegram.emulator.calls("sendMessage")[-1].params["text"] == said


async def test_a_job_without_a_status_message_is_not_edited(laned_bot: ExtBot[Lane], telegram: TelegramStandIn) -> None:
    notifier = TelegramNotifier(laned_bot, **LIMITS)

    await notifier.job_progress(job(JobStatus.RUNNING), Session(chat_id=USER, user_id=USER))
    await notifier.status_edits.drain()

    assert edits(telegram) == []
    assert notifier.status_edits.pending == 0


async def test_a_job_waiting_in_the_providers_queue_shows_its_place(
    laned_bot: ExtBot[Lane], telegram: TelegramStandIn
) -> None:
    notifier = TelegramNotifier(laned_bot, **LIMITS)
    (session,) = await status_messages(laned_bot, 1)

    await notifier.job_progress(job(JobStatus.RUNNING, queue_position=2), session)
    await notifier.status_edits.drain()

    assert edits(telegram) == [texts.status_message(ENGLISH, JobStatus.RUNNING) + "\nYou are number 3 in the queue."]


def test_the_queue_place_counts_the_requests_ahead() -> None:
    assert texts.queue_place(ENGLISH, 0) == "You are next in the queue."
    assert texts.queue_place(ENGLISH, 1) == "You are number 2 in the queue."


async def test_a_job_without_a_chat_is_never_told_in_telegram(telegram: TelegramStandIn, tmp_path: Path) -> None:
    from bot.notifier import NO_CHAT_REF
    from poller.jobs import NO_CHAT

    async with ExtBot(telegram.token, base_url=telegram.base_url) as bot:
        notifier = TelegramNotifier(bot, **LIMITS)
        session = Session(chat_id=NO_CHAT, user_id=0, status_message_id=7)
        path = tmp_path / "v.mp4"
        path.write_bytes(b"video")
        video = LocalVideo(path=path, output=VideoOutput(storage_key="k", url="https://s3/v.mp4", size_bytes=5))
        commits: list[bool] = []

        async def commit() -> bool:
            commits.append(True)
            return True

        await notifier.job_progress(job(JobStatus.RUNNING), session)
        ref = await notifier.deliver(job(JobStatus.DELIVERING), session, video, commit=commit)
        await notifier.job_ended(job(JobStatus.FAILED, error_code=ErrorCode.TIMEOUT), session)
        await notifier.job_ended(job(JobStatus.CANCELLED), session)
        await notifier.status_edits.drain()
        await notifier.aclose()

    assert ref == NO_CHAT_REF
    assert commits == [True]  # the send is still claimed: the delivery records its result like any other
    assert [call.method for call in telegram.emulator.calls() if call.method != "getMe"] == []
