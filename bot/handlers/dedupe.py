"""Drops Telegram updates seen before (webhook redelivery, a retried getUpdates) before any handler runs."""

from __future__ import annotations

from typing import Any

import structlog
from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes, TypeHandler

from bot.services import Services

log = structlog.get_logger(__name__)

DEDUPE_GROUP = -2  # the first group of all: a duplicate is dropped before even the access check


class DedupeHandlers:
    """A first handler group that lets each update_id through once across every bot process."""

    def __init__(self, services: Services) -> None:
        self._s = services

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Attach in the first group, which runs before every other group."""
        application.add_handler(TypeHandler(Update, self.check), group=DEDUPE_GROUP)

    async def check(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stop a duplicate update here."""
        if not await self._s.dedupe.first_time(update.update_id):
            log.info("update.duplicate", update_id=update.update_id)
            raise ApplicationHandlerStop
