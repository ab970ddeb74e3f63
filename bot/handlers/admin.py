"""/balance (with the last purchases) for everyone; /grant and /stats for the admins listed in ``admin.user_ids``."""

from __future__ import annotations

import time
from typing import Any

import structlog
from telegram import Message, Update
from telegram.ext import Application, CommandHandler, ContextTypes

from bot import texts
from bot.i18n import Translator
from bot.services import Services
from bot.stats_report import format_summary
from bot.user_language import translator_of
from storage.star_payments import Purchase, PurchaseState

log = structlog.get_logger(__name__)

STATS_WINDOW_S = 86400  # /stats: the last 24 hours
RECENT_PURCHASES_SHOWN = 5  # /balance


class AdminHandlers:
    """Credits and analytics commands."""

    def __init__(self, services: Services) -> None:
        self._s = services

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Attach the handlers."""
        application.add_handler(CommandHandler("balance", self.balance))
        application.add_handler(CommandHandler("grant", self.grant))
        application.add_handler(CommandHandler("stats", self.stats))

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/stats``: admins only; the analytics of the last 24 hours, per model."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        tr = translator_of(update, context)
        if not await admitted_as_admin(tr, self._s, message, user.id, "stats"):
            return
        summary = await self._s.analytics.summary(time.time() - STATS_WINDOW_S)
        await message.reply_text(format_summary(summary))

    async def balance(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The user's own balance."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        tr = translator_of(update, context)
        if self._s.credits is None:
            await message.reply_text(tr(texts.CREDITS_OFF))
            return
        balance = await self._s.credits.balance(user.id)
        lines = [tr.plural(texts.BALANCE, balance, balance=balance)]
        history = self._s.purchase_history
        recent = await history.recent(user.id, limit=RECENT_PURCHASES_SHOWN) if history is not None else []
        if recent:
            lines += ["", tr(texts.PURCHASES_HEADER), *(_line(tr, purchase) for purchase in recent)]
        await message.reply_text("\n".join(lines))

    async def grant(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/grant <user_id> <credits>``: admins only; a negative amount corrects a balance."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        tr = translator_of(update, context)
        if not await admitted_as_admin(tr, self._s, message, user.id, "grant"):
            return
        if self._s.credits is None:
            await message.reply_text(tr(texts.CREDITS_OFF))
            return
        args = context.args or []
        try:
            target, amount = int(args[0]), int(args[1])
        except (IndexError, ValueError):
            await message.reply_text(tr(texts.GRANT_USAGE))
            return
        balance = await self._s.credits.grant(target, amount)
        log.info("admin.granted", admin_id=user.id, target_user_id=target, amount=amount, balance=balance)
        await message.reply_text(tr.plural(texts.GRANTED, balance, user_id=target, balance=balance))


def _line(tr: Translator, purchase: Purchase) -> str:
    refunded = purchase.state is PurchaseState.REFUNDED
    return texts.purchase_line(tr, purchase.at, purchase.credits, purchase.stars, refunded=refunded)


async def admitted_as_admin(tr: Translator, services: Services, message: Message, user_id: int, command: str) -> bool:
    """Whether the user is an admin (``admin.user_ids``); anyone else is told so, and the refusal logged."""
    if user_id in services.settings.admin.user_ids:
        return True
    log.warning("admin.refused", user_id=user_id, command=command)
    await message.reply_text(tr(texts.ADMINS_ONLY))
    return False
