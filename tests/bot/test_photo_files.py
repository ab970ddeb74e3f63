"""Reading a user's photo from the Telegram stand-in: whole or its head, bounded in size, the token never told."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from structlog.testing import capture_logs
from telegram import Bot

from bot.photo_files import PhotoFiles, telegram_source
from outbound import Network
from poller.errors import ErrorCode, JobError
from sandbox import images
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.integration
USER = 31


@pytest.fixture
async def files(telegram: TelegramStandIn) -> AsyncIterator[PhotoFiles]:
    async with telegram.make_bot() as bot:
        reader = PhotoFiles(bot, Network(), timeout_s=5)
        yield reader
        await reader.aclose()


def sent_photo(telegram: TelegramStandIn, data: bytes) -> str:
    telegram.emulator.add_user(USER)
    update = telegram.emulator.send_photo(USER, USER, data)
    return str(update["message"]["photo"][-1]["file_id"])


async def test_the_whole_photo_and_its_head(files: PhotoFiles, telegram: TelegramStandIn) -> None:
    photo = images.png(2000, 1500)
    source = telegram_source(sent_photo(telegram, photo))

    assert await files.fetch(source, 10 * len(photo)) == photo
    head = await files.head(source, 10 * len(photo), 100)
    assert photo.startswith(head)
    assert 100 <= len(head) < len(photo)


async def test_a_file_over_the_limit_is_refused_for_good(files: PhotoFiles, telegram: TelegramStandIn) -> None:
    photo = images.jpeg(1000, 1000)
    with pytest.raises(JobError) as raised:
        await files.fetch(telegram_source(sent_photo(telegram, photo)), len(photo) - 1)
    assert raised.value.code is ErrorCode.INVALID_INPUT
    assert raised.value.raw.startswith("photo:")
    assert "over the" in raised.value.raw


async def test_an_unknown_file_is_refused_and_the_token_is_never_told(
    files: PhotoFiles, telegram: TelegramStandIn
) -> None:
    with capture_logs() as logs, pytest.raises(JobError) as raised:
        await files.fetch(telegram_source("no-such-file"), 1000)
    assert raised.value.code is ErrorCode.INVALID_INPUT
    assert telegram.token not in str(raised.value)
    assert telegram.token not in repr(logs)


async def test_telegram_unreachable_is_worth_another_try(telegram: TelegramStandIn) -> None:
    nowhere = "http://127.0.0.1:9"  # nothing listens there
    bot = Bot(telegram.token, base_url=f"{nowhere}/bot", base_file_url=f"{nowhere}/file/bot")
    reader = PhotoFiles(bot, Network(), timeout_s=2)
    try:
        with pytest.raises(JobError) as raised:
            await reader.fetch(telegram_source("any"), 1000)
    finally:
        await reader.aclose()
    assert raised.value.retryable
    assert telegram.token not in str(raised.value)
