"""Telegram's checks on what a bot sends: text and caption limits, HTML parse mode, reply markups."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from sandbox.telegram.errors import (
    BUTTON_DATA_INVALID,
    CAPTION_TOO_LONG,
    MESSAGE_TOO_LONG,
    TEXT_EMPTY,
    BotApiError,
    bad_request,
)
from sandbox.telegram.models import JSON

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA_BYTES = 64
_HTML_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "tg-emoji"}
    | {"code", "pre", "blockquote"}
)
_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")


def message_text(text: str | None, parse_mode: str | None) -> str:
    """The text as Telegram stores it (markup removed), or the errors Telegram gives for it."""
    plain = parse_markup(text or "", parse_mode)
    if not plain.strip():
        raise bad_request(TEXT_EMPTY)
    if len(plain) > MAX_TEXT:
        raise bad_request(MESSAGE_TOO_LONG)
    return plain


def caption_text(caption: str | None, parse_mode: str | None) -> str | None:
    """The caption as stored (``None`` when absent), or ``message caption is too long``."""
    if caption is None:
        return None
    plain = parse_markup(caption, parse_mode)
    if len(plain) > MAX_CAPTION:
        raise bad_request(CAPTION_TOO_LONG)
    return plain or None


def parse_markup(text: str, parse_mode: str | None) -> str:
    """Strip HTML markup the way Telegram does; other parse modes are kept verbatim (not emulated)."""
    if parse_mode is None or parse_mode.upper() != "HTML":
        return text
    parser = _TelegramHtml(text)
    parser.feed(text)
    parser.close()
    parser.finish()
    return "".join(parser.out)


def command_entities(text: str) -> list[JSON]:
    """``bot_command`` entities for every /command, as Telegram adds them to a user's message."""
    entities: list[JSON] = []
    for match in _COMMAND.finditer(text):
        entities.append(
            {"type": "bot_command", "offset": _utf16_len(text[: match.start()]), "length": _utf16_len(match[0])}
        )
    return entities


def validate_reply_markup(markup: Any) -> JSON | None:
    """Check a reply markup (inline keyboard, ForceReply, reply keyboard) and return it unchanged."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        _validate_inline_keyboard(markup["inline_keyboard"])
    elif not {"force_reply", "keyboard", "remove_keyboard"} & markup.keys():
        raise bad_request("can't parse reply keyboard markup JSON object")
    return markup


def _validate_inline_keyboard(rows: Any) -> None:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays')
    for button in (button for row in rows for button in row):
        if not isinstance(button, dict) or not isinstance(button.get("text"), str):
            raise bad_request("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
        if not any(action in button for action in _BUTTON_ACTIONS):
            raise bad_request("text buttons are unallowed in the inline keyboard")
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
                raise bad_request(BUTTON_DATA_INVALID)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _TelegramHtml(HTMLParser):
    """Collects the visible text and rejects the tags and nesting errors Telegram rejects."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self._lines = source.splitlines(keepends=True)
        self.out: list[str] = []
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HTML_TAGS:
            raise self._error(f'Unsupported start tag "{tag}" at byte offset {self._offset()}')
        self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self._open or self._open[-1] != tag:
            expected = f'"</{self._open[-1]}>"' if self._open else "no end tag"
            raise self._error(
                f'Unmatched end tag at byte offset {self._offset()}, expected {expected}, found "</{tag}>"'
            )
        self._open.pop()

    def handle_data(self, data: str) -> None:
        self.out.append(data)

    def finish(self) -> None:
        """Fail on tags left open, as Telegram does."""
        if self._open:
            raise self._error(f'Can\'t find end tag corresponding to start tag "{self._open[-1]}"')

    def _offset(self) -> int:
        line, column = self.getpos()
        return len("".join(self._lines[: line - 1]).encode()) + len(self._lines[line - 1][:column].encode())

    @staticmethod
    def _error(reason: str) -> BotApiError:
        return bad_request(f"can't parse entities: {reason}")
