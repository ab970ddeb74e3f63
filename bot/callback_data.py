"""Callback data: what an inline button carries, encoded in Telegram's 64 bytes and parsed in one place.

Button data is user-controlled input (a modified client can send anything), so parsing is strict and
every handler re-checks ownership against the job in Redis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

MAX_CALLBACK_BYTES = 64
_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{6,32}$")
_PACK_ID = re.compile(r"^[a-z0-9_-]{1,16}$")


class Action(StrEnum):
    """What a button does."""

    PUBLISH = "pub"
    EXTEND = "ext"
    UPGRADE_1080P = "u1080"
    UPGRADE_4K = "u4k"
    CANCEL = "can"
    SETTINGS = "set"
    BUY = "buy"  # the argument is a credit pack's id
    HISTORY = "his"  # the argument is a page number
    RESEND = "again"  # send a delivered video again; the argument is its job id
    LANGUAGE = "lang"  # the argument is a language code
    NOOP = "noop"


@dataclass(frozen=True, slots=True)
class ButtonData:
    """A parsed button press: the action and its argument (a job id, or a settings choice)."""

    action: Action
    arg: str = ""

    def encode(self) -> str:
        """The string to put in ``callback_data``; refuses anything over 64 bytes."""
        data = f"{self.action.value}:{self.arg}" if self.arg else self.action.value
        if len(data.encode()) > MAX_CALLBACK_BYTES:
            raise ValueError(f"callback data over {MAX_CALLBACK_BYTES} bytes: {data!r}")
        return data


# Actions whose argument is a job id.
_ON_A_JOB = frozenset(
    {Action.PUBLISH, Action.EXTEND, Action.UPGRADE_1080P, Action.UPGRADE_4K, Action.CANCEL, Action.RESEND}
)
_PAGE = re.compile(r"^[0-9]{1,3}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


def parse(data: str | None) -> ButtonData | None:
    """Parse callback data; None for anything we did not produce."""
    if not data or len(data.encode()) > MAX_CALLBACK_BYTES:
        return None
    head, _, arg = data.partition(":")
    try:
        action = Action(head)
    except ValueError:
        return None
    if action in _ON_A_JOB and not _JOB_ID.match(arg):
        return None
    if action is Action.BUY and arg and not _PACK_ID.match(arg):  # no argument: the packs' menu
        return None
    if action is Action.HISTORY and not _PAGE.match(arg):
        return None
    if action is Action.LANGUAGE and arg and not _LANGUAGE.match(arg):  # no argument: the picker
        return None
    return ButtonData(action, arg)
