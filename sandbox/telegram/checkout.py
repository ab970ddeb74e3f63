"""The buyer's side of a payment in Stars: a person presses Pay on an invoice; Telegram asks the bot (the
pre-checkout query, answered within 10 seconds), and on ``ok`` charges and sends the bot the successful payment.

Telegram may deliver the ``successful_payment`` update more than once; ``redeliver`` does so on purpose."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sandbox.telegram.models import JSON, PreCheckout, StarPayment
from sandbox.telegram.serialize import user_dict

if TYPE_CHECKING:
    from sandbox.telegram.state import TelegramEmulator

PRE_CHECKOUT_TIMEOUT_S = 10.0  # Telegram cancels the payment when the bot has not answered by then


@dataclass(frozen=True)
class CheckoutOutcome:
    """How a payment went: paid (with its charge id), refused by the bot (its message), or not answered in time."""

    paid: bool
    charge_id: str | None = None
    error_message: str | None = None
    timed_out: bool = False


class Checkout:
    """Payments made by the people of one emulator."""

    def __init__(self, emulator: TelegramEmulator) -> None:
        self._emulator = emulator

    def pre_checkout(
        self, user_id: int, *, payload: str, total_amount: int, currency: str = "XTR", token: str | None = None
    ) -> str:
        """Send the bot a pre-checkout query as Telegram would (any payload: a test may forge one); its id."""
        emulator = self._emulator
        world = emulator.world
        with world.change():
            user = world.users.get(user_id) or emulator.add_user(user_id, f"User {user_id}")
            query_id = f"pcq{secrets.randbelow(10**12):012d}"
            world.pre_checkouts[query_id] = PreCheckout(query_id, user_id, currency, total_amount, payload)
            update: JSON = {
                "id": query_id,
                "from": user_dict(user),
                "currency": currency,
                "total_amount": total_amount,
                "invoice_payload": payload,
            }
            emulator.deliver_update(token, "pre_checkout_query", update)
        return query_id

    def answer_of(self, query_id: str) -> JSON | None:
        """The bot's answer to a pre-checkout query, or None while it has not answered."""
        with self._emulator.world.lock:
            query = self._emulator.world.pre_checkouts.get(query_id)
            return None if query is None or query.answer is None else dict(query.answer)

    def pay(
        self, chat_id: int, message_id: int, user_id: int, *, token: str | None = None, timeout_s: float | None = None
    ) -> CheckoutOutcome:
        """A person pays an invoice: the pre-checkout query, then (on ok) the charge and the successful payment.
        Blocks until the bot answers or Telegram's 10 seconds pass; call it from a thread in async code."""
        world = self._emulator.world
        with world.lock:
            offer = world.invoices.get((chat_id, message_id))
        if offer is None:
            raise ValueError(f"message {message_id} in chat {chat_id} is not an invoice")
        query_id = self.pre_checkout(user_id, payload=offer.payload, total_amount=offer.total_amount, token=token)
        deadline = time.monotonic() + (timeout_s or PRE_CHECKOUT_TIMEOUT_S)
        while (answer := self.answer_of(query_id)) is None:
            if time.monotonic() > deadline:
                return CheckoutOutcome(False, timed_out=True)
            time.sleep(0.02)
        if not answer["ok"]:
            return CheckoutOutcome(False, error_message=answer.get("error_message"))
        charge_id = f"stxSANDBOX{secrets.token_hex(12)}"
        with world.change():
            world.payments[charge_id] = StarPayment(charge_id, user_id, offer.bot_id, offer.total_amount, offer.payload)
        self._send_receipt(chat_id, user_id, charge_id, token)
        return CheckoutOutcome(True, charge_id=charge_id)

    def redeliver(self, chat_id: int, charge_id: str, *, token: str | None = None) -> JSON:
        """Deliver a payment's ``successful_payment`` once more (Telegram may)."""
        with self._emulator.world.lock:
            user_id = self._emulator.world.payments[charge_id].user_id
        return self._send_receipt(chat_id, user_id, charge_id, token)

    def refunded(self, charge_id: str) -> bool:
        """Whether the bot refunded the payment."""
        with self._emulator.world.lock:
            return self._emulator.world.payments[charge_id].refunded

    def _send_receipt(self, chat_id: int, user_id: int, charge_id: str, token: str | None) -> JSON:
        with self._emulator.world.lock:
            payment = self._emulator.world.payments[charge_id]
            receipt: JSON = {
                "currency": "XTR",
                "total_amount": payment.total_amount,
                "invoice_payload": payment.payload,
                "telegram_payment_charge_id": charge_id,
                "provider_payment_charge_id": "",
            }
        return self._emulator.send_service_message(chat_id, user_id, successful_payment=receipt, token=token)
