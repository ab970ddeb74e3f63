"""The last resort: an update whose handler raised still gets an answer, and the error is logged once."""

from __future__ import annotations

import contextlib
from typing import Any

import structlog
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes

from bot import texts
from bot.user_language import translator_of

log = structlog.get_logger(__name__)


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Attach :func:`on_error` as python-telegram-bot's error handler."""
    application.add_error_handler(on_error)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the error with the update id and tell the user, without details, that it failed on our side."""
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("update.failed", update_id=update_id, error=type(error).__name__, exc_info=error)
    if not isinstance(update, Update):
        return  # a job or the updater, not a person waiting for an answer
    tr = translator_of(update, context)
    with contextlib.suppress(TelegramError):  # Telegram itself may be what failed
        if update.callback_query is not None:
            await update.callback_query.answer(tr(texts.SOMETHING_WENT_WRONG))
        elif update.effective_message is not None:
            await update.effective_message.reply_text(tr(texts.SOMETHING_WENT_WRONG))
