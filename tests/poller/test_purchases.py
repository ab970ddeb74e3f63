"""The purchase use case: who may pay, what a payment adds (once), and refunds only Telegram agreed to."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from poller.invoices import InvoicePayload, payload_key
from poller.purchases import CheckoutRefusal, Pack, Purchases, RefundOutcome, TelegramRefund
from storage.credits import RedisCredits
from storage.star_payments import RedisPurchases

KEY = payload_key("123:token")
PACK = Pack("p100", credits=100, stars=50, label="100 credits")
BUYER = 42


class Refunds:
    """Telegram's refundStarPayment, scripted."""

    def __init__(self) -> None:
        self.answer = (TelegramRefund.DONE, "")
        self.calls: list[tuple[int, str]] = []

    async def refund(self, user_id: int, charge_id: str) -> tuple[TelegramRefund, str]:
        self.calls.append((user_id, charge_id))
        return self.answer


@pytest.fixture
def refunds() -> Refunds:
    return Refunds()


@pytest.fixture
def credits(fake_redis: aioredis.Redis) -> RedisCredits:
    return RedisCredits(fake_redis, initial_balance=0)


@pytest.fixture
def purchases(fake_redis: aioredis.Redis, credits: RedisCredits, refunds: Refunds) -> Purchases:
    ledger = RedisPurchases(fake_redis, credits)
    return Purchases(packs=[PACK], payload_key=KEY, ledger=ledger, refunds=refunds, clock=lambda: 1.0)


def _payload(purchases: Purchases) -> str:
    made = purchases.invoice_payload("p100", BUYER)
    assert made is not None
    return made[1]


def test_the_buyers_own_invoice_at_its_price_may_be_paid(purchases: Purchases) -> None:
    assert purchases.check_checkout(_payload(purchases), BUYER, "XTR", 50) is None


@pytest.mark.parametrize(
    ("payer", "currency", "total", "refusal"),
    [
        (BUYER + 1, "XTR", 50, CheckoutRefusal.NOT_THE_BUYER),
        (BUYER, "XTR", 49, CheckoutRefusal.WRONG_AMOUNT),
        (BUYER, "USD", 50, CheckoutRefusal.WRONG_AMOUNT),
    ],
)
def test_a_checkout_by_someone_else_or_for_another_amount_is_refused(
    purchases: Purchases, payer: int, currency: str, total: int, refusal: CheckoutRefusal
) -> None:
    assert purchases.check_checkout(_payload(purchases), payer, currency, total) is refusal


def test_a_forged_or_stale_invoice_is_refused(purchases: Purchases, refunds: Refunds) -> None:
    forged = InvoicePayload("p100", BUYER, 100, 50).encode(payload_key("another bot"))
    gone = InvoicePayload("p999", BUYER, 100, 50).encode(KEY)
    repriced = InvoicePayload("p100", BUYER, 500, 50).encode(KEY)

    assert purchases.check_checkout(forged, BUYER, "XTR", 50) is CheckoutRefusal.UNREADABLE
    assert purchases.check_checkout(gone, BUYER, "XTR", 50) is CheckoutRefusal.PACK_GONE
    assert purchases.check_checkout(repriced, BUYER, "XTR", 50) is CheckoutRefusal.PACK_GONE
    assert purchases.invoice_payload("p999", BUYER) is None


async def test_a_payment_adds_the_packs_credits_once(purchases: Purchases, credits: RedisCredits) -> None:
    payload = _payload(purchases)

    first = await purchases.paid(payload, BUYER, "ch-1", 50)
    again = await purchases.paid(payload, BUYER, "ch-1", 50)

    assert first is not None
    assert again is not None
    assert (first.added, first.credits, first.balance) == (True, 100, 100)
    assert (again.added, again.balance) == (False, 100)
    assert await credits.balance(BUYER) == 100


async def test_an_unreadable_payment_credits_nothing(purchases: Purchases, credits: RedisCredits) -> None:
    assert await purchases.paid("garbage", BUYER, "ch-1", 50) is None
    assert await credits.balance(BUYER) == 0


async def test_a_refund_asks_telegram_then_takes_the_credits_back_once(
    purchases: Purchases, credits: RedisCredits, refunds: Refunds
) -> None:
    await purchases.paid(_payload(purchases), BUYER, "ch-1", 50)

    done = await purchases.refund("ch-1")
    again = await purchases.refund("ch-1")

    assert (done.outcome, done.taken, done.balance) == (RefundOutcome.REFUNDED, 100, 0)
    assert again.outcome is RefundOutcome.ALREADY
    assert refunds.calls == [(BUYER, "ch-1")]


async def test_a_refund_telegram_refuses_changes_nothing(
    purchases: Purchases, credits: RedisCredits, refunds: Refunds
) -> None:
    await purchases.paid(_payload(purchases), BUYER, "ch-1", 50)
    refunds.answer = (TelegramRefund.REFUSED, "REFUND_FAILED")

    refused = await purchases.refund("ch-1")
    refunds.answer = (TelegramRefund.DONE, "")
    later = await purchases.refund("ch-1")

    assert (refused.outcome, refused.reason) == (RefundOutcome.TELEGRAM_REFUSED, "REFUND_FAILED")
    assert later.outcome is RefundOutcome.REFUNDED
    assert await credits.balance(BUYER) == 0


async def test_a_refund_telegram_already_made_still_takes_the_credits_back(
    purchases: Purchases, credits: RedisCredits, refunds: Refunds
) -> None:
    await purchases.paid(_payload(purchases), BUYER, "ch-1", 50)
    refunds.answer = (TelegramRefund.ALREADY, "CHARGE_ALREADY_REFUNDED")  # a crash after Telegram's refund

    done = await purchases.refund("ch-1")

    assert (done.outcome, done.balance) == (RefundOutcome.REFUNDED, 0)


async def test_spent_credits_are_taken_back_only_with_force(
    purchases: Purchases, credits: RedisCredits, refunds: Refunds
) -> None:
    await purchases.paid(_payload(purchases), BUYER, "ch-1", 50)
    await credits.grant(BUYER, -70)

    spent = await purchases.refund("ch-1")
    forced = await purchases.refund("ch-1", force=True)

    assert (spent.outcome, spent.balance, spent.credits) == (RefundOutcome.CREDITS_SPENT, 30, 100)
    assert refunds.calls == [(BUYER, "ch-1")]
    assert (forced.outcome, forced.taken, forced.balance) == (RefundOutcome.REFUNDED, 30, 0)


async def test_an_unknown_charge_is_not_refunded(purchases: Purchases, refunds: Refunds) -> None:
    assert (await purchases.refund("never")).outcome is RefundOutcome.UNKNOWN
    assert refunds.calls == []
