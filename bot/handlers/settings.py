"""/settings: model, aspect ratio and duration, chosen with inline keyboards and kept in Redis."""

from __future__ import annotations

from typing import Any

from telegram import CallbackQuery, InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot import keyboards, preferences, texts
from bot.callback_data import Action
from bot.handlers.presses import pressed
from bot.i18n import Translator, language_name
from bot.preferences import Preferences
from bot.services import Services
from bot.user_language import translator_of
from poller.errors import JobError
from poller.jobs import AspectRatio
from providers.catalog import Catalog


class SettingsHandlers:
    """The /settings command and its keyboard navigation."""

    def __init__(self, services: Services) -> None:
        self._s = services

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Attach the handlers."""
        application.add_handler(CommandHandler("settings", self.show))
        application.add_handler(CallbackQueryHandler(self.on_press, pattern=r"^set:"))

    def _load(self, context: ContextTypes.DEFAULT_TYPE) -> Preferences:
        defaults = self._s.settings.defaults
        prefs = preferences.load(context.user_data, self._s.catalog, defaults.model, defaults.aspect_ratio)
        if prefs.withdrawn is not None and context.user_data is not None:
            preferences.save(context.user_data, prefs)  # repaired for good: the note is shown once
        return prefs

    async def show(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Show the current settings with the menu."""
        if update.effective_message:
            tr = translator_of(update, context)
            prefs = self._load(context)
            text = _summary(tr, prefs)
            if prefs.withdrawn is not None:
                text = f"{withdrawn_note(tr, prefs)}\n\n{text}"
            await update.effective_message.reply_text(text, reply_markup=keyboards.settings_menu(tr))

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Navigate the menu or apply a choice."""
        press = await pressed(update, context, (Action.SETTINGS,))
        if press is None:
            return
        query, data, tr = press.query, press.data, press.tr
        prefs = self._load(context)
        key, _, value = data.arg.partition("=")
        if not value:
            await query.answer()
            await _show_page(tr, query, prefs, key, self._s.catalog)
            return
        try:
            updated = _apply(prefs, key, value, self._s.catalog)
        except (ValueError, JobError):
            await query.answer(tr(texts.BUTTON_EXPIRED))
            return
        if context.user_data is not None:
            preferences.save(context.user_data, updated)  # written to Redis at the end of this update
        await query.answer(tr(texts.SETTINGS_SAVED))
        await _edit(query, _summary(tr, updated), keyboards.settings_menu(tr))


def withdrawn_note(tr: Translator, prefs: Preferences) -> str:
    """The one-time note for a user whose saved model is no longer offered."""
    assert prefs.withdrawn is not None
    return tr(texts.MODEL_WITHDRAWN, old=preferences.label_of(prefs.withdrawn), new=prefs.model_info.label)


def _apply(prefs: Preferences, key: str, value: str, catalog: Catalog) -> Preferences:
    """Apply one choice, refusing values the model does not offer (forged or stale buttons, disabled models)."""
    if key == "m":
        return prefs.with_model(value, catalog)
    if key == "a":
        aspect = AspectRatio(value)
        if aspect not in prefs.model_info.aspect_ratios:
            raise ValueError(value)
        return prefs.with_aspect(aspect)
    if key == "d":
        duration = int(value)
        if duration not in prefs.model_info.durations_s:
            raise ValueError(value)
        return prefs.with_duration(duration)
    raise ValueError(key)


async def _show_page(tr: Translator, query: CallbackQuery, prefs: Preferences, page: str, catalog: Catalog) -> None:
    pages = {
        "model": (tr(texts.SETTINGS_PICK_MODEL), keyboards.settings_models(tr, prefs, catalog.offered())),
        "aspect": (tr(texts.SETTINGS_PICK_ASPECT), keyboards.settings_aspects(tr, prefs)),
        "duration": (tr(texts.SETTINGS_PICK_DURATION), keyboards.settings_durations(tr, prefs)),
    }
    text, markup = pages.get(page, (_summary(tr, prefs), keyboards.settings_menu(tr)))
    await _edit(query, text, markup)


async def _edit(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup) -> None:
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except BadRequest as exc:
        if "not modified" not in str(exc):  # a double tap re-sends the same page: harmless
            raise


def _summary(tr: Translator, prefs: Preferences) -> str:
    choices = tr(
        texts.SETTINGS_TITLE, model=prefs.model_info.label, aspect=prefs.aspect_ratio.value, duration=prefs.duration_s
    )
    return f"{choices}\n{tr(texts.SETTINGS_LANGUAGE_LINE, language=language_name(tr.language))}"
