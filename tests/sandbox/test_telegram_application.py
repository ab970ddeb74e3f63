"""A real python-telegram-bot ``Application`` polling the emulator end to end."""

from __future__ import annotations

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.integration
USER = 9001


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Ping", callback_data="ping")]])
    await update.effective_message.reply_text("Welcome to Reelay!", reply_markup=keyboard)


async def on_ping(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("pong")
    await query.edit_message_text("Pinged.")


def build(telegram: TelegramStandIn) -> Application:  # type: ignore[type-arg]
    app = (
        Application.builder()
        .token(telegram.token)
        .base_url(telegram.base_url)
        .base_file_url(telegram.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(on_ping, pattern="^ping$"))
    return app


async def test_polling_application_answers_start_and_handles_a_button(telegram: TelegramStandIn) -> None:
    emulator = telegram.emulator
    app = build(telegram)
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=5)
        emulator.send_command(USER, USER, "start")
        welcome = await emulator.wait_for_async(
            lambda: next((m for m in emulator.messages(USER) if m.text == "Welcome to Reelay!"), None),
            timeout=15,
            what="the /start reply",
        )
        query_id = emulator.press_button(USER, welcome.message_id, USER, "ping")
        await emulator.wait_for_async(
            lambda: (m := emulator.message(USER, welcome.message_id)) is not None and m.text == "Pinged.",
            timeout=15,
            what="the edit after the button press",
        )
        await app.updater.stop()
        await app.stop()

    answered = emulator.callback_query(query_id)
    assert answered is not None
    assert answered.answer is not None
    assert answered.answer["text"] == "pong"
    assert emulator.calls("deleteWebhook"), "start_polling clears the webhook first, as against Telegram"
    assert emulator.pending_updates() == []  # the updater confirmed everything it handled
