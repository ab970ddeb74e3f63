"""Payments in Telegram Stars: sendInvoice, answerPreCheckoutQuery, refundStarPayment.

As Telegram documents them for digital goods (https://core.telegram.org/bots/payments-stars): currency ``XTR``, an
empty ``provider_token``, exactly one price; a payload of 1-128 bytes that the buyer never sees; a pre-checkout
query answered within 10 seconds; a refund of a charge once (``CHARGE_ALREADY_REFUNDED`` after)."""

from __future__ import annotations

from typing import Any

from sandbox.telegram.errors import bad_request
from sandbox.telegram.markup import validate_reply_markup
from sandbox.telegram.methods.base import Call, method
from sandbox.telegram.models import JSON, InvoiceOffer, Message

STARS = "XTR"
MAX_PAYLOAD_BYTES = 128
MAX_TITLE = 32
MAX_DESCRIPTION = 255
MAX_ERROR_MESSAGE = 255


@method("sendInvoice")
async def send_invoice(call: Call) -> JSON:
    """Post an invoice with its Pay button (the first button, added when the bot sends no keyboard)."""
    p = call.params
    chat = call.chat()
    title = p.text("title", required=True) or ""
    description = p.text("description", required=True) or ""
    payload = p.text("payload", required=True) or ""
    currency = p.text("currency", required=True) or ""
    if not 1 <= len(title) <= MAX_TITLE:
        raise bad_request("INVOICE_TITLE_INVALID")
    if not 1 <= len(description) <= MAX_DESCRIPTION:
        raise bad_request("INVOICE_DESCRIPTION_INVALID")
    if not 1 <= len(payload.encode()) <= MAX_PAYLOAD_BYTES:
        raise bad_request("INVOICE_PAYLOAD_INVALID")
    if currency != STARS:
        raise bad_request("CURRENCY_INVALID")  # the emulator sells digital goods only
    if p.text("provider_token"):
        raise bad_request("PROVIDER_TOKEN_INVALID")  # payments in Stars take an empty provider token
    total = _one_price(p.get("prices"))
    markup = validate_reply_markup(p.get("reply_markup")) or {
        "inline_keyboard": [[{"text": f"Pay ⭐️{total}", "pay": True}]]
    }
    first = (markup.get("inline_keyboard") or [[{}]])[0][0]
    if not first.get("pay"):
        raise bad_request("REPLY_MARKUP_BUY_EMPTY")
    invoice: JSON = {"title": title, "description": description, "start_parameter": "", "currency": STARS}
    invoice["total_amount"] = total
    message = call.world.post(call.bot, chat, Message(invoice=invoice, reply_markup=markup))
    with call.world.lock:
        key = (message.chat_id, message.message_id)
        call.world.invoices[key] = InvoiceOffer(*key, call.bot.user.id, payload, STARS, total)
    return call.world.render(message)


@method("answerPreCheckoutQuery")
async def answer_pre_checkout_query(call: Call) -> bool:
    """Accept or refuse a checkout (once; a refusal must say why)."""
    p = call.params
    query_id = p.text("pre_checkout_query_id", required=True) or ""
    ok = p.flag("ok")
    error_message = p.text("error_message")
    if not ok and not error_message:
        raise bad_request("ERROR_MESSAGE_EMPTY")
    if error_message is not None and len(error_message) > MAX_ERROR_MESSAGE:
        raise bad_request("ERROR_MESSAGE_TOO_LONG")
    with call.world.change():
        query = call.world.pre_checkouts.get(query_id)
        if query is None or query.answer is not None:
            raise bad_request("QUERY_ID_INVALID")
        query.answer = {"ok": ok, "error_message": error_message}
    return True


@method("refundStarPayment")
async def refund_star_payment(call: Call) -> bool:
    """Give a payment's Stars back to its payer, once."""
    p = call.params
    user_id = p.integer("user_id", required=True)
    charge_id = p.text("telegram_payment_charge_id", required=True) or ""
    with call.world.change():
        payment = call.world.payments.get(charge_id)
        if payment is None or payment.user_id != user_id or payment.bot_id != call.bot.user.id:
            raise bad_request("CHARGE_NOT_FOUND")
        if payment.refunded:
            raise bad_request("CHARGE_ALREADY_REFUNDED")
        if call.emulator.refusing_refunds:
            raise bad_request("REFUND_FAILED")
        payment.refunded = True
    return True


def _one_price(prices: Any) -> int:
    """Stars invoices have exactly one price line, a positive whole number of Stars."""
    if not isinstance(prices, list) or len(prices) != 1 or not isinstance(prices[0], dict):
        raise bad_request("STARS_INVOICE_INVALID")
    amount = prices[0].get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0 or not prices[0].get("label"):
        raise bad_request("STARS_INVOICE_INVALID")
    return amount
