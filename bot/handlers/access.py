"""Keeps the bot private when ``access.mode`` says so: a check before every handler but the dedupe.

A user who may not use the bot is told "This bot is private." (a button press gets it as the answer) and
nothing else runs for the update, so they create nothing. In ``invite`` mode ``/start <code>`` with a valid
code admits the user for good, and the greeting follows.
"""

from __future__ import annotations

import contextlib
from typing import Any

import structlog
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes, TypeHandler

from bot import texts
from bot.access import AccessPolicy
from bot.user_language import translator_of

log = structlog.get_logger(__name__)

ACCESS_GROUP = -1  # after the dedupe (-2), before every feature's handlers (0 and up)


class AccessHandlers:
    """Stops updates from users the access policy does not let in."""

    def __init__(self, policy: AccessPolicy) -> None:
        self._policy = policy

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Attach the check (nothing at all in ``open`` mode: no cost per update)."""
        if self._policy.mode != "open":
            application.add_handler(TypeHandler(Update, self.check), group=ACCESS_GROUP)

    async def check(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Let the update through, admit its user with an invite code, or refuse it and stop."""
        user = update.effective_user
        if user is not None and await self._policy.allows(user.id):
            return
        code = _start_argument(update)
        if user is not None and code is not None and await self._policy.admit(user.id, code):
            log.info("access.admitted", user_id=user.id)  # never the code: it is a secret
            return
        log.info("access.refused", user_id=user.id if user else None, update_id=update.update_id)
        with contextlib.suppress(TelegramError):  # a refusal that cannot be delivered changes nothing
            await _refuse(update, context)
        raise ApplicationHandlerStop


def _start_argument(update: Update) -> str | None:
    """The code of ``/start <code>`` (what a t.me/<bot>?start=<code> link sends), or None."""
    message = update.message
    if message is None or message.text is None:
        return None
    parts = message.text.split()
    if len(parts) != 2 or parts[0].split("@", 1)[0] != "/start":
        return None
    return parts[1]


async def _refuse(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    tr = translator_of(update, context)
    if update.callback_query is not None:
        await update.callback_query.answer(tr(texts.PRIVATE))
    elif update.effective_message is not None:
        await update.effective_message.reply_text(tr(texts.PRIVATE))
