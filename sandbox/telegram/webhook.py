"""Webhook delivery: POST each bot's pending updates, in order, to the URL it set with setWebhook."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING

import httpx
import structlog

from sandbox.telegram.models import JSON

if TYPE_CHECKING:
    from sandbox.telegram.state import TelegramEmulator

log = structlog.get_logger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass(frozen=True)
class _Delivery:
    token: str
    url: str
    secret_token: str | None
    update: JSON


class WebhookDispatcher:
    """A task in the server's loop; like Telegram, an update stays pending until the webhook answers 2xx."""

    def __init__(self, emulator: TelegramEmulator, timeout_s: float = 10.0) -> None:
        self._emulator = emulator
        self._timeout_s = timeout_s

    async def run(self) -> None:
        """Deliver until cancelled."""
        async with httpx.AsyncClient(timeout=self._timeout_s) as client:
            while True:
                wake = self._emulator.waiters.register()
                try:
                    delivery = self._next()
                    if delivery is None:
                        await wake.wait()
                        continue
                finally:
                    self._emulator.waiters.discard(wake)
                error = await self._post(client, delivery)
                self._settle(delivery, error)
                if error is not None:
                    await asyncio.sleep(self._emulator.webhook_retry_s)

    def _next(self) -> _Delivery | None:
        world = self._emulator.world
        with world.lock:
            for bot in world.bots.values():
                update = bot.updates.first()
                if bot.webhook is not None and update is not None:
                    return _Delivery(bot.token, bot.webhook.url, bot.webhook.secret_token, update)
        return None

    async def _post(self, client: httpx.AsyncClient, delivery: _Delivery) -> str | None:
        """None on success, else the error text Telegram shows in getWebhookInfo."""
        headers = {SECRET_HEADER: delivery.secret_token} if delivery.secret_token else {}
        try:
            response = await client.post(delivery.url, json=delivery.update, headers=headers)
        except httpx.HTTPError as exc:
            log.info("telegram emulator webhook unreachable", error=type(exc).__name__)
            return "Connection refused" if isinstance(exc, httpx.ConnectError) else "Read timeout expired"
        if response.is_success:
            return None
        try:
            phrase = HTTPStatus(response.status_code).phrase
        except ValueError:
            phrase = ""
        return f"Wrong response from the webhook: {response.status_code} {phrase}".rstrip()

    def _settle(self, delivery: _Delivery, error: str | None) -> None:
        world = self._emulator.world
        with world.change():
            bot = world.bots.get(delivery.token)
            if bot is None or bot.webhook is None:
                return
            if error is not None:
                bot.webhook.last_error_date, bot.webhook.last_error_message = int(time.time()), error
                return
            first = bot.updates.first()
            if first is not None and first["update_id"] == delivery.update["update_id"]:
                bot.updates.pop_first()
