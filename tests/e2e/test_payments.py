"""Credits for Telegram Stars against the Telegram stand-in: /buy, the invoice, the pre-checkout, a payment
delivered twice, forged checkouts, an admin's refund, /balance, /paysupport and /terms."""

from __future__ import annotations

import asyncio

import pytest

from bot import texts
from bot.i18n import ENGLISH
from bot.settings import Settings
from poller.invoices import InvoicePayload, payload_key
from sandbox.telegram.checkout import CheckoutOutcome
from tests.e2e.conftest import ALICE, BOB, SettingsFactory, bot_messages, running
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.e2e

PACK = {"id": "p100", "credits": 100, "stars": 50, "label": "100 credits"}


def paid_settings(make_settings: SettingsFactory) -> Settings:
    return make_settings(credits={"enabled": True, "initial_balance": 0, "packs": [PACK]}, admin={"user_ids": [BOB]})


def _last(telegram: TelegramStandIn, user: int) -> str:
    messages = bot_messages(telegram, user)
    return (messages[-1].text or "") if messages else ""


def _invoice_id(telegram: TelegramStandIn, user: int) -> int | None:
    return next((m.message_id for m in bot_messages(telegram, user) if m.invoice is not None), None)


async def _buy(telegram: TelegramStandIn, user: int) -> int:
    """/buy, press the pack's button; the invoice's message id."""
    tg = telegram.emulator
    tg.send_text(user, user, "/buy")
    menu = await tg.wait_for_async(
        lambda: next((m for m in bot_messages(telegram, user) if m.text == texts.BUY_MENU), None), what="the packs"
    )
    [button] = menu.buttons
    assert button["text"] == texts.pack_button("100 credits", 50)
    tg.press_button(user, menu.message_id, user, button["callback_data"])
    return await tg.wait_for_async(lambda: _invoice_id(telegram, user), what="the invoice")


async def test_a_purchase_credits_once_and_an_admin_refund_takes_it_back_once(
    make_settings: SettingsFactory, telegram: TelegramStandIn
) -> None:
    tg = telegram.emulator
    async with running(paid_settings(make_settings)) as reelay:
        assert reelay.credits is not None
        invoice_id = await _buy(telegram, ALICE)
        invoice = tg.message(ALICE, invoice_id)
        assert invoice is not None
        assert invoice.invoice == {
            "title": "100 credits",
            "description": ENGLISH.plural(texts.INVOICE_DESCRIPTION, 100, credits=100),
            "start_parameter": "",
            "currency": "XTR",
            "total_amount": 50,
        }
        [sent] = tg.calls("sendInvoice")
        assert sent.params["provider_token"] == ""

        outcome: CheckoutOutcome = await asyncio.to_thread(tg.checkout.pay, ALICE, invoice_id, ALICE)
        assert outcome.paid, "the pre-checkout was answered ok within Telegram's 10 s"
        assert outcome.charge_id is not None
        paid = ENGLISH.plural(texts.PAID, 100, credits=100, balance=100)
        await tg.wait_for_async(lambda: any(m.text == paid for m in bot_messages(telegram, ALICE)), what="thanks")

        tg.checkout.redeliver(ALICE, outcome.charge_id)  # Telegram delivers the payment again
        tg.send_text(ALICE, ALICE, "/balance")
        await tg.wait_for_async(
            lambda: (bot_messages(telegram, ALICE)[-1].text or "").startswith(
                ENGLISH.plural(texts.BALANCE, 100, balance=100)
            ),
            what="the balance after the redelivery",
        )
        assert texts.PURCHASES_HEADER in (bot_messages(telegram, ALICE)[-1].text or "")
        assert await reelay.credits.balance(ALICE) == 100, "credited once"
        assert sum(m.text == paid for m in bot_messages(telegram, ALICE)) == 1

        tg.send_text(ALICE, ALICE, f"/refund {outcome.charge_id}")  # not an admin
        await tg.wait_for_async(lambda: _last(telegram, ALICE) == texts.ADMINS_ONLY, what="refusal")

        tg.send_text(BOB, BOB, f"/refund {outcome.charge_id}")
        refunded = texts.REFUNDED.format(user_id=ALICE, taken=100, balance=0)
        await tg.wait_for_async(lambda: _last(telegram, BOB) == refunded, what="the refund")
        tg.send_text(BOB, BOB, f"/refund {outcome.charge_id}")
        await tg.wait_for_async(lambda: _last(telegram, BOB) == texts.REFUND_ALREADY, what="the second refund")
        assert tg.checkout.refunded(outcome.charge_id)
        assert len(tg.calls("refundStarPayment")) == 1
        assert await reelay.credits.balance(ALICE) == 0


