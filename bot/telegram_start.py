"""Bringing the Telegram side up: the command menus, then long polling or the webhook."""

from __future__ import annotations

import contextlib
from typing import Any

import structlog
from telegram import BotCommandScopeChat
from telegram.error import TelegramError
from telegram.ext import Application, ExtBot

from bot.i18n import N_, SOURCE_LANGUAGE, shipped_languages, translator
from bot.settings import Settings
from bot.startup import StartupError, check_bot

log = structlog.get_logger(__name__)

BOT_COMMANDS = [
    ("video", N_("Make a video from a description")),
    ("settings", N_("Model, aspect ratio and duration")),
    ("status", N_("Your recent videos")),
    ("history", N_("Your videos, to send again")),
    ("cancel", N_("Stop the video being made")),
    ("balance", N_("Your credits")),
    ("buy", N_("Buy credits with Telegram Stars")),
    ("invite", N_("Your invitation link")),
    ("language", N_("The bot's language")),
    ("help", N_("How it works")),
]
ADMIN_COMMANDS = [
    ("grant", N_("Give credits: /grant <user_id> <credits>")),
    ("stats", N_("Videos of the last 24 hours, per model")),
    ("refund", N_("Refund a Stars payment: /refund <charge_id>")),
]


async def start_telegram(application: Application[Any, Any, Any, Any, Any, Any], settings: Settings) -> None:
    """Check the token, start the application, and start receiving updates (long polling or the webhook).

    Raise :class:`bot.startup.StartupError` when Telegram refuses the token or the webhook URL.
    """
    await check_bot(application.bot, settings.telegram.api_base_url)
    await application.initialize()
    with contextlib.suppress(Exception):  # cosmetic; never block start-up on it
        await set_commands(application.bot, settings.admin.user_ids)
    await application.start()
    tg = settings.telegram
    if tg.mode == "webhook":
        public_url, secret = settings.http.public_url, tg.webhook_secret
        if public_url is None or secret is None:  # the settings validator already refuses this
            raise RuntimeError("webhook mode needs http.public_url and telegram.webhook_secret")
        url = public_url.rstrip("/") + tg.webhook_path
        try:
            await application.bot.set_webhook(url, secret_token=secret.get_secret_value())
        except TelegramError as exc:
            raise StartupError(f"Telegram refused the webhook URL: {exc.message}", "http.public_url") from exc
        log.info("telegram.webhook_set", path=tg.webhook_path)
    else:
        assert application.updater is not None
        await application.updater.start_polling(drop_pending_updates=False)


async def set_commands(bot: ExtBot[Any], admin_ids: list[int]) -> None:
    """The command menu in every shipped language (English for the rest), and the admins' (with /grant, /stats
    and /refund) in each admin's own chat."""
    for language in shipped_languages():
        tr = translator(language)
        code = None if language == SOURCE_LANGUAGE else language  # no code: the menu for every other language
        everyone = [(name, tr(description)) for name, description in BOT_COMMANDS]
        await bot.set_my_commands(everyone, language_code=code)
        for admin_id in admin_ids:
            admins = [*everyone, *((name, tr(description)) for name, description in ADMIN_COMMANDS)]
            with contextlib.suppress(TelegramError):  # an admin who never wrote to the bot has no chat yet
                await bot.set_my_commands(admins, scope=BotCommandScopeChat(admin_id), language_code=code)
