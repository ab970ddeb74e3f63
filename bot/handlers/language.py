"""``/language``: the user picks the bot's language from inline buttons; the pick is kept with their settings."""

from __future__ import annotations

from typing import Any

import structlog
from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot import keyboards, texts
from bot.callback_data import Action
from bot.handlers.presses import pressed
from bot.i18n import shipped_languages, translator
from bot.user_language import language_of, save_language, translator_of

log = structlog.get_logger(__name__)


class LanguageHandlers:
    """The picker and its buttons (``lang:<code>``)."""

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Attach the handlers."""
        application.add_handler(CommandHandler("language", self.pick))
        application.add_handler(CallbackQueryHandler(self.on_press, pattern=r"^lang(:|$)"))

    async def pick(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The shipped languages as buttons, the current one ticked."""
        if update.effective_message is None:
            return
        tr = translator_of(update, context)
        markup = keyboards.languages(shipped_languages(), language_of(update, context))
        await update.effective_message.reply_text(tr(texts.LANGUAGE_PICK), reply_markup=markup)

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Save the pressed language and say so in it (a code we do not ship is refused)."""
        press = await pressed(update, context, (Action.LANGUAGE,))
        if press is None:
            return
        query, data = press.query, press.data
        if not data.arg:  # from /settings: the picker, in place
            await query.answer()
            markup = keyboards.languages(shipped_languages(), press.tr.language)
            await query.edit_message_text(press.tr(texts.LANGUAGE_PICK), reply_markup=markup)
            return
        if data.arg not in shipped_languages():
            await query.answer(press.tr(texts.BUTTON_EXPIRED))
            return
        if context.user_data is not None:
            save_language(context.user_data, data.arg)
        log.info("language.chosen", user_id=query.from_user.id, language=data.arg)
        await query.answer()
        if query.message is not None:
            await query.edit_message_text(translator(data.arg)(texts.LANGUAGE_SAVED))
