"""The web chat's live stream: Server-Sent Events over real HTTP, fed by the emulator from other threads."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ChatAction

from sandbox.serve import ThreadedServer
from sandbox.telegram import Event, Message
from sandbox.webchat import ChatFeed, ChatSetup, create_app
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.integration
USER = 5151
OTHER_USER = 5252
STREAM_TIMEOUT = httpx.Timeout(10.0)


@dataclass
class ServedChat:
    """The web chat app on a real port, and its feed."""

    url: str
    feed: ChatFeed
    setup: ChatSetup


@pytest.fixture
def served(telegram: TelegramStandIn) -> Iterator[ServedChat]:
    """The web chat served by uvicorn in its own thread (as the sandbox serves it: a different loop)."""
    telegram.emulator.add_user(USER, "Dana")
    setup = ChatSetup(
        telegram.emulator,
        file_base_url=f"{telegram.base_file_url}{telegram.token}",
        user_id=USER,
        channel_id=telegram.channel_id,
    )
    feed = ChatFeed(setup.emulator, setup.chat_ids)
    server = ThreadedServer(create_app(setup, feed, heartbeat_s=0.2)).start()
    try:
        yield ServedChat(server.url, feed, setup)
    finally:
        feed.close()  # ends open streams, so the server can stop
        server.stop()


class EventStream:
    """Reads ``event:``/``data:`` frames from an open SSE response."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self) -> tuple[str, dict[str, Any]]:
        """The next event with its JSON data (comments and retry hints are skipped)."""
        name, data = "message", ""
        async for line in self._lines:
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = line.removeprefix("data: ")
            elif line == "" and data:
                return name, json.loads(data)
        raise EOFError("the stream ended")

    async def next_comment(self) -> str:
        """Skip to the next comment line (a keep-alive)."""
        async for line in self._lines:
            if line.startswith(":"):
                return line
        raise EOFError("the stream ended")

    async def next_named(self, name: str) -> dict[str, Any]:
        """Skip to the next event called ``name``."""
        while True:
            got, data = await self.next()
            if got == name:
                return data


@asynccontextmanager
async def open_stream(served: ServedChat) -> AsyncIterator[EventStream]:
    async with (
        httpx.AsyncClient(timeout=STREAM_TIMEOUT) as client,
        client.stream("GET", f"{served.url}/api/events") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        yield EventStream(response)


async def test_the_stream_opens_with_a_snapshot_of_both_chats(served: ServedChat, telegram: TelegramStandIn) -> None:
    telegram.emulator.send_text(USER, USER, "earlier prompt", first_name="Dana")

    async with open_stream(served) as stream:
        name, snapshot = await stream.next()

    assert name == "snapshot"
    assert [m["text"] for m in snapshot["chat"]["messages"]] == ["earlier prompt"]
    assert snapshot["channel"]["id"] == telegram.channel_id


async def test_bot_messages_edits_and_answers_arrive_live_in_order(
    served: ServedChat, telegram: TelegramStandIn
) -> None:
    emulator = telegram.emulator
    async with open_stream(served) as stream, telegram.make_bot() as bot:
        await stream.next_named("snapshot")
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("✖ Cancel", callback_data="cancel:j")]])
        ack = await bot.send_message(USER, "Video generating…", reply_markup=keyboard)
        posted = await stream.next_named("message")
        await bot.edit_message_text("Your video is being generated.", chat_id=USER, message_id=ack.message_id)
        edited = await stream.next_named("edit")
        await bot.send_chat_action(USER, ChatAction.UPLOAD_VIDEO)
        action = await stream.next_named("action")
        query_id = emulator.press_button(USER, ack.message_id, USER, "cancel:j", require_button=False)
        await bot.answer_callback_query(query_id, "Cancelled.")
        answer = await stream.next_named("answer")
        await bot.delete_message(USER, ack.message_id)
        deleted = await stream.next_named("delete")

    assert posted["id"] == ack.message_id
    assert posted["text"] == "Video generating…"
    assert posted["buttons"] == [[{"text": "✖ Cancel", "data": "cancel:j", "url": None, "pay": False}]]
    assert edited["id"] == ack.message_id
    assert edited["text"] == "Your video is being generated."
    assert edited["edited"] is True
    assert edited["buttons"] == []  # an edit without reply_markup drops the keyboard, as on Telegram
    assert action == {"chat_id": USER, "action": "upload_video"}
    assert answer == {"callback_query_id": query_id, "text": "Cancelled.", "show_alert": False}
    assert deleted == {"chat_id": USER, "id": ack.message_id}


