"""Getting updates: getUpdates long polling, and the webhook settings that exclude it."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time

from sandbox.telegram.bots import BotAccount, WebhookConfig
from sandbox.telegram.errors import bad_request, conflict
from sandbox.telegram.methods.base import Call, Described, method
from sandbox.telegram.models import JSON

MAX_LIMIT = 100
MAX_TIMEOUT_S = 50  # Telegram caps long polls; clients use 10–30 s
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
WEBHOOK_ACTIVE = "can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
TERMINATED = "terminated by other getUpdates request; make sure that only one bot instance is running"


@method("getUpdates")
async def get_updates(call: Call) -> list[JSON]:
    """Confirm updates below ``offset``, then return pending ones, waiting up to ``timeout`` for the first."""
    p = call.params
    limit = min(max(p.integer("limit") or MAX_LIMIT, 1), MAX_LIMIT)
    timeout = min(max(p.integer("timeout") or 0, 0), MAX_TIMEOUT_S)
    allowed = p.get("allowed_updates")
    bot, world = call.bot, call.world
    with world.lock:
        if bot.webhook is not None:
            raise conflict(WEBHOOK_ACTIVE)
        bot.poll_generation += 1
        generation = bot.poll_generation
        if isinstance(allowed, list):
            bot.updates.allowed_updates = [str(kind) for kind in allowed]
        bot.updates.confirm(p.integer("offset"))
    call.emulator.waiters.wake_all()  # an older poll of this bot now ends with 409
    return await _long_poll(call, generation, limit, time.monotonic() + timeout)


async def _long_poll(call: Call, generation: int, limit: int, deadline: float) -> list[JSON]:
    """Wait (woken by any change) until updates are pending, the deadline passes or the poll is superseded."""
    waiters, bot = call.emulator.waiters, call.bot
    while True:
        wake = waiters.register()
        try:
            batch = _poll_once(call, bot, generation, limit)
            remaining = deadline - time.monotonic()
            if batch is not None or remaining <= 0:
                return batch or []
            with call.world.lock:
                bot.waiting_polls += 1
            call.emulator.hub.changed()  # only threads in wait_for: waking long polls would wake this one
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), remaining)
            finally:
                with call.world.lock:
                    bot.waiting_polls -= 1
        finally:
            waiters.discard(wake)


def _poll_once(call: Call, bot: BotAccount, generation: int, limit: int) -> list[JSON] | None:
    """Pending updates, ``[]`` when this poll should end empty, ``None`` to keep waiting."""
    with call.world.lock:
        if call.world.bots.get(bot.token) is not bot:
            return []  # the world was reset under this poll
        if bot.poll_generation != generation:
            raise conflict(TERMINATED)
        if bot.webhook is not None:
            raise conflict(WEBHOOK_ACTIVE)
        return bot.updates.peek(limit) or None


@method("setWebhook")
async def set_webhook(call: Call) -> Described:
    """Deliver updates by POSTing them to ``url`` (http is allowed here, unlike Telegram, for loopback)."""
    p = call.params
    url = p.text("url") or ""
    if not url:
        return await delete_webhook(call)
    if not url.startswith(("http://", "https://")):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = p.text("secret_token")
    if secret is not None and not _SECRET.match(secret):
        raise bad_request("secret token contains unallowed characters")
    max_connections = p.integer("max_connections") or 40
    if not 1 <= max_connections <= 100:
        raise bad_request("bad webhook: max_connections must be between 1 and 100")
    with call.world.change():
        if p.flag("drop_pending_updates"):
            call.bot.updates.clear()
        allowed = p.get("allowed_updates")
        if isinstance(allowed, list):
            call.bot.updates.allowed_updates = [str(kind) for kind in allowed]
        call.bot.webhook = WebhookConfig(url=url, secret_token=secret, max_connections=max_connections)
    return Described(True, "Webhook was set")


@method("deleteWebhook")
async def delete_webhook(call: Call) -> Described:
    """Back to getUpdates; optionally drop what is pending."""
    with call.world.change():
        had_webhook = call.bot.webhook is not None
        call.bot.webhook = None
        if call.params.flag("drop_pending_updates"):
            call.bot.updates.clear()
    return Described(True, "Webhook was deleted" if had_webhook else "Webhook is already deleted")


@method("getWebhookInfo")
async def get_webhook_info(call: Call) -> JSON:
    """The webhook, pending update count and last delivery error."""
    with call.world.lock:
        hook, updates = call.bot.webhook, call.bot.updates
        info: JSON = {"url": "", "has_custom_certificate": False, "pending_update_count": len(updates)}
        if hook is not None:
            info |= {"url": hook.url, "max_connections": hook.max_connections}
            if hook.last_error_date is not None:
                info |= {"last_error_date": hook.last_error_date, "last_error_message": hook.last_error_message}
        if updates.allowed_updates:
            info["allowed_updates"] = list(updates.allowed_updates)
        return info