async def test_forged_checkouts_are_refused(make_settings: SettingsFactory, telegram: TelegramStandIn) -> None:
    tg = telegram.emulator
    async with running(paid_settings(make_settings)) as reelay:
        invoice_id = await _buy(telegram, ALICE)

        stolen = await asyncio.to_thread(tg.checkout.pay, ALICE, invoice_id, BOB)  # Bob pays Alice's invoice
        key = payload_key(telegram.token)
        unknown = tg.checkout.pre_checkout(
            ALICE, payload=InvoicePayload("p999", ALICE, 100, 50).encode(key), total_amount=50
        )
        cheap = tg.checkout.pre_checkout(
            ALICE, payload=InvoicePayload("p100", ALICE, 100, 50).encode(key), total_amount=1
        )
        forged = tg.checkout.pre_checkout(ALICE, payload="r1.p100.1001.100.50.0000", total_amount=50)

        assert (stolen.paid, stolen.error_message) == (False, texts.CHECKOUT_REFUSALS["not_the_buyer"])
        for query_id, reason in ((unknown, "pack_gone"), (cheap, "wrong_amount"), (forged, "unreadable")):
            answer = await tg.wait_for_async(lambda q=query_id: tg.checkout.answer_of(q), what=f"the {reason} answer")
            assert answer == {"ok": False, "error_message": texts.CHECKOUT_REFUSALS[reason]}
        assert reelay.credits is not None
        assert await reelay.credits.balance(ALICE) == 0
        assert await reelay.credits.balance(BOB) == 0
        assert tg.world.payments == {}


async def test_out_of_credits_offers_the_packs_and_support_answers(
    make_settings: SettingsFactory, telegram: TelegramStandIn
) -> None:
    tg = telegram.emulator
    async with running(paid_settings(make_settings)) as reelay:
        assert reelay.credits is not None
        tg.send_text(ALICE, ALICE, "a fox in the snow")
        refusal = await tg.wait_for_async(
            lambda: next(
                (m for m in bot_messages(telegram, ALICE) if m.text == texts.out_of_credits(ENGLISH, 0, 10)), None
            ),
            what="the out-of-credits answer",
        )
        [buy] = refusal.buttons
        tg.press_button(ALICE, refusal.message_id, ALICE, buy["callback_data"])
        await tg.wait_for_async(lambda: _last(telegram, ALICE) == texts.BUY_MENU, what="the packs")

        tg.send_text(ALICE, ALICE, "/paysupport")
        support = reelay.settings.payments.support_text
        await tg.wait_for_async(lambda: _last(telegram, ALICE) == support, what="/paysupport")
        tg.send_text(ALICE, ALICE, "/terms")
        terms = reelay.settings.payments.terms_text
        await tg.wait_for_async(lambda: _last(telegram, ALICE) == terms, what="/terms")


async def test_an_invitation_pays_both_once_at_the_first_purchase(
    make_settings: SettingsFactory, telegram: TelegramStandIn
) -> None:
    tg = telegram.emulator
    settings = make_settings(
        credits={"enabled": True, "initial_balance": 0, "packs": [PACK], "referral_bonus": 25}, admin={"user_ids": []}
    )
    async with running(settings) as reelay:
        assert reelay.credits is not None
        tg.send_text(BOB, BOB, "/invite")
        invite = await tg.wait_for_async(lambda: _last(telegram, BOB), what="the invite link")
        link = invite.splitlines()[1]
        assert link.startswith(f"https://t.me/{tg.bot_user.username}?start=ref_")
        assert ENGLISH.plural(texts.INVITE_BONUS, 25, bonus=25) in invite
        start = link.rsplit("=", 1)[1]

        tg.send_command(BOB, BOB, "start", start)  # following one's own link links nothing
        tg.send_command(ALICE, ALICE, "start", start)
        await tg.wait_for_async(
            lambda: texts.REFERRAL_WELCOME in [m.text for m in bot_messages(telegram, ALICE)], what="the welcome"
        )
        assert texts.REFERRAL_WELCOME not in [m.text for m in bot_messages(telegram, BOB)]

        invoice_id = await _buy(telegram, ALICE)
        outcome: CheckoutOutcome = await asyncio.to_thread(tg.checkout.pay, ALICE, invoice_id, ALICE)
        assert outcome.charge_id is not None
        bonus_note = ENGLISH.plural(texts.REFERRAL_BONUS_INVITEE, 25, bonus=25, balance=125)
        await tg.wait_for_async(lambda: bonus_note in [m.text for m in bot_messages(telegram, ALICE)], what="bonus")
        inviter_note = ENGLISH.plural(texts.REFERRAL_BONUS_INVITER, 25, bonus=25)
        await tg.wait_for_async(lambda: inviter_note in [m.text for m in bot_messages(telegram, BOB)], what="note")

        tg.checkout.redeliver(ALICE, outcome.charge_id)
        tg.send_text(ALICE, ALICE, "/balance")
        await tg.wait_for_async(
            lambda: _last(telegram, ALICE).startswith(ENGLISH.plural(texts.BALANCE, 125, balance=125)),
            what="the balance",
        )
        assert await reelay.credits.balance(ALICE) == 125
        assert await reelay.credits.balance(BOB) == 25
