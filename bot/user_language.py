"""Which language a Telegram user is spoken to in: their ``/language`` choice, kept in PTB's ``user_data``
(persisted in Redis with their other settings), else their app's ``language_code``, else English."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from telegram import Update, User
from telegram.ext import ContextTypes

from bot.i18n import Translator, choose_language, supported, translator

_KEY = "language"


def saved_language(user_data: Mapping[str, Any] | None) -> str | None:
    """The language the user picked with /language, if any (and still shipped)."""
    value = (user_data or {}).get(_KEY)
    return supported(value) if isinstance(value, str) else None


def save_language(user_data: MutableMapping[str, Any], language: str) -> None:
    """Keep the user's pick (a shipped language code)."""
    user_data[_KEY] = language


def language_of(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """The language to answer this update's user in."""
    return user_language(update.effective_user, context)


def user_language(user: User | None, context: ContextTypes.DEFAULT_TYPE) -> str:
    """The language to speak to ``user`` in (``context`` holds their saved choice)."""
    return choose_language(saved_language(context.user_data), user.language_code if user else None)


def translator_of(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Translator:
    """The translator for this update's user."""
    return translator(language_of(update, context))


def translator_of_user(user: User | None, context: ContextTypes.DEFAULT_TYPE) -> Translator:
    """The translator for ``user``."""
    return translator(user_language(user, context))
