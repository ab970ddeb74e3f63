"""Render the world's data as Bot API JSON objects that python-telegram-bot's ``de_json`` accepts."""

from __future__ import annotations

from collections.abc import Callable

from sandbox.telegram.models import JSON, Chat, Document, Message, PhotoSize, User, Video


def user_dict(user: User) -> JSON:
    """A ``User`` object."""
    out: JSON = {"id": user.id, "is_bot": user.is_bot, "first_name": user.first_name}
    for key in ("last_name", "username", "language_code"):
        if (value := getattr(user, key)) is not None:
            out[key] = value
    return out


def bot_user_dict(user: User) -> JSON:
    """The ``User`` that getMe answers, with the bot-only capability flags."""
    return user_dict(user) | {
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


def chat_dict(chat: Chat) -> JSON:
    """A ``Chat`` object as embedded in messages."""
    out: JSON = {"id": chat.id, "type": chat.type}
    for key in ("title", "username", "first_name", "last_name"):
        if (value := getattr(chat, key)) is not None:
            out[key] = value
    return out


def chat_full_info(chat: Chat) -> JSON:
    """A ``ChatFullInfo`` object (getChat), with the fields the Bot API marks as always present."""
    return chat_dict(chat) | {
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        },
    }


def video_dict(video: Video) -> JSON:
    """A ``Video`` object."""
    out: JSON = {
        "file_id": video.file_id,
        "file_unique_id": video.file_unique_id,
        "width": video.width,
        "height": video.height,
        "duration": video.duration,
        "file_size": video.file_size,
    }
    return out | _optional(mime_type=video.mime_type, file_name=video.file_name)


def document_dict(document: Document) -> JSON:
    """A ``Document`` object."""
    out: JSON = {
        "file_id": document.file_id,
        "file_unique_id": document.file_unique_id,
        "file_size": document.file_size,
    }
    return out | _optional(mime_type=document.mime_type, file_name=document.file_name)


def photo_size_dict(size: PhotoSize) -> JSON:
    """A ``PhotoSize`` object."""
    return {
        "file_id": size.file_id,
        "file_unique_id": size.file_unique_id,
        "width": size.width,
        "height": size.height,
        "file_size": size.file_size,
    }


def message_dict(
    message: Message,
    chat_of: Callable[[int], Chat],
    find: Callable[[int, int], Message | None],
    *,
    with_reply: bool = True,
) -> JSON:
    """A ``Message`` object; ``find`` resolves the replied-to message, which is nested one level deep."""
    out: JSON = {"message_id": message.message_id, "date": message.date, "chat": chat_dict(chat_of(message.chat_id))}
    if message.sender is not None:
        out["from"] = user_dict(message.sender)
    if message.sender_chat_id is not None:
        out["sender_chat"] = chat_dict(chat_of(message.sender_chat_id))
    if message.text is not None:
        out["text"] = message.text
        if message.entities:
            out["entities"] = list(message.entities)
    if message.caption is not None:
        out["caption"] = message.caption
    if message.video is not None:
        out["video"] = video_dict(message.video)
    if message.document is not None:
        out["document"] = document_dict(message.document)
    if message.photo:
        out["photo"] = [photo_size_dict(size) for size in message.photo]
    if message.media_group_id is not None:
        out["media_group_id"] = message.media_group_id
    # Messages carry only inline keyboards back; ForceReply and reply keyboards are one-way.
    if message.reply_markup and "inline_keyboard" in message.reply_markup:
        out["reply_markup"] = message.reply_markup
    if message.edit_date is not None:
        out["edit_date"] = message.edit_date
    if message.forward_origin is not None:
        out["forward_origin"] = message.forward_origin
    if message.invoice is not None:
        out["invoice"] = dict(message.invoice)
    if message.successful_payment is not None:
        out["successful_payment"] = dict(message.successful_payment)
    if with_reply and message.reply_to_message_id is not None:
        replied = find(message.chat_id, message.reply_to_message_id)
        if replied is not None:
            out["reply_to_message"] = message_dict(replied, chat_of, find, with_reply=False)
    return out


def _optional(**fields: object) -> JSON:
    return {key: value for key, value in fields.items() if value is not None}
