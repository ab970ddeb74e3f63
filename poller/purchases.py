"""Buying credits for Telegram Stars: the use case behind ``/buy``, the pre-checkout, the payment and ``/refund``.

The rules, in one place: an invoice names a pack, its price and credits and its buyer (a signed payload,
:mod:`poller.invoices`); the pre-checkout says yes only to a payload this deployment signed, for a pack that still
exists at that price, paid in Stars by the buyer it was made for; a payment adds the credits the buyer saw, once per
``telegram_payment_charge_id`` (the ledger's script); a refund takes them back once, and only after Telegram agreed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import structlog

from poller.invoices import InvoicePayload

log = structlog.get_logger(__name__)

STARS = "XTR"


@dataclass(frozen=True, slots=True)
class Pack:
    """Credits for sale."""

    id: str
    credits: int
    stars: int
    label: str
    label_translations: Mapping[str, str] = field(default_factory=dict)  # language code -> label

    def label_in(self, language: str) -> str:
        """The label a user speaking ``language`` sees (``label`` when there is none in that language)."""
        return self.label_translations.get(language, self.label)


class CheckoutRefusal(StrEnum):
    """Why a pre-checkout is answered ``ok = false``."""

    UNREADABLE = "unreadable"  # not an invoice this deployment made
    PACK_GONE = "pack_gone"  # the pack was removed, or its price or credits changed since the invoice
    NOT_THE_BUYER = "not_the_buyer"  # paid by someone the invoice was not made for
    WRONG_AMOUNT = "wrong_amount"  # not the invoice's price, or not in Stars


@dataclass(frozen=True, slots=True)
class Paid:
    """A payment handled: ``added`` False when this charge was credited before (a redelivery); ``inviter`` set when
    this payment paid the invitation bonus (to the buyer and to that inviter) just now."""

    added: bool
    credits: int
    balance: int
    inviter: int | None = None


class ReferralRewards(Protocol):
    """The invitation bonus (``storage.referrals.RedisReferrals``)."""

    async def inviter_of(self, invitee_id: int) -> int | None:
        """Who invited the user, if anyone."""
        ...

    async def reward(self, invitee_id: int, bonus: int) -> bool:
        """The bonus to the invitee and the inviter, each once; True when anything was paid now."""
        ...


class RefundOutcome(StrEnum):
    """What ``/refund`` did."""

    REFUNDED = "refunded"
    UNKNOWN = "unknown"
    ALREADY = "already"
    CREDITS_SPENT = "credits_spent"  # needs force
    TELEGRAM_REFUSED = "telegram_refused"


@dataclass(frozen=True, slots=True)
class Refund:
    """The outcome of a refund, with the buyer's balance after it and the credits taken back."""

    outcome: RefundOutcome
    user_id: int | None = None
    balance: int = 0
    taken: int = 0
    credits: int = 0
    reason: str = ""  # Telegram's words when it refused


class TelegramRefund(StrEnum):
    """How Telegram answered ``refundStarPayment``."""

    DONE = "done"
    ALREADY = "already"  # an earlier attempt went through (a crash before the credits were taken back)
    REFUSED = "refused"


class StarRefunds(Protocol):
    """Telegram's side of a refund."""

    async def refund(self, user_id: int, charge_id: str) -> tuple[TelegramRefund, str]:
        """Give the Stars of ``charge_id`` back to ``user_id``; the outcome and Telegram's words."""
        ...


@dataclass(frozen=True, slots=True)
class LedgerCredit:
    """What the ledger answers when a payment is credited."""

    added: bool
    balance: int


class PurchaseLedger(Protocol):
    """Where purchases and their credits are kept (``storage.star_payments.RedisPurchases``)."""

    async def credit_payment(
        self, *, charge_id: str, user_id: int, pack_id: str, stars: int, credits: int, at: float
    ) -> LedgerCredit:
        """Add the credits once per charge id."""
        ...

    async def begin_refund(self, charge_id: str, *, force: bool) -> tuple[str, int | None, int, int]:
        """(check, buyer, balance, credits): check is ready, unknown, already_refunded or credits_spent."""
        ...

    async def finish_refund(self, user_id: int, charge_id: str) -> tuple[int, int]:
        """Take the credits back once: (balance, taken)."""
        ...

    async def abort_refund(self, user_id: int, charge_id: str) -> None:
        """Telegram refused: the purchase is as it was."""
        ...


