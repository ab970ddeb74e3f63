"""The first steps of every inline-button handler: the press, its parsed data, the presser's language."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from telegram import CallbackQuery, Update
from telegram.ext import ContextTypes

from bot import texts
from bot.callback_data import Action, ButtonData, parse
from bot.i18n import Translator
from bot.user_language import translator_of


@dataclass(frozen=True, slots=True)
class Press:
    """A press whose data we produced, for one of the handler's actions."""

    query: CallbackQuery
    data: ButtonData
    tr: Translator  # the presser's language


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE, actions: Collection[Action]) -> Press | None:
    """The press, when its data parses and names one of ``actions``; otherwise (forged, stale, another handler's
    data) it is answered "This button is no longer valid." and None is returned."""
    query = update.callback_query
    if query is None:
        return None
    tr = translator_of(update, context)
    data = parse(query.data)
    if data is None or data.action not in actions:
        await query.answer(tr(texts.BUTTON_EXPIRED))
        return None
    return Press(query, data, tr)
