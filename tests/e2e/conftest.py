"""A whole Reelay process in the test's event loop, wired to real servers on 127.0.0.1.

Real redis-server, moto S3, the KIE.ai simulator and the Telegram Bot API emulator: python-telegram-bot,
httpx, aioboto3 and redis-py all run their real code paths. Only the clock is faster (allow_fast).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from bot.app import Reelay
from bot.settings import Settings
from poller.jobs import Job, JobStatus
from sandbox.telegram import Message
from tests.fixtures.kie import KieStandIn
from tests.fixtures.s3_server import S3Server
from tests.fixtures.telegram import TelegramStandIn

ALICE = 1001
BOB = 1002


def e2e_settings(
    *,
    redis_url: str,
    s3: S3Server,
    bucket: str,
    kie: KieStandIn,
    telegram: TelegramStandIn,
    overrides: dict[str, dict[str, Any]],
) -> Settings:
    """Settings for a fast, fully local Reelay."""
    values: dict[str, Any] = {
        "telegram": {
            "token": telegram.token,
            "api_base_url": telegram.base_url,
            "publish_channel_id": telegram.channel_id,
        },
        "redis": {"url": redis_url},
        "storage": {"backend": "s3"},
        "s3": {
            "endpoint_url": s3.endpoint_url,
            "bucket": bucket,
            "region": s3.region,
            "access_key_id": s3.access_key_id,
            "secret_access_key": s3.secret_access_key,
        },
        "providers": {"kie": {"base_url": kie.url, "api_key": kie.api_key, "timeout_s": 5}},
        "poll": {
            "interval_s": 0.2,
            "first_poll_s": 0.1,
            "allow_fast": True,
            "max_attempts": 20,
            "jitter": 0.0,
            "delayed_interval_s": 0.5,
            "delayed_deadline_s": 30,
        },
        "http": {"port": 0},
        # The stand-ins serve videos from 127.0.0.1.
        "network": {"allow_private_addresses": True},
        "log": {"format": "console"},
    }
    for section, changes in overrides.items():
        values[section] = {**values.get(section, {}), **changes}
    return Settings(**values)


SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(
    redis_url: str, s3_server: S3Server, s3_bucket: str, kie: KieStandIn, telegram: TelegramStandIn
) -> SettingsFactory:
    """Build e2e settings, with per-section overrides (``poll={"max_attempts": 2}``)."""

    def factory(**overrides: Any) -> Settings:
        return e2e_settings(
            redis_url=redis_url, s3=s3_server, bucket=s3_bucket, kie=kie, telegram=telegram, overrides=overrides
        )

    return factory


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Reelay]:
    """Start a Reelay and stop it cleanly at the end."""
    reelay = Reelay(settings)
    await reelay.start()
    try:
        yield reelay
    finally:
        stopping = asyncio.create_task(reelay.stop())
        done, _ = await asyncio.wait({stopping}, timeout=20)
        if not done:
            import sys

            for task in asyncio.all_tasks():
                task.print_stack(file=sys.stderr)
            raise AssertionError("Reelay.stop() hung")


@pytest.fixture
async def reelay(make_settings: SettingsFactory) -> AsyncIterator[Reelay]:
    """One running Reelay with the default e2e settings."""
    async with running(make_settings()) as app:
        yield app


def bot_messages(telegram: TelegramStandIn, chat_id: int) -> list[Message]:
    """Messages the bot sent to a chat (snapshots, oldest first)."""
    return [m for m in telegram.emulator.messages(chat_id) if m.bot_id is not None]


def first_text(message: Message) -> str:
    """What the message said when it was sent (a fast flow may have edited it since)."""
    return (message.history[0].text if message.history else message.text) or ""


def videos_in(telegram: TelegramStandIn, chat_id: int) -> list[Message]:
    """Messages with a video in a chat."""
    return [m for m in telegram.emulator.messages(chat_id) if m.video is not None]


def button_data(message: Message) -> dict[str, str]:
    """The message's inline buttons, text -> callback_data."""
    return {b["text"]: b.get("callback_data", "") for b in message.buttons}


async def answer_to(telegram: TelegramStandIn, query_id: str) -> str | None:
    """Wait for the bot to answer a button press; return the text it showed (None for a silent answer)."""
    query = await telegram.emulator.wait_for_async(
        lambda: (q := telegram.emulator.callback_query(query_id)) is not None and q.answered and q,
        what=f"the answer to callback query {query_id}",
    )
    text = (query.answer or {}).get("text")
    return str(text) if text is not None else None


async def wait_for_job_status(reelay: Reelay, user_id: int, status: JobStatus, timeout: float = 10.0) -> Job:
    """Wait until the user's newest job reaches ``status``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        jobs = await reelay.jobs.jobs_for_user(user_id, limit=1)
        if jobs and jobs[0].status is status:
            return jobs[0]
        if loop.time() > deadline:
            raise AssertionError(f"user {user_id}'s newest job is {jobs[0].status if jobs else None}, not {status}")
        await asyncio.sleep(0.02)