class Purchases:
    """The purchase use case, on a ledger and Telegram's refunds."""

    def __init__(
        self,
        *,
        packs: Sequence[Pack],
        payload_key: bytes,
        ledger: PurchaseLedger,
        refunds: StarRefunds,
        referrals: ReferralRewards | None = None,
        referral_bonus: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._packs = {pack.id: pack for pack in packs}
        self._key = payload_key
        self._ledger = ledger
        self._refunds = refunds
        self._referrals = referrals if referral_bonus > 0 else None
        self.referral_bonus = referral_bonus
        self._clock = clock

    @property
    def packs(self) -> list[Pack]:
        """The packs for sale, in the configured order."""
        return list(self._packs.values())

    def invoice_payload(self, pack_id: str, user_id: int) -> tuple[Pack, str] | None:
        """The pack and the signed payload of an invoice for ``user_id``; None for a pack not for sale."""
        pack = self._packs.get(pack_id)
        if pack is None:
            return None
        return pack, InvoicePayload(pack.id, user_id, pack.credits, pack.stars).encode(self._key)

    def check_checkout(self, payload: str, payer_id: int, currency: str, total: int) -> CheckoutRefusal | None:
        """None when the payment may go ahead, else why not (answered within Telegram's 10 s: no I/O here)."""
        parsed = InvoicePayload.parse(payload, self._key)
        if parsed is None:
            return CheckoutRefusal.UNREADABLE
        if parsed.user_id != payer_id:
            return CheckoutRefusal.NOT_THE_BUYER
        if currency != STARS or total != parsed.stars:
            return CheckoutRefusal.WRONG_AMOUNT
        pack = self._packs.get(parsed.pack_id)
        if pack is None or (pack.stars, pack.credits) != (parsed.stars, parsed.credits):
            return CheckoutRefusal.PACK_GONE
        return None

    async def paid(self, payload: str, payer_id: int, charge_id: str, total: int) -> Paid | None:
        """Credit a successful payment once; None when its payload is unreadable (nothing can be credited: the
        operator must look at the charge)."""
        parsed = InvoicePayload.parse(payload, self._key)
        if parsed is None:
            log.error("payment.unreadable_payload", user_id=payer_id, charge_id=charge_id)
            return None
        if parsed.user_id != payer_id or parsed.stars != total:
            # The pre-checkout refuses both; a payment that still arrives was made: credit what the invoice said.
            log.warning("payment.mismatch", user_id=payer_id, invoice_user_id=parsed.user_id, total=total)
        credited = await self._ledger.credit_payment(
            charge_id=charge_id,
            user_id=payer_id,
            pack_id=parsed.pack_id,
            stars=parsed.stars,
            credits=parsed.credits,
            at=self._clock(),
        )
        inviter = None
        # After every delivery of a payment, not only the first: each bonus is paid once, so a crash between the two
        # grants is repaired by Telegram's next delivery.
        if self._referrals is not None and await self._referrals.reward(payer_id, self.referral_bonus):
            inviter = await self._referrals.inviter_of(payer_id)
        return Paid(added=credited.added, credits=parsed.credits, balance=credited.balance, inviter=inviter)

    async def refund(self, charge_id: str, *, force: bool = False) -> Refund:
        """Give the Stars back and take the credits back once; a refund Telegram refuses changes nothing."""
        check, user_id, balance, credits = await self._ledger.begin_refund(charge_id, force=force)
        if check == "unknown" or user_id is None:
            return Refund(RefundOutcome.UNKNOWN)
        if check == "already_refunded":
            return Refund(RefundOutcome.ALREADY, user_id, balance, credits=credits)
        if check == "credits_spent":
            return Refund(RefundOutcome.CREDITS_SPENT, user_id, balance, credits=credits)
        answer, reason = await self._refunds.refund(user_id, charge_id)
        if answer is TelegramRefund.REFUSED:
            await self._ledger.abort_refund(user_id, charge_id)
            log.warning("payment.refund_refused", user_id=user_id, reason=reason)
            return Refund(RefundOutcome.TELEGRAM_REFUSED, user_id, balance, credits=credits, reason=reason)
        balance, taken = await self._ledger.finish_refund(user_id, charge_id)
        return Refund(RefundOutcome.REFUNDED, user_id, balance, taken, credits)
