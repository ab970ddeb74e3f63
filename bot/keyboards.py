"""Inline keyboards, each built by a function named for what it shows."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup

from bot import texts
from bot.callback_data import Action, ButtonData
from bot.i18n import Translator, language_name
from bot.preferences import Preferences
from poller.jobs import TaskKind
from poller.purchases import Pack
from providers.catalog import ModelInfo

_UPGRADE_ACTIONS = {TaskKind.UPSCALE_1080P: Action.UPGRADE_1080P, TaskKind.UPSCALE_4K: Action.UPGRADE_4K}


def _button(label: str, action: Action, arg: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=ButtonData(action, arg).encode())


def status(tr: Translator, job_id: str) -> InlineKeyboardMarkup:
    """Under the status message while a job runs."""
    return InlineKeyboardMarkup([[_button(tr(texts.CANCEL), Action.CANCEL, job_id)]])


def preview(
    tr: Translator,
    job_id: str,
    *,
    extendable: bool,
    published: bool = False,
    upgrades: Sequence[tuple[TaskKind, bool]] = (),
) -> InlineKeyboardMarkup:
    """Under a delivered video: Publish (or its done mark) and, for Veo, Extend; below them the upgrades it offers
    (``(kind, already asked for)``: 1080p, 4K), each turning into its done mark once asked for."""
    first = (
        _button(tr(texts.PUBLISHED), Action.NOOP) if published else _button(tr(texts.PUBLISH), Action.PUBLISH, job_id)
    )
    row = [first]
    if extendable:
        row.append(_button(tr(texts.EXTEND), Action.EXTEND, job_id))
    rows = [row]
    if upgrades:
        rows.append(
            [
                _button(texts.upgrade_asked(tr, kind), Action.NOOP)
                if asked
                else _button(texts.upgrade_button(kind), _UPGRADE_ACTIONS[kind], job_id)
                for kind, asked in upgrades
            ]
        )
    return InlineKeyboardMarkup(rows)


def packs(tr: Translator, offers: Sequence[Pack]) -> InlineKeyboardMarkup:
    """One button per credit pack for sale: its label and its price in Stars."""
    return InlineKeyboardMarkup(
        [[_button(texts.pack_button(pack.label_in(tr.language), pack.stars), Action.BUY, pack.id)] for pack in offers]
    )


def buy(tr: Translator) -> InlineKeyboardMarkup:
    """Under the out-of-credits answer: the way to more."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(tr(texts.BUY_BUTTON), callback_data=ButtonData(Action.BUY).encode())]]
    )


def extend_prompt(tr: Translator) -> ForceReply:
    """Asks the user's client to reply to our question."""
    return ForceReply(selective=True, input_field_placeholder=tr(texts.EXTEND_PLACEHOLDER))


def settings_menu(tr: Translator) -> InlineKeyboardMarkup:
    """The top of /settings."""
    return InlineKeyboardMarkup(
        [
            [_button(tr(texts.SETTINGS_MODEL), Action.SETTINGS, "model")],
            [_button(tr(texts.SETTINGS_ASPECT), Action.SETTINGS, "aspect")],
            [_button(tr(texts.SETTINGS_DURATION), Action.SETTINGS, "duration")],
            [_button(tr(texts.SETTINGS_LANGUAGE), Action.LANGUAGE)],
        ]
    )


def settings_models(tr: Translator, prefs: Preferences, offered: Sequence[ModelInfo]) -> InlineKeyboardMarkup:
    """One button per offered model; the current one is ticked."""
    rows = [[_button(_ticked(info.label, info.id == prefs.model), Action.SETTINGS, f"m={info.id}")] for info in offered]
    return InlineKeyboardMarkup([*rows, [_button(tr(texts.SETTINGS_BACK), Action.SETTINGS, "menu")]])


def settings_aspects(tr: Translator, prefs: Preferences) -> InlineKeyboardMarkup:
    """The aspect ratios the current model offers."""
    row = [
        _button(_ticked(ar.value, ar == prefs.aspect_ratio), Action.SETTINGS, f"a={ar.value}")
        for ar in prefs.model_info.aspect_ratios
    ]
    return InlineKeyboardMarkup([row, [_button(tr(texts.SETTINGS_BACK), Action.SETTINGS, "menu")]])


def settings_durations(tr: Translator, prefs: Preferences) -> InlineKeyboardMarkup:
    """The durations the current model offers."""
    row = [
        _button(_ticked(tr(texts.CAPTION_LENGTH, seconds=d), d == prefs.duration_s), Action.SETTINGS, f"d={d}")
        for d in prefs.model_info.durations_s
    ]
    return InlineKeyboardMarkup([row, [_button(tr(texts.SETTINGS_BACK), Action.SETTINGS, "menu")]])


def languages(codes: Sequence[str], current: str) -> InlineKeyboardMarkup:
    """One button per shipped language, named in itself; the current one ticked."""
    return InlineKeyboardMarkup(
        [[_button(_ticked(language_name(code), code == current), Action.LANGUAGE, code)] for code in codes]
    )


def _ticked(label: str, current: bool) -> str:
    return f"✓ {label}" if current else label
