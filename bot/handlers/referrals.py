"""Invitations: ``/invite`` gives the user their link (``https://t.me/<bot>?start=ref_<code>``); a newcomer who starts
the bot through it is linked to the inviter once. The greeting itself is ``/start``'s own handler."""

from __future__ import annotations

from typing import Any

import structlog
from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes

from bot import texts
from bot.services import Services
from bot.user_language import translator_of
from storage.referrals import LinkOutcome

log = structlog.get_logger(__name__)

REFERRAL_PREFIX = "ref_"
# Before the handlers that answer (a /start with a referral still gets the usual greeting after it).
REFERRAL_GROUP = -1


class ReferralHandlers:
    """``/invite``, and the link a ``/start ref_<code>`` makes."""

    def __init__(self, services: Services) -> None:
        self._s = services

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Attach the handlers."""
        application.add_handler(CommandHandler("invite", self.invite))
        application.add_handler(CommandHandler("start", self.follow, has_args=1), group=REFERRAL_GROUP)

    async def invite(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The user's invite link (and the bonus, when there is one)."""
        message, user = update.effective_message, update.effective_user
        referrals = self._s.referrals
        if message is None or user is None or referrals is None:
            return
        code = await referrals.code_for(user.id)
        link = f"https://t.me/{context.bot.username}?start={REFERRAL_PREFIX}{code}"
        tr = translator_of(update, context)
        text = tr(texts.INVITE, link=link)
        bonus = self._s.settings.credits.referral_bonus
        if bonus > 0 and self._s.credits is not None:
            text += "\n\n" + tr.plural(texts.INVITE_BONUS, bonus, bonus=bonus)
        await message.reply_text(text)

    async def follow(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/start ref_<code>`` from a newcomer (no video made yet): linked to the inviter once."""
        message, user = update.effective_message, update.effective_user
        referrals = self._s.referrals
        argument = (context.args or [""])[0]
        if message is None or user is None or referrals is None or not argument.startswith(REFERRAL_PREFIX):
            return
        if await self._s.jobs.jobs_for_user(user.id, limit=1):
            log.info("referral.not_new", user_id=user.id)  # an existing user is never (re)linked by a link
            return
        outcome = await referrals.link(user.id, argument.removeprefix(REFERRAL_PREFIX))
        if outcome is LinkOutcome.LINKED:
            await message.reply_text(translator_of(update, context)(texts.REFERRAL_WELCOME))
