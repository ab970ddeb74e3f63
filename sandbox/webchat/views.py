"""What the web chat page shows, as JSON: one message, one chat, and the whole screen at connect time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sandbox.telegram import Message, TelegramEmulator
from sandbox.telegram.models import JSON

# setMyCommands for everyone (the default scope); a language code follows the "|" of a menu for one language.
_DEFAULT_COMMAND_SCOPE = '{"type": "default"}|'
_PREVIEW_CHARS = 80


@dataclass(frozen=True)
class ChatSetup:
    """The person at the web chat and the chats they see: their private chat with the bot, and a channel."""

    emulator: TelegramEmulator
    file_base_url: str  # the emulator's ``…/file/bot<token>``; the page plays videos from there
    user_id: int
    first_name: str = "You"
    channel_id: int | None = None

    @property
    def chat_ids(self) -> frozenset[int]:
        """The chats whose changes the page receives."""
        return frozenset({self.user_id} | ({self.channel_id} if self.channel_id is not None else set()))

    def file_url(self, file_id: str) -> str | None:
        """Where the browser downloads a file the bot sent, or None if the emulator does not have it."""
        stored = self.emulator.files.get(file_id)
        return f"{self.file_base_url.rstrip('/')}/{stored.file_path}" if stored else None


def message_view(setup: ChatSetup, message: Message) -> JSON:
    """One message as the page renders it; text stays text (the page never parses it as HTML)."""
    view: JSON = {
        "id": message.message_id,
        "chat_id": message.chat_id,
        "date": message.date,
        "from": _side(setup, message),
        "sender_name": message.sender.first_name if message.sender else None,
        "text": message.text,
        "caption": message.caption,
        "edited": message.edit_date is not None,
        "video": _video(setup, message),
        "document": _document(setup, message),
        "photo": _photo(setup, message),
        "buttons": _buttons(message.reply_markup),
        "force_reply": _force_reply(message.reply_markup),
        "reply_to": _reply_to(setup, message),
        "forwarded_from": _origin_name(message.forward_origin),
        "invoice": _invoice(message.invoice),
        "payment": _payment(message.successful_payment),
    }
    return view


def chat_view(setup: ChatSetup, chat_id: int) -> JSON:
    """A chat's title and every message in it, oldest first."""
    chat = next((c for c in setup.emulator.chats() if c.id == chat_id), None)
    title = (chat.title or chat.first_name) if chat else None
    return {
        "id": chat_id,
        "title": title,
        "username": chat.username if chat else None,
        "messages": [message_view(setup, m) for m in setup.emulator.messages(chat_id)],
    }


def snapshot(setup: ChatSetup) -> JSON:
    """Everything the page needs to draw itself from scratch."""
    emulator = setup.emulator
    bot = emulator.bot_user
    chat = chat_view(setup, setup.user_id)
    chat["title"] = bot.first_name
    chat["username"] = bot.username
    return {
        "me": {"id": setup.user_id, "first_name": setup.first_name},
        "bot": {"id": bot.id, "first_name": bot.first_name, "username": bot.username, "commands": _commands(setup)},
        "chat": chat,
        "channel": chat_view(setup, setup.channel_id) if setup.channel_id is not None else None,
    }


def _side(setup: ChatSetup, message: Message) -> str:
    if message.sender is None:
        return "channel"
    return "user" if message.sender.id == setup.user_id else "bot"


def _video(setup: ChatSetup, message: Message) -> JSON | None:
    video = message.video
    if video is None:
        return None
    return {
        "url": setup.file_url(video.file_id),
        "width": video.width,
        "height": video.height,
        "duration": video.duration,
        "mime_type": video.mime_type or "video/mp4",
        "file_size": video.file_size,
    }


def _document(setup: ChatSetup, message: Message) -> JSON | None:
    document = message.document
    if document is None:
        return None
    return {"url": setup.file_url(document.file_id), "file_name": document.file_name, "file_size": document.file_size}


