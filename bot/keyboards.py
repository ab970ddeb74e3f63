"""Inline keyboards, each built by a function named for what it shows."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup

from bot import texts
from bot.callback_data import Action, ButtonData
from bot.preferences import Preferences
from poller.jobs import TaskKind
from poller.purchases import Pack
from providers.catalog import ModelInfo

_UPGRADE_ACTIONS = {TaskKind.UPSCALE_1080P: Action.UPGRADE_1080P, TaskKind.UPSCALE_4K: Action.UPGRADE_4K}


def _button(label: str, action: Action, arg: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=ButtonData(action, arg).encode())


def status(job_id: str) -> InlineKeyboardMarkup:
    """Under the status message while a job runs."""
    return InlineKeyboardMarkup([[_button(texts.CANCEL, Action.CANCEL, job_id)]])


def preview(
    job_id: str, *, extendable: bool, published: bool = False, upgrades: Sequence[tuple[TaskKind, bool]] = ()
) -> InlineKeyboardMarkup:
    """Under a delivered video: Publish (or its done mark) and, for Veo, Extend; below them the upgrades it offers
    (``(kind, already asked for)``: 1080p, 4K), each turning into its done mark once asked for."""
    first = _button(texts.PUBLISHED, Action.NOOP) if published else _button(texts.PUBLISH, Action.PUBLISH, job_id)
    row = [first]
    if extendable:
        row.append(_button(texts.EXTEND, Action.EXTEND, job_id))
    rows = [row]
    if upgrades:
        rows.append(
            [
                _button(texts.upgrade_asked(kind), Action.NOOP)
                if asked
                else _button(texts.upgrade_button(kind), _UPGRADE_ACTIONS[kind], job_id)
                for kind, asked in upgrades
            ]
        )
    return InlineKeyboardMarkup(rows)


def packs(offers: Sequence[Pack]) -> InlineKeyboardMarkup:
    """One button per credit pack for sale: its label and its price in Stars."""
    return InlineKeyboardMarkup(
        [[_button(texts.pack_button(pack.label, pack.stars), Action.BUY, pack.id)] for pack in offers]
    )


def buy() -> InlineKeyboardMarkup:
    """Under the out-of-credits answer: the way to more."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(texts.BUY_BUTTON, callback_data=ButtonData(Action.BUY).encode())]]
    )


def extend_prompt() -> ForceReply:
    """Asks the user's client to reply to our question."""
    return ForceReply(selective=True, input_field_placeholder=texts.EXTEND_PLACEHOLDER)


def settings_menu() -> InlineKeyboardMarkup:
    """The top of /settings."""
    return InlineKeyboardMarkup(
        [
            [_button(texts.SETTINGS_MODEL, Action.SETTINGS, "model")],
            [_button(texts.SETTINGS_ASPECT, Action.SETTINGS, "aspect")],
            [_button(texts.SETTINGS_DURATION, Action.SETTINGS, "duration")],
        ]
    )


def settings_models(prefs: Preferences, offered: Sequence[ModelInfo]) -> InlineKeyboardMarkup:
    """One button per offered model; the current one is ticked."""
    rows = [[_button(_ticked(info.label, info.id == prefs.model), Action.SETTINGS, f"m={info.id}")] for info in offered]
    return InlineKeyboardMarkup([*rows, [_button(texts.SETTINGS_BACK, Action.SETTINGS, "menu")]])


def settings_aspects(prefs: Preferences) -> InlineKeyboardMarkup:
    """The aspect ratios the current model offers."""
    row = [
        _button(_ticked(ar.value, ar == prefs.aspect_ratio), Action.SETTINGS, f"a={ar.value}")
        for ar in prefs.model_info.aspect_ratios
    ]
    return InlineKeyboardMarkup([row, [_button(texts.SETTINGS_BACK, Action.SETTINGS, "menu")]])


def settings_durations(prefs: Preferences) -> InlineKeyboardMarkup:
    """The durations the current model offers."""
    row = [
        _button(_ticked(f"{d} s", d == prefs.duration_s), Action.SETTINGS, f"d={d}")
        for d in prefs.model_info.durations_s
    ]
    return InlineKeyboardMarkup([row, [_button(texts.SETTINGS_BACK, Action.SETTINGS, "menu")]])


def _ticked(label: str, current: bool) -> str:
    return f"✓ {label}" if current else label
