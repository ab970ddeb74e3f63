"""Credits for Telegram Stars: ``/buy`` and its buttons, the invoice, the pre-checkout, the successful payment,
``/refund`` for admins, ``/paysupport`` and ``/terms``. The rules are the core's (:mod:`poller.purchases`); these
handlers translate Telegram's updates and answers."""

from __future__ import annotations

from typing import Any

import structlog
from telegram import CallbackQuery, LabeledPrice, Message, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    PreCheckoutQueryHandler,
    filters,
)

from bot import keyboards, texts
from bot.callback_data import Action
from bot.handlers.admin import admitted_as_admin
from bot.handlers.presses import pressed
from bot.i18n import Translator, translator
from bot.services import Services
from bot.user_language import saved_language, translator_of
from poller.purchases import STARS, Purchases, Refund, RefundOutcome

log = structlog.get_logger(__name__)


class PaymentHandlers:
    """Buying credits; every answer comes from the purchase use case."""

    def __init__(self, services: Services) -> None:
        self._s = services

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Attach the handlers (the payment before any text handler sees the message)."""
        application.add_handler(CommandHandler("buy", self.buy))
        application.add_handler(CommandHandler("refund", self.refund))
        application.add_handler(CommandHandler("paysupport", self.support))
        application.add_handler(CommandHandler("terms", self.terms))
        application.add_handler(CallbackQueryHandler(self.on_press, pattern=r"^buy(:|$)"))
        application.add_handler(PreCheckoutQueryHandler(self.pre_checkout))
        application.add_handler(MessageHandler(filters.SUCCESSFUL_PAYMENT, self.paid))

    async def buy(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/buy``: the packs for sale, one button each."""
        message = update.effective_message
        if message is not None:
            await self._show_packs(translator_of(update, context), message)

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A pack's button sends its invoice to whoever pressed it; the bare Buy button shows the packs."""
        press = await pressed(update, context, (Action.BUY,))
        if press is None:
            return
        query, data, tr = press.query, press.data, press.tr
        purchases = self._s.purchases
        if purchases is None:  # a Buy button left from when credits were sold
            await query.answer(tr(texts.BUTTON_EXPIRED))
            return
        if not data.arg:
            await query.answer()
            if isinstance(query.message, Message):
                await self._show_packs(tr, query.message)
            return
        await self._send_invoice(tr, query, purchases, data.arg)

    async def pre_checkout(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Yes only to this deployment's invoice, for its buyer, at its price (no I/O: Telegram waits 10 s)."""
        query = update.pre_checkout_query
        if query is None:
            return
        purchases = self._s.purchases
        refusal = (
            purchases.check_checkout(query.invoice_payload, query.from_user.id, query.currency, query.total_amount)
            if purchases is not None
            else "pack_gone"
        )
        if refusal is None:
            await query.answer(ok=True)
            return
        log.warning("payment.checkout_refused", user_id=query.from_user.id, reason=str(refusal))
        tr = translator_of(update, context)
        await query.answer(ok=False, error_message=tr(texts.CHECKOUT_REFUSALS[str(refusal)]))

    async def paid(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Credit the payment once per charge id (Telegram may deliver it more than once), then say so."""
        message, user = update.effective_message, update.effective_user
        payment = message.successful_payment if message is not None else None
        if message is None or user is None or payment is None:
            return
        tr = translator_of(update, context)
        purchases = self._s.purchases
        if purchases is None or payment.currency != STARS:
            log.error("payment.unexpected", user_id=user.id, currency=payment.currency)
            await message.reply_text(tr(texts.PAYMENT_UNREADABLE))
            return
        outcome = await purchases.paid(
            payment.invoice_payload, user.id, payment.telegram_payment_charge_id, payment.total_amount
        )
        if outcome is None:
            await message.reply_text(tr(texts.PAYMENT_UNREADABLE))
            return
        if outcome.added:
            paid = tr.plural(texts.PAID, outcome.balance, credits=outcome.credits, balance=outcome.balance)
            await message.reply_text(paid)
        if outcome.inviter is not None and purchases.referral_bonus > 0:
            inviter_language = saved_language(context.application.user_data.get(outcome.inviter))
            bonus = purchases.referral_bonus
            await self._tell_bonus(tr, translator(inviter_language), message, user.id, outcome.inviter, bonus)

    async def refund(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/refund <charge_id> [force]``: admins only."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        tr = translator_of(update, context)
        if not await admitted_as_admin(tr, self._s, message, user.id, "refund"):
            return
        purchases = self._s.purchases
        if purchases is None:
            await message.reply_text(tr(texts.BUY_NONE))
            return
        args = context.args or []
        if not 1 <= len(args) <= 2 or (len(args) == 2 and args[1] != "force"):
            await message.reply_text(tr(texts.REFUND_USAGE))
            return
        done = await purchases.refund(args[0], force=len(args) == 2)
        log.info("admin.refund", admin_id=user.id, outcome=done.outcome.value, user_id=done.user_id)
        await message.reply_text(_refund_text(tr, done, args[0]))

    async def support(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/paysupport``."""
        if update.effective_message is not None:
            language = translator_of(update, context).language
            await update.effective_message.reply_text(self._s.settings.payments.support_text_in(language))

    async def terms(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/terms``."""
        if update.effective_message is not None:
            language = translator_of(update, context).language
            await update.effective_message.reply_text(self._s.settings.payments.terms_text_in(language))

    async def _tell_bonus(
        self, tr: Translator, inviter_tr: Translator, message: Message, buyer: int, inviter: int, bonus: int
    ) -> None:
        credits = self._s.credits
        balance = await credits.balance(buyer) if credits is not None else 0
        await message.reply_text(tr.plural(texts.REFERRAL_BONUS_INVITEE, bonus, bonus=bonus, balance=balance))
        try:
            told = inviter_tr.plural(texts.REFERRAL_BONUS_INVITER, bonus, bonus=bonus)
            await message.get_bot().send_message(inviter, told)
        except TelegramError:
            log.warning("referral.inviter_not_told", inviter_id=inviter)  # the bonus stands; only the note is lost

    async def _show_packs(self, tr: Translator, message: Message) -> None:
        purchases = self._s.purchases
        if purchases is None or not purchases.packs:
            await message.reply_text(tr(texts.BUY_NONE))
            return
        await message.reply_text(tr(texts.BUY_MENU), reply_markup=keyboards.packs(tr, purchases.packs))

    async def _send_invoice(self, tr: Translator, query: CallbackQuery, purchases: Purchases, pack_id: str) -> None:
        made = purchases.invoice_payload(pack_id, query.from_user.id)
        if made is None:
            await query.answer(tr(texts.CHECKOUT_REFUSALS["pack_gone"]), show_alert=True)
            return
        pack, payload = made
        await query.answer()
        await query.get_bot().send_invoice(
            chat_id=query.from_user.id,
            title=pack.label_in(tr.language),
            description=tr.plural(texts.INVOICE_DESCRIPTION, pack.credits, credits=pack.credits),
            payload=payload,
            currency=STARS,
            prices=[LabeledPrice(pack.label_in(tr.language), pack.stars)],
            provider_token="",  # payments in Stars take none
        )
        log.info("payment.invoice_sent", user_id=query.from_user.id, pack=pack.id, stars=pack.stars)


def _refund_text(tr: Translator, done: Refund, charge_id: str) -> str:
    match done.outcome:
        case RefundOutcome.REFUNDED:
            return tr(texts.REFUNDED, user_id=done.user_id, taken=done.taken, balance=done.balance)
        case RefundOutcome.UNKNOWN:
            return tr(texts.REFUND_UNKNOWN)
        case RefundOutcome.ALREADY:
            return tr(texts.REFUND_ALREADY)
        case RefundOutcome.CREDITS_SPENT:
            return tr(
                texts.REFUND_SPENT,
                user_id=done.user_id,
                balance=done.balance,
                credits=done.credits,
                charge_id=charge_id,
            )
        case RefundOutcome.TELEGRAM_REFUSED:
            return tr(texts.REFUND_REFUSED, reason=done.reason or "-")