def _photo(setup: ChatSetup, message: Message) -> JSON | None:
    if not message.photo:
        return None
    largest = message.photo[-1]
    return {"url": setup.file_url(largest.file_id), "width": largest.width, "height": largest.height}


def _buttons(markup: JSON | None) -> list[list[JSON]]:
    rows: list[Any] = (markup or {}).get("inline_keyboard") or []
    return [
        [
            {
                "text": str(b.get("text", "")),
                "data": b.get("callback_data"),
                "url": b.get("url"),
                "pay": bool(b.get("pay")),
            }
            for b in row
        ]
        for row in rows
    ]


def _invoice(invoice: JSON | None) -> JSON | None:
    """An invoice card: what it sells and its price in Stars (its payload is never shown)."""
    if invoice is None:
        return None
    return {
        "title": invoice.get("title"),
        "description": invoice.get("description"),
        "stars": invoice.get("total_amount"),
    }


def _payment(payment: JSON | None) -> JSON | None:
    """A payment's service message: the Stars paid."""
    if payment is None:
        return None
    return {"stars": payment.get("total_amount")}


def _force_reply(markup: JSON | None) -> JSON | None:
    if not markup or not markup.get("force_reply"):
        return None
    return {"placeholder": markup.get("input_field_placeholder")}


def _reply_to(setup: ChatSetup, message: Message) -> JSON | None:
    if message.reply_to_message_id is None:
        return None
    replied = setup.emulator.message(message.chat_id, message.reply_to_message_id)
    preview = _preview(replied) if replied else "Deleted message"
    sender = replied.sender.first_name if replied and replied.sender else None
    return {"id": message.reply_to_message_id, "sender_name": sender, "preview": preview}


def _preview(message: Message) -> str:
    kind = "Video" if message.video else "Photo" if message.photo else "File" if message.document else ""
    text = message.text or message.caption or kind
    return text if len(text) <= _PREVIEW_CHARS else text[: _PREVIEW_CHARS - 1] + "…"


def _origin_name(origin: JSON | None) -> str | None:
    if not origin:
        return None
    for key, field in (("sender_user", "first_name"), ("chat", "title"), ("sender_chat", "title")):
        value = (origin.get(key) or {}).get(field)
        if value:
            return str(value)
    name = origin.get("sender_user_name")
    return str(name) if name else "Unknown"


def _commands(setup: ChatSetup) -> list[JSON]:
    emulator = setup.emulator
    with emulator.world.lock:
        account = emulator.world.bots.get(emulator.token)
        person = emulator.world.users.get(setup.user_id)
        language = (person.language_code or "").split("-", 1)[0] if person else ""
        menus = account.commands if account else {}
        # As Telegram picks it: the menu set for the person's language, else the one for everyone.
        commands = list(menus.get(_DEFAULT_COMMAND_SCOPE + language) or menus.get(_DEFAULT_COMMAND_SCOPE, []))
    return [{"command": c["command"], "description": c["description"]} for c in commands]


_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$")


def browser_language(accept_language: str | None) -> str | None:
    """The first language of an ``Accept-Language`` header ("ru-RU,ru;q=0.9" -> "ru-ru"), as a Telegram app's
    ``language_code``; None when there is none (or it is not a language tag)."""
    first = (accept_language or "").split(",", 1)[0].split(";", 1)[0].strip()
    return first.lower() if _LANGUAGE_TAG.match(first) and first != "*" else None


def speak(setup: ChatSetup, language_code: str) -> None:
    """The person's app speaks ``language_code`` from now on (what their next updates carry)."""
    emulator = setup.emulator
    with emulator.world.lock:
        person = emulator.world.users.get(setup.user_id)
        if person is not None and person.language_code == language_code:
            return
    emulator.add_user(setup.user_id, setup.first_name, language_code=language_code)
