"""Text messages: send, edit (text, caption, keyboard), delete, copy, forward, chat actions."""

from __future__ import annotations

from typing import Any

from sandbox.telegram.errors import (
    MESSAGE_TO_COPY_NOT_FOUND,
    MESSAGE_TO_FORWARD_NOT_FOUND,
    bad_request,
    forbidden,
)
from sandbox.telegram.markup import caption_text, message_text, validate_reply_markup
from sandbox.telegram.methods.base import Call, method, reply_target
from sandbox.telegram.models import JSON, Chat, Event, Message
from sandbox.telegram.serialize import chat_dict, user_dict

CHAT_ACTIONS = frozenset(
    {"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice"}
    | {"upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note"}
)


@method("sendMessage")
async def send_message(call: Call) -> JSON:
    """Post a text message."""
    p = call.params
    chat = call.chat()
    text = message_text(p.text("text"), p.text("parse_mode"))
    markup = validate_reply_markup(p.get("reply_markup"))
    message = Message(text=text, reply_markup=markup, reply_to_message_id=reply_target(call, chat))
    return call.world.render(call.world.post(call.bot, chat, message))


@method("editMessageText")
async def edit_message_text(call: Call) -> JSON:
    """Replace a message's text; its inline keyboard is whatever this call sends (none if omitted)."""
    p = call.params
    chat, message_id = _edit_target(call)
    text = message_text(p.text("text"), p.text("parse_mode"))
    markup = _inline_markup(p.get("reply_markup"))

    def apply(message: Message) -> None:
        if message.text is None:
            raise bad_request("there is no text in the message to edit")
        message.text, message.reply_markup = text, markup

    return call.world.render(call.world.edit(call.bot, chat, message_id, apply))


@method("editMessageCaption")
async def edit_message_caption(call: Call) -> JSON:
    """Replace a media message's caption (and inline keyboard)."""
    p = call.params
    chat, message_id = _edit_target(call)
    caption = caption_text(p.text("caption"), p.text("parse_mode"))
    markup = _inline_markup(p.get("reply_markup"))

    def apply(message: Message) -> None:
        if message.video is None and message.document is None:
            raise bad_request("there is no caption in the message to edit")
        message.caption, message.reply_markup = caption, markup

    return call.world.render(call.world.edit(call.bot, chat, message_id, apply))


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(call: Call) -> JSON:
    """Replace (or, when omitted, remove) a message's inline keyboard."""
    chat, message_id = _edit_target(call)
    markup = _inline_markup(call.params.get("reply_markup"))

    def apply(message: Message) -> None:
        message.reply_markup = markup

    return call.world.render(call.world.edit(call.bot, chat, message_id, apply))


@method("deleteMessage")
async def delete_message(call: Call) -> bool:
    """Delete a message."""
    chat = call.chat()
    call.world.delete(chat, _required_id(call))
    return True


@method("copyMessage")
async def copy_message(call: Call) -> JSON:
    """Send a copy of a message (no link to the original; caption and keyboard may be replaced)."""
    p = call.params
    source = _source(call, MESSAGE_TO_COPY_NOT_FOUND)
    chat = call.chat()
    caption = source.caption
    if p.has("caption"):
        caption = caption_text(p.text("caption"), p.text("parse_mode"))
    copy = Message(
        text=source.text,
        caption=caption,
        video=source.video,
        document=source.document,
        reply_markup=validate_reply_markup(p.get("reply_markup")),
        reply_to_message_id=reply_target(call, chat),
    )
    return {"message_id": call.world.post(call.bot, chat, copy).message_id}


@method("forwardMessage")
async def forward_message(call: Call) -> JSON:
    """Forward a message, keeping its content and naming where it came from."""
    source = _source(call, MESSAGE_TO_FORWARD_NOT_FOUND)
    chat = call.chat()
    forwarded = Message(
        text=source.text,
        caption=source.caption,
        video=source.video,
        document=source.document,
        forward_origin=_origin(call, source),
    )
    return call.world.render(call.world.post(call.bot, chat, forwarded))


@method("sendChatAction")
async def send_chat_action(call: Call) -> bool:
    """Show "typing…" / "sending video…" in a chat (an event for a UI; nothing is stored)."""
    chat = call.chat()
    action = call.params.text("action")
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    if chat.type == "private" and chat.bot_blocked:
        raise forbidden("bot was blocked by the user")
    with call.world.change():
        call.world.emit(Event("chat_action", chat.id, None, {"action": action}))
    return True


def _edit_target(call: Call) -> tuple[Chat, int]:
    if call.params.has("inline_message_id") and not call.params.has("chat_id"):
        raise bad_request("inline messages are not supported by this emulator")
    return call.chat(), _required_id(call)


def _required_id(call: Call) -> int:
    message_id = call.params.integer("message_id")
    if message_id is None:
        raise bad_request("message identifier is not specified")
    return message_id


def _inline_markup(markup: Any) -> JSON | None:
    checked = validate_reply_markup(markup)
    if checked is not None and "inline_keyboard" not in checked:
        raise bad_request("inline keyboard expected")
    return checked


def _source(call: Call, missing: str) -> Message:
    chat = call.chat("from_chat_id")
    message_id = _required_id(call)
    with call.world.lock:
        found = call.world.find(chat.id, message_id)
        if found is None:
            raise bad_request(missing)
        return found.snapshot()


def _origin(call: Call, source: Message) -> JSON:
    with call.world.lock:
        chat = call.world.chat_of(source.chat_id)
    if chat.type == "channel":
        return {"type": "channel", "date": source.date, "chat": chat_dict(chat), "message_id": source.message_id}
    if source.sender is None:
        return {"type": "chat", "date": source.date, "sender_chat": chat_dict(chat)}
    return {"type": "user", "date": source.date, "sender_user": user_dict(source.sender)}
