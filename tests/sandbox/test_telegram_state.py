"""The emulator's own API: injection, events, waits, reset, markup parsing and flood-control windows."""

from __future__ import annotations

import asyncio

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from sandbox.telegram import Event, TelegramEmulator
from sandbox.telegram.errors import BotApiError
from sandbox.telegram.faults import Faults, FloodControl
from sandbox.telegram.markup import command_entities, parse_markup
from tests.fixtures.telegram import TelegramStandIn

USER = 1234


def test_user_commands_get_bot_command_entities_with_utf16_offsets() -> None:
    emulator = TelegramEmulator()

    update = emulator.send_text(USER, USER, "😀 /video a cat")
    command = emulator.send_command(USER, USER, "start")

    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 3, "length": 6}]
    assert command["message"]["text"] == "/start"
    assert command["update_id"] == update["update_id"] + 1
    assert [m.text for m in emulator.messages(USER)] == ["😀 /video a cat", "/start"]
    last = emulator.last_message(USER)
    assert last is not None
    assert last.text == "/start"


def test_users_cannot_write_in_chats_they_cannot_reach() -> None:
    emulator = TelegramEmulator()
    channel = emulator.add_channel()

    with pytest.raises(ValueError, match="is a channel"):
        emulator.send_text(channel, USER, "hi")
    with pytest.raises(ValueError, match="cannot write in chat 999"):
        emulator.send_text(999, USER, "hi")
    with pytest.raises(ValueError, match="no message 5 to reply to"):
        emulator.send_text(USER, USER, "hi", reply_to_message_id=5)


def test_group_messages_keep_the_group_chat() -> None:
    emulator = TelegramEmulator()
    group = emulator.add_group("Friends")

    update = emulator.send_text(group, USER, "/video@reelay_test_bot dogs")

    assert update["message"]["chat"] == {"id": group, "type": "supergroup", "title": "Friends"}
    assert update["message"]["entities"][0]["length"] == len("/video@reelay_test_bot")


def test_wait_for_times_out_with_the_world_in_the_message() -> None:
    emulator = TelegramEmulator()
    emulator.send_text(USER, USER, "is anyone there?")

    with pytest.raises(AssertionError) as failure:
        emulator.wait_for(lambda: False, timeout=0.05, what="a reply that never comes")

    text = str(failure.value)
    assert "timed out after 0.05s waiting for a reply that never comes" in text
    assert "#1 Alice: 'is anyone there?'" in text


async def test_wait_for_async_returns_the_predicates_value() -> None:
    emulator = TelegramEmulator()
    emulator.send_text(USER, USER, "hello")

    found = await emulator.wait_for_async(lambda: emulator.message(USER, 1), timeout=1)

    assert found is not None
    assert found.text == "hello"


@pytest.mark.integration
async def test_subscribers_see_messages_edits_answers_and_deletes_in_order(telegram: TelegramStandIn) -> None:
    emulator = telegram.emulator
    events: list[Event] = []
    emulator.add_user(USER)
    unsubscribe = emulator.subscribe(events.append)
    async with telegram.make_bot() as bot:
        sent = await bot.send_message(
            USER, "v1", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
        )
        await bot.edit_message_text("v2", USER, sent.message_id)
        unsubscribe()
        await bot.delete_message(USER, sent.message_id)

    assert [(e.kind, e.message.text if e.message else None) for e in events] == [("message", "v1"), ("edit", "v2")]


@pytest.mark.integration
async def test_reset_ends_a_waiting_long_poll_empty(telegram: TelegramStandIn) -> None:
    emulator = telegram.emulator
    async with telegram.make_bot() as bot:
        poll = asyncio.create_task(bot.get_updates(timeout=30, read_timeout=40))
        await emulator.wait_for_async(emulator.is_polling, timeout=10)
        emulator.reset()
        updates = await asyncio.wait_for(poll, timeout=10)

    assert updates == ()
    assert emulator.calls() == []


def test_a_failing_subscriber_does_not_break_the_world() -> None:
    emulator = TelegramEmulator()
    seen: list[str] = []

    def broken(event: Event) -> None:
        raise RuntimeError("ui went away")

    emulator.subscribe(broken)
    emulator.subscribe(lambda event: seen.append(event.kind))
    emulator.send_text(USER, USER, "still works")

    assert seen == ["chat", "message"]  # the user's private chat appearing, then the message


@pytest.mark.parametrize(
    ("html", "plain"),
    [
        ("<b>bold</b> <i>it</i> &lt;tag&gt;", "bold it <tag>"),
        ('<a href="https://x.test">link</a> <code>c</code>', "link c"),
        ("<b>a <i>b</i></b>", "a b"),
    ],
)
def test_html_markup_is_stripped_to_the_visible_text(html: str, plain: str) -> None:
    assert parse_markup(html, "HTML") == plain


def test_mismatched_html_is_a_parse_error() -> None:
    with pytest.raises(BotApiError, match='expected "</b>", found "</i>"'):
        parse_markup("<b>x</i>", "HTML")


def test_markdown_is_kept_verbatim() -> None:
    assert parse_markup("*bold*", "MarkdownV2") == "*bold*"
    assert command_entities("no commands/here") == []


def test_flood_control_window_frees_up_after_its_period() -> None:
    now = [100.0]
    flood = FloodControl(1, per_seconds=3, clock=lambda: now[0])
    flood.check(1)
    with pytest.raises(BotApiError) as error:
        flood.check(1)
    now[0] = 103.0
    flood.check(1)

    assert (error.value.error_code, error.value.retry_after) == (429, 3)


def test_faults_reject_unknown_kinds_and_statuses() -> None:
    faults = Faults()
    with pytest.raises(ValueError, match="unknown fault kind"):
        faults.add("sendMessage", "meltdown", times=1, retry_after=1, status=500)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="status must be"):
        faults.add("sendMessage", "server_error", times=1, retry_after=1, status=418)