async def test_changes_in_other_chats_are_not_streamed(served: ServedChat, telegram: TelegramStandIn) -> None:
    emulator = telegram.emulator
    emulator.add_user(OTHER_USER, "Eve")
    async with open_stream(served) as stream, telegram.make_bot() as bot:
        await stream.next_named("snapshot")
        await bot.send_message(OTHER_USER, "private to Eve")
        await bot.send_message(telegram.channel_id, "a channel post")

        post = await stream.next_named("message")

    assert post["chat_id"] == telegram.channel_id
    assert post["from"] == "channel"


async def test_a_quiet_stream_sends_keep_alive_comments(served: ServedChat) -> None:
    async with open_stream(served) as stream:
        await stream.next_named("snapshot")
        comment = await stream.next_comment()

    assert comment == ": keep-alive"


async def test_a_reset_world_is_sent_as_a_fresh_snapshot(served: ServedChat, telegram: TelegramStandIn) -> None:
    emulator = telegram.emulator
    emulator.send_text(USER, USER, "before the reset", first_name="Dana")
    async with open_stream(served) as stream:
        await stream.next_named("snapshot")
        emulator.reset()
        emulator.add_channel("Reelay Channel", username="reelay_channel")
        fresh = await stream.next_named("snapshot")

    assert fresh["chat"]["messages"] == []


async def test_closing_the_feed_ends_open_streams_and_refuses_new_ones(served: ServedChat) -> None:
    async with open_stream(served) as stream:
        await stream.next_named("snapshot")
        served.feed.close()
        with pytest.raises(EOFError):
            await stream.next_named("message")

    async with httpx.AsyncClient(timeout=STREAM_TIMEOUT) as client:
        refused = await client.get(f"{served.url}/api/events")
    assert refused.status_code == 503
    assert served.feed.readers == 0


# -- the feed on its own -------------------------------------------------------------------------------


async def test_events_offered_from_another_thread_arrive_in_order(telegram: TelegramStandIn) -> None:
    feed = ChatFeed(telegram.emulator, frozenset({USER}))
    subscription = feed.subscribe()

    def writer() -> None:
        for n in range(50):
            telegram.emulator.send_text(USER, USER, f"message {n}")

    thread = threading.Thread(target=writer)
    thread.start()
    texts: list[str | None] = []
    while len(texts) < 50:
        event = await subscription.get(timeout=5)
        assert event is not None, f"only {len(texts)} messages arrived"
        if event.kind == "message" and event.message is not None:
            texts.append(event.message.text)
    thread.join()

    assert texts == [f"message {n}" for n in range(50)]
    subscription.unsubscribe()
    assert feed.readers == 0


async def test_a_reader_that_falls_too_far_behind_is_ended_instead_of_growing_memory(
    telegram: TelegramStandIn,
) -> None:
    feed = ChatFeed(telegram.emulator, frozenset({USER}), max_backlog=3)
    subscription = feed.subscribe()
    for n in range(10):
        subscription.offer(Event("message", USER, Message(message_id=n, chat_id=USER, text=str(n))))

    received = [await subscription.get(timeout=5) for _ in range(3)]
    with pytest.raises(StopAsyncIteration):
        await subscription.get(timeout=5)

    assert [e.message.text for e in received if e is not None and e.message is not None] == ["0", "1", "2"]
    assert subscription.end_reason == "overflow"
