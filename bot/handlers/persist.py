"""Writes what handlers changed in user and chat data to Redis at the end of every update.

python-telegram-bot otherwise flushes on a timer; with several bot processes (webhook mode) the next update
of the same user may reach another process, which reloads the data from Redis first.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application, ContextTypes, TypeHandler

FLUSH_GROUP = 1000  # after every other handler group


async def _flush(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await context.application.update_persistence()


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Attach the flush as the last handler group."""
    application.add_handler(TypeHandler(Update, _flush), group=FLUSH_GROUP)
