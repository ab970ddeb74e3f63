"""Updates through a real ``telegram.Bot``: long polling and offsets, button presses, and webhooks."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict

from sandbox.serve import ThreadedServer
from sandbox.telegram import SECRET_HEADER
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.integration
USER = 777


async def test_updates_are_returned_until_confirmed_by_offset(telegram: TelegramStandIn) -> None:
    emulator = telegram.emulator
    for text in ("one", "two", "three"):
        emulator.send_text(USER, USER, text)
    async with telegram.make_bot() as bot:
        first = await bot.get_updates()
        again = await bot.get_updates()
        after = await bot.get_updates(offset=first[-1].update_id + 1)
        emulator.send_text(USER, USER, "four")
        fourth = await bot.get_updates(offset=first[-1].update_id + 1)
        limited = await bot.get_updates(limit=1)

    assert [u.message.text for u in first if u.message] == ["one", "two", "three"]
    assert [u.update_id for u in first] == [first[0].update_id + i for i in range(3)]
    assert again == first  # nothing is confirmed without an offset
    assert after == ()
    assert [u.message.text for u in fourth if u.message] == ["four"]
    assert len(limited) == 1
    assert limited[0].update_id == fourth[0].update_id


async def test_negative_offset_keeps_only_the_last_updates(telegram: TelegramStandIn) -> None:
    for text in ("a", "b", "c"):
        telegram.emulator.send_text(USER, USER, text)
    async with telegram.make_bot() as bot:
        last = await bot.get_updates(offset=-1)
        remaining = await bot.get_updates()

    assert [u.message.text for u in last if u.message] == ["c"]
    assert [u.message.text for u in remaining if u.message] == ["c"]  # the older ones were forgotten


async def test_long_poll_returns_nothing_when_idle_until_its_timeout(telegram: TelegramStandIn) -> None:
    async with telegram.make_bot() as bot:
        updates = await bot.get_updates(timeout=1)

    assert updates == ()
    assert telegram.emulator.calls("getUpdates")[0].params == {"timeout": 1}


async def test_long_poll_wakes_as_soon_as_another_thread_injects_an_update(telegram: TelegramStandIn) -> None:
    emulator = telegram.emulator

    def user_writes_once_the_bot_is_waiting() -> None:
        emulator.wait_for(emulator.is_polling, timeout=10, what="the bot's long poll")
        emulator.send_text(USER, USER, "wake up")

    writer = threading.Thread(target=user_writes_once_the_bot_is_waiting)
    async with telegram.make_bot() as bot:
        writer.start()
        # 30 s long poll, answered well inside the 10 s guard only if the injection wakes it.
        updates = await asyncio.wait_for(bot.get_updates(timeout=30, read_timeout=40), timeout=10)
    writer.join(5)

    assert [u.message.text for u in updates if u.message] == ["wake up"]


async def test_a_second_poller_terminates_the_first_with_conflict(telegram: TelegramStandIn) -> None:
    emulator = telegram.emulator
    async with telegram.make_bot() as first, telegram.make_bot() as second:
        waiting = asyncio.create_task(first.get_updates(timeout=30, read_timeout=40))
        await emulator.wait_for_async(emulator.is_polling, timeout=10)
        assert await second.get_updates() == ()
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await asyncio.wait_for(waiting, timeout=10)


async def test_allowed_updates_filters_what_is_queued(telegram: TelegramStandIn) -> None:
    async with telegram.make_bot() as bot:
        await bot.get_updates(allowed_updates=["callback_query"])
        telegram.emulator.send_text(USER, USER, "ignored")
        updates = await bot.get_updates()

    assert updates == ()
    assert telegram.emulator.pending_updates() == []


async def test_button_press_round_trip_and_answer_works_once(telegram: TelegramStandIn) -> None:
    emulator = telegram.emulator
    emulator.add_user(USER, "Bob")
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Publish", callback_data="pub:abc")]])
    async with telegram.make_bot() as bot:
        preview = await bot.send_message(USER, "your video", reply_markup=markup)
        query_id = emulator.press_button(USER, preview.message_id, USER, "pub:abc", first_name="Bob")
        (update,) = await bot.get_updates()
        query = update.callback_query
        assert query is not None
        assert await query.answer("Published!") is True
        with pytest.raises(BadRequest, match=r"^Query is too old and response timeout expired"):
            await query.answer("again")
        with pytest.raises(BadRequest, match="query id is invalid"):
            await bot.answer_callback_query("12345", "never pressed")

    assert isinstance(update, Update)
    assert query.id == query_id
    assert query.data == "pub:abc"
    assert query.from_user.first_name == "Bob"
    assert query.message is not None
    assert query.message.message_id == preview.message_id
    answered = emulator.callback_query(query_id)
    assert answered is not None
    assert answered.answer is not None
    assert answered.answer["text"] == "Published!"


def test_pressing_a_button_that_is_not_there_is_refused(telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(USER)
    update = telegram.emulator.send_text(USER, USER, "no buttons here")

    with pytest.raises(ValueError, match="has no button"):
        telegram.emulator.press_button(USER, update["message"]["message_id"], USER, "pub:abc")


@dataclass
class Receiver:
    """A local webhook endpoint that records what it is sent and answers with ``status``."""

    url: str
    status: int = 200
    received: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    async def hook(request: Request) -> Response:
        state.received.append((dict(request.headers), await request.json()))
        return Response(status_code=state.status)

    with ThreadedServer(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as server:
        state.url = f"{server.url}/hook"
        yield state


async def test_webhook_receives_updates_with_the_secret_header(telegram: TelegramStandIn, receiver: Receiver) -> None:
    emulator = telegram.emulator
    async with telegram.make_bot() as bot:
        assert await bot.set_webhook(receiver.url, secret_token="s3cret-token") is True
        update = emulator.send_text(USER, USER, "via webhook")
        await emulator.wait_for_async(
            lambda: receiver.received and not emulator.pending_updates(), timeout=10, what="an accepted POST"
        )
        info = await bot.get_webhook_info()
        with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
            await bot.get_updates()
        assert await bot.delete_webhook() is True

    headers, body = receiver.received[0]
    assert headers[SECRET_HEADER.lower()] == "s3cret-token"
    assert body == update
    assert (info.url, info.pending_update_count) == (receiver.url, 0)


async def test_a_failing_webhook_keeps_the_update_pending_and_reports_the_error(
    telegram: TelegramStandIn, receiver: Receiver
) -> None:
    emulator = telegram.emulator
    receiver.status = 500
    async with telegram.make_bot() as bot:
        await bot.set_webhook(receiver.url)
        emulator.send_text(USER, USER, "retry me")
        await emulator.wait_for_async(lambda: (emulator.webhook() or _NoHook).last_error_message, timeout=10)
        failing = await bot.get_webhook_info()
        receiver.status = 200
        await emulator.wait_for_async(lambda: not emulator.pending_updates(), timeout=10, what="redelivery")

    assert failing.pending_update_count == 1
    assert failing.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    assert [body["message"]["text"] for _, body in receiver.received][-1] == "retry me"
    assert SECRET_HEADER.lower() not in receiver.received[0][0]


async def test_delete_webhook_can_drop_pending_updates(telegram: TelegramStandIn) -> None:
    async with telegram.make_bot() as bot:
        telegram.emulator.send_text(USER, USER, "stale")
        assert await bot.delete_webhook(drop_pending_updates=True) is True
        updates = await bot.get_updates()

    assert updates == ()


class _NoHook:
    last_error_message = None
