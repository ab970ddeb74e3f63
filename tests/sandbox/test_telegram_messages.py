"""Messages through a real ``telegram.Bot`` over HTTP: sending, editing, deleting, and Telegram's 400s."""

from __future__ import annotations

import pytest
from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Forbidden

from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.integration
USER = 4242
NOT_MODIFIED = (
    "Message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d.title(), callback_data=d) for d in data]])


async def test_get_me_returns_the_configured_bot(telegram: TelegramStandIn) -> None:
    async with telegram.make_bot() as bot:
        me = await bot.get_me()

    assert (me.id, me.is_bot, me.username) == (123456, True, "reelay_test_bot")
    assert [c.method for c in telegram.emulator.calls("getMe")] == ["getMe", "getMe"]  # initialize + ours


async def test_send_message_is_stored_with_incrementing_ids_and_the_bot_as_sender(
    telegram: TelegramStandIn,
) -> None:
    telegram.emulator.add_user(USER)
    async with telegram.make_bot() as bot:
        first = await bot.send_message(USER, "Video generating…")
        second = await bot.send_message(USER, "<b>Done</b> &amp; dusted", parse_mode=ParseMode.HTML)

    assert (first.message_id, second.message_id) == (1, 2)
    assert first.from_user is not None
    assert first.from_user.id == 123456
    assert first.chat.type == "private"
    assert first.chat.id == USER
    assert second.text == "Done & dusted"
    assert [m.text for m in telegram.emulator.messages(USER)] == ["Video generating…", "Done & dusted"]
    assert telegram.emulator.calls("sendMessage")[0].params == {"chat_id": USER, "text": "Video generating…"}


async def test_channel_posts_come_from_the_channel_not_the_bot(telegram: TelegramStandIn) -> None:
    async with telegram.make_bot() as bot:
        by_id = await bot.send_message(telegram.channel_id, "to the channel")
        by_name = await bot.send_message("@reelay_channel", "by username")

    assert by_id.chat.type == "channel"
    assert by_id.chat.id == telegram.channel_id
    assert by_id.sender_chat is not None
    assert by_id.sender_chat.id == telegram.channel_id
    assert by_id.from_user is None
    assert by_name.chat.id == telegram.channel_id
    assert by_name.message_id == 2


async def test_edit_message_text_keeps_history_and_replaces_the_keyboard(telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(USER)
    async with telegram.make_bot() as bot:
        sent = await bot.send_message(USER, "Your video is waiting to start.", reply_markup=keyboard("cancel"))
        edited = await bot.edit_message_text(
            "Your video is being generated.", USER, sent.message_id, reply_markup=keyboard("cancel")
        )
        no_keyboard = await bot.edit_message_text("This is taking longer than usual.", USER, sent.message_id)

    assert isinstance(edited, Message)
    assert isinstance(no_keyboard, Message)
    assert edited.edit_date is not None
    assert edited.reply_markup == keyboard("cancel")
    assert no_keyboard.reply_markup is None  # like Telegram: an edit without reply_markup drops the keyboard
    stored = telegram.emulator.message(USER, sent.message_id)
    assert stored is not None
    assert stored.text == "This is taking longer than usual."
    assert [v.text for v in stored.history] == ["Your video is waiting to start.", "Your video is being generated."]


async def test_edit_reply_markup_and_caption_change_only_what_they_name(telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(USER)
    async with telegram.make_bot() as bot:
        sent = await bot.send_message(USER, "pick", reply_markup=keyboard("a", "b"))
        marked = await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=keyboard("done"))
        with pytest.raises(BadRequest, match="There is no caption in the message to edit"):
            await bot.edit_message_caption(USER, sent.message_id, caption="x")

    assert isinstance(marked, Message)
    assert marked.text == "pick"
    assert marked.reply_markup == keyboard("done")


async def test_editing_with_identical_content_is_not_modified(telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(USER)
    async with telegram.make_bot() as bot:
        sent = await bot.send_message(USER, "same", reply_markup=keyboard("x"))
        with pytest.raises(BadRequest) as text_error:
            await bot.edit_message_text("same", USER, sent.message_id, reply_markup=keyboard("x"))
        with pytest.raises(BadRequest) as markup_error:
            await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=keyboard("x"))

    assert text_error.value.message == NOT_MODIFIED
    assert markup_error.value.message == NOT_MODIFIED
    stored = telegram.emulator.message(USER, sent.message_id)
    assert stored is not None
    assert stored.history == []


async def test_delete_message_removes_it_and_a_second_delete_fails(telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(USER)
    async with telegram.make_bot() as bot:
        sent = await bot.send_message(USER, "temporary")
        assert await bot.delete_message(USER, sent.message_id) is True
        with pytest.raises(BadRequest, match=r"^Message to delete not found$"):
            await bot.delete_message(USER, sent.message_id)

    assert telegram.emulator.messages(USER) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x" * 4097, "Message is too long"),
        ("", "Message text is empty"),
        ("   ", "Message text is empty"),
    ],
)
async def test_send_message_rejects_what_telegram_rejects(telegram: TelegramStandIn, text: str, expected: str) -> None:
    telegram.emulator.add_user(USER)
    async with telegram.make_bot() as bot:
        with pytest.raises(BadRequest) as error:
            await bot.send_message(USER, text)

    assert error.value.message == expected
    assert telegram.emulator.messages(USER) == []
    assert telegram.emulator.calls("sendMessage")[0].error == f"Bad Request: {expected[0].lower()}{expected[1:]}"


async def test_a_text_of_exactly_4096_characters_is_accepted(telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(USER)
    async with telegram.make_bot() as bot:
        sent = await bot.send_message(USER, "x" * 4096)

    assert sent.text == "x" * 4096


async def test_callback_data_over_64_bytes_is_button_data_invalid(telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(USER)
    async with telegram.make_bot() as bot:
        await bot.send_message(USER, "fits", reply_markup=keyboard("p" * 64))
        with pytest.raises(BadRequest, match=r"^Button_data_invalid$"):
            await bot.send_message(USER, "too long", reply_markup=keyboard("é" * 33))  # 66 bytes in UTF-8

    assert [m.text for m in telegram.emulator.messages(USER)] == ["fits"]


async def test_unknown_chat_and_unknown_message_are_bad_requests(telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(USER)
    async with telegram.make_bot() as bot:
        with pytest.raises(BadRequest, match=r"^Chat not found$"):
            await bot.send_message(999, "nobody")
        with pytest.raises(BadRequest, match=r"^Chat not found$"):
            await bot.send_message("@nosuchchannel", "nobody")
        with pytest.raises(BadRequest, match=r"^Message to edit not found$"):
            await bot.edit_message_text("new", USER, 77)


async def test_html_parse_errors_are_reported_like_telegram(telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(USER)
    async with telegram.make_bot() as bot:
        with pytest.raises(BadRequest, match='unsupported start tag "div" at byte offset 3'):
            await bot.send_message(USER, "hi <div>x</div>", parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match='can\'t find end tag corresponding to start tag "b"'):
            await bot.send_message(USER, "<b>open", parse_mode=ParseMode.HTML)


async def test_a_user_who_blocked_the_bot_is_forbidden(telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(USER)
    telegram.emulator.block_bot(USER)
    async with telegram.make_bot() as bot:
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(USER, "hello?")


async def test_force_reply_is_recorded_but_not_echoed_in_the_message(telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(USER)
    async with telegram.make_bot() as bot:
        sent = await bot.send_message(USER, "Describe the continuation:", reply_markup=ForceReply(True, "Prompt"))

    assert sent.reply_markup is None
    stored = telegram.emulator.messages(USER)[0]
    assert stored.reply_markup == {"force_reply": True, "selective": True, "input_field_placeholder": "Prompt"}


async def test_reply_to_a_user_message_nests_it(telegram: TelegramStandIn) -> None:
    update = telegram.emulator.send_text(USER, USER, "a cat surfing")
    prompt_id = update["message"]["message_id"]
    async with telegram.make_bot() as bot:
        reply = await bot.send_message(USER, "Video generating…", reply_to_message_id=prompt_id)
        with pytest.raises(BadRequest, match=r"^Message to be replied not found$"):
            await bot.send_message(USER, "x", reply_to_message_id=999)

    assert reply.reply_to_message is not None
    assert reply.reply_to_message.text == "a cat surfing"


async def test_copy_and_forward_keep_the_content(telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(USER)
    async with telegram.make_bot() as bot:
        original = await bot.send_message(USER, "share me")
        copied = await bot.copy_message(telegram.channel_id, USER, original.message_id)
        forwarded = await bot.forward_message(telegram.channel_id, USER, original.message_id)
        with pytest.raises(BadRequest, match=r"^Message to copy not found$"):
            await bot.copy_message(telegram.channel_id, USER, 500)

    assert copied.message_id == 1
    assert forwarded.forward_origin is not None
    assert forwarded.forward_origin.type == "user"
    assert [m.text for m in telegram.emulator.messages(telegram.channel_id)] == ["share me", "share me"]


async def test_chat_action_is_published_as_an_event(telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(USER)
    seen: list[str] = []
    unsubscribe = telegram.emulator.subscribe(lambda e: seen.append(e.data.get("action", "")))
    try:
        async with telegram.make_bot() as bot:
            assert await bot.send_chat_action(USER, ChatAction.UPLOAD_VIDEO) is True
            with pytest.raises(BadRequest, match="Wrong parameter action in request"):
                await bot.send_chat_action(USER, "dancing")
    finally:
        unsubscribe()

    assert seen == ["upload_video"]


async def test_get_chat_and_bot_commands(telegram: TelegramStandIn) -> None:
    async with telegram.make_bot() as bot:
        chat = await bot.get_chat(telegram.channel_id)
        assert await bot.set_my_commands([("start", "Start"), ("video", "Make a video")]) is True
        commands = await bot.get_my_commands()
        assert await bot.get_my_commands(language_code="de") == ()
        assert await bot.delete_my_commands() is True
        after_delete = await bot.get_my_commands()
        with pytest.raises(BadRequest, match="Bot_command_invalid"):
            await bot.set_my_commands([("Bad Command", "nope")])
        assert await bot.close() is True
        assert await bot.log_out() is True

    assert (chat.type, chat.title, chat.username) == ("channel", "Reelay Channel", "reelay_channel")
    assert [(c.command, c.description) for c in commands] == [("start", "Start"), ("video", "Make a video")]
    assert after_delete == ()
