"""Telegram handlers, grouped by feature, registered in :func:`bot.handlers.register`."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application

from bot.handlers import errors, persist
from bot.handlers.access import AccessHandlers
from bot.handlers.admin import AdminHandlers
from bot.handlers.buttons import ButtonHandlers
from bot.handlers.dedupe import DedupeHandlers
from bot.handlers.generate import GenerateHandlers
from bot.handlers.history import HistoryHandlers
from bot.handlers.language import LanguageHandlers
from bot.handlers.payments import PaymentHandlers
from bot.handlers.photos import PhotoHandlers
from bot.handlers.referrals import ReferralHandlers
from bot.handlers.settings import SettingsHandlers
from bot.handlers.status import StatusHandlers
from bot.services import Services


def register(application: Application[Any, Any, Any, Any, Any, Any], services: Services) -> None:
    """Attach every handler to ``application`` (order matters: commands before plain text)."""
    DedupeHandlers(services).register(application)
    AccessHandlers(services.access).register(application)
    AdminHandlers(services).register(application)
    StatusHandlers(services).register(application)
    SettingsHandlers(services).register(application)
    ButtonHandlers(services).register(application)
    PaymentHandlers(services).register(application)
    HistoryHandlers(services).register(application)
    ReferralHandlers(services).register(application)
    LanguageHandlers().register(application)
    if services.photos is not None:
        PhotoHandlers(services, services.photos).register(application)
    GenerateHandlers(services).register(application)
    persist.register(application)
    errors.register(application)
