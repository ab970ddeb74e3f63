"""Telegram's ``refundStarPayment`` as the purchase use case's ``StarRefunds`` port."""

from __future__ import annotations

from typing import Any

import structlog
from telegram import Bot
from telegram.error import BadRequest, TelegramError

from poller.purchases import TelegramRefund

log = structlog.get_logger(__name__)

_ALREADY = "charge_already_refunded"


class TelegramStarRefunds:
    """Refunds through the Bot API. No answer is a refusal: the purchase stays as it was, and a second ``/refund``
    learns from Telegram whether the first went through (``CHARGE_ALREADY_REFUNDED``)."""

    def __init__(self, bot: Bot | Any) -> None:
        self._bot = bot

    async def refund(self, user_id: int, charge_id: str) -> tuple[TelegramRefund, str]:
        """Ask Telegram to give the Stars back."""
        try:
            await self._bot.refund_star_payment(user_id=user_id, telegram_payment_charge_id=charge_id)
        except BadRequest as exc:
            if _ALREADY in exc.message.lower():
                return TelegramRefund.ALREADY, exc.message
            return TelegramRefund.REFUSED, exc.message
        except TelegramError as exc:
            log.warning("payment.refund_unanswered", user_id=user_id, error_type=type(exc).__name__)
            return TelegramRefund.REFUSED, f"no answer from Telegram ({type(exc).__name__}); try again"
        return TelegramRefund.DONE, ""
