"""Payments in Stars through a real ``telegram.Bot``: invoices, the pre-checkout, the payment (delivered again, as
Telegram may), refunds once."""

from __future__ import annotations

import asyncio

import pytest
from telegram import Bot, LabeledPrice, Update
from telegram.error import BadRequest

from sandbox.telegram.checkout import CheckoutOutcome
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.integration
USER = 777


async def _invoice(bot: Bot, *, stars: int = 50) -> int:
    message = await bot.send_invoice(
        USER, "100 credits", "Credits for videos", "pack-payload", "XTR", [LabeledPrice("100 credits", stars)]
    )
    assert message.invoice is not None
    assert (message.invoice.currency, message.invoice.total_amount) == ("XTR", stars)
    return message.message_id


async def _next(bot: Bot, offset: int) -> Update:
    while True:
        updates = await bot.get_updates(offset=offset, timeout=1)
        if updates:
            return updates[0]


async def test_an_invoice_paid_after_an_ok_pre_checkout_sends_the_payment(telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(USER)
    async with telegram.make_bot() as bot:
        message_id = await _invoice(bot)
        [button] = telegram.emulator.message(USER, message_id).buttons  # type: ignore[union-attr]
        assert button == {"text": "Pay ⭐️50", "pay": True}

        paying = asyncio.create_task(asyncio.to_thread(telegram.emulator.checkout.pay, USER, message_id, USER))
        query_update = await _next(bot, 0)
        query = query_update.pre_checkout_query
        assert query is not None
        assert (query.invoice_payload, query.total_amount, query.from_user.id) == ("pack-payload", 50, USER)
        assert await bot.answer_pre_checkout_query(query.id, ok=True)
        outcome: CheckoutOutcome = await paying

        assert outcome.paid
        paid_update = await _next(bot, query_update.update_id + 1)
        payment = paid_update.message.successful_payment if paid_update.message else None
        assert payment is not None
        assert (payment.telegram_payment_charge_id, payment.total_amount) == (outcome.charge_id, 50)
        assert payment.invoice_payload == "pack-payload"

        assert outcome.charge_id is not None
        telegram.emulator.checkout.redeliver(USER, outcome.charge_id)
        again = await _next(bot, paid_update.update_id + 1)
        assert again.message is not None
        assert again.message.successful_payment == payment

        assert await bot.refund_star_payment(USER, outcome.charge_id)
        assert telegram.emulator.checkout.refunded(outcome.charge_id)
        with pytest.raises(BadRequest, match=r"(?i)CHARGE_ALREADY_REFUNDED"):
            await bot.refund_star_payment(USER, outcome.charge_id)


async def test_a_refused_pre_checkout_charges_nothing(telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(USER)
    async with telegram.make_bot() as bot:
        message_id = await _invoice(bot)
        paying = asyncio.create_task(asyncio.to_thread(telegram.emulator.checkout.pay, USER, message_id, USER))
        query = (await _next(bot, 0)).pre_checkout_query
        assert query is not None
        with pytest.raises(BadRequest):
            await bot.answer_pre_checkout_query(query.id, ok=False)  # a refusal must say why
        assert await bot.answer_pre_checkout_query(query.id, ok=False, error_message="This pack is gone.")
        outcome: CheckoutOutcome = await paying

        assert (outcome.paid, outcome.error_message) == (False, "This pack is gone.")
        assert telegram.emulator.world.payments == {}


async def test_an_unanswered_pre_checkout_times_out(telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(USER)
    async with telegram.make_bot() as bot:
        message_id = await _invoice(bot)

        outcome = await asyncio.to_thread(telegram.emulator.checkout.pay, USER, message_id, USER, timeout_s=0.2)

        assert outcome.timed_out
        assert not outcome.paid


async def test_invoices_follow_the_rules_for_stars(telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(USER)
    async with telegram.make_bot() as bot:
        with pytest.raises(BadRequest, match=r"(?i)CURRENCY_INVALID"):
            await bot.send_invoice(USER, "t", "d", "p", "USD", [LabeledPrice("x", 100)])
        with pytest.raises(BadRequest, match=r"(?i)STARS_INVOICE_INVALID"):
            await bot.send_invoice(USER, "t", "d", "p", "XTR", [LabeledPrice("a", 1), LabeledPrice("b", 2)])
        with pytest.raises(BadRequest, match=r"(?i)INVOICE_PAYLOAD_INVALID"):
            await bot.send_invoice(USER, "t", "d", "p" * 129, "XTR", [LabeledPrice("x", 1)])


async def test_a_refund_of_an_unknown_charge_or_one_telegram_refuses_fails(telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(USER)
    async with telegram.make_bot() as bot:
        with pytest.raises(BadRequest, match=r"(?i)CHARGE_NOT_FOUND"):
            await bot.refund_star_payment(USER, "stx-never")
        message_id = await _invoice(bot)
        paying = asyncio.create_task(asyncio.to_thread(telegram.emulator.checkout.pay, USER, message_id, USER))
        query = (await _next(bot, 0)).pre_checkout_query
        assert query is not None
        await bot.answer_pre_checkout_query(query.id, ok=True)
        outcome: CheckoutOutcome = await paying
        assert outcome.charge_id is not None
        telegram.emulator.refusing_refunds = True

        with pytest.raises(BadRequest, match=r"(?i)REFUND_FAILED"):
            await bot.refund_star_payment(USER, outcome.charge_id)
        assert not telegram.emulator.checkout.refunded(outcome.charge_id)
