"""AiohttpRequest carries python-telegram-bot's calls like HTTPXRequest: parameters, uploads, errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import BadRequest, NetworkError, TimedOut
from telegram.ext import ExtBot

from bot.aiohttp_request import AiohttpRequest
from sandbox.media import sample_mp4_bytes
from sandbox.serve import free_port
from tests.fixtures.telegram import TelegramStandIn

USER = 9001


@pytest.fixture
async def bot(telegram: TelegramStandIn) -> AsyncIterator[ExtBot[Any]]:
    telegram.emulator.add_user(USER)
    request = AiohttpRequest(4)
    async with ExtBot(telegram.token, base_url=telegram.base_url, request=request) as ext_bot:
        yield ext_bot


async def test_a_message_with_a_keyboard_arrives_as_sent(bot: ExtBot[Any], telegram: TelegramStandIn) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("✖ Cancel", callback_data="can:abc")]])

    message = await bot.send_message(USER, "Video generating… ünïcödé", reply_markup=markup)

    stored = telegram.emulator.message(USER, message.message_id)
    assert stored is not None
    assert stored.text == "Video generating… ünïcödé"
    assert [b.get("callback_data") for b in stored.buttons] == ["can:abc"]


async def test_a_video_upload_arrives_whole_with_its_caption(bot: ExtBot[Any], telegram: TelegramStandIn) -> None:
    data = sample_mp4_bytes()

    message = await bot.send_video(USER, InputFile(data, filename="fox.mp4"), caption="🎬 Veo 3", width=320)

    assert message.video is not None
    assert message.caption == "🎬 Veo 3"
    (upload,) = [c for c in telegram.emulator.calls("sendVideo") if c.ok]
    assert upload.params["video"] == {"filename": "fox.mp4", "size": len(data), "content_type": "video/mp4"}


async def test_a_long_poll_for_updates_returns_what_is_pending(bot: ExtBot[Any], telegram: TelegramStandIn) -> None:
    telegram.emulator.send_text(USER, USER, "a fox")

    updates = await bot.get_updates(timeout=1)

    assert [u.message.text for u in updates if u.message] == ["a fox"]


async def test_telegram_refusals_come_back_as_ptb_errors(bot: ExtBot[Any]) -> None:
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(424242, "nobody is there")


async def test_an_unreachable_api_is_a_network_error() -> None:
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(NetworkError, match="aiohttp"):
            await request.post(f"http://127.0.0.1:{free_port()}/botX/getMe")
    finally:
        await request.shutdown()


async def test_a_network_error_never_quotes_the_url_and_its_token() -> None:
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as raised:
            await request.post("http://[not-an-address/bot123456:SECRET-token/getMe")  # aiohttp.InvalidURL
    finally:
        await request.shutdown()

    assert "InvalidUrl" in str(raised.value)
    assert "SECRET-token" not in str(raised.value)


async def test_a_silent_server_is_a_timeout() -> None:
    async def accept_and_say_nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await asyncio.sleep(3600)

    server = await asyncio.start_server(accept_and_say_nothing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    request = AiohttpRequest(read_timeout=0.2)
    await request.initialize()
    try:
        with pytest.raises(TimedOut):
            await request.post(f"http://127.0.0.1:{port}/botX/getMe")
    finally:
        await request.shutdown()
        server.close()


async def test_refuses_to_send_before_initialize() -> None:
    with pytest.raises(RuntimeError, match="not initialized"):
        await AiohttpRequest().do_request("http://127.0.0.1:1/", "POST")
