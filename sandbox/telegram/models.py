"""The emulator's world as plain data: users, chats, messages, media, calls and change events."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

ChatType = Literal["private", "group", "supergroup", "channel"]
EventKind = Literal["chat", "message", "edit", "delete", "callback_answer", "chat_action", "reset"]
JSON = dict[str, Any]


@dataclass(frozen=True)
class User:
    """A Telegram account (a person, or a bot with ``is_bot``)."""

    id: int
    first_name: str
    is_bot: bool = False
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None


@dataclass
class Chat:
    """A private chat (id = the user's id), a group, or a channel (ids like -100…)."""

    id: int
    type: ChatType
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    bot_blocked: bool = False  # a private chat whose user blocked the bot
    bots_are_admins: bool = True  # groups and channels: the bots administer it (False: they are not members)


@dataclass(frozen=True)
class Video:
    """A video as Telegram reports it; the sizes are what the sender declared (or probed)."""

    file_id: str
    file_unique_id: str
    width: int
    height: int
    duration: int
    file_size: int
    mime_type: str | None = None
    file_name: str | None = None


@dataclass(frozen=True)
class PhotoSize:
    """One size of a photo a person sent (Telegram keeps several; the last is the largest)."""

    file_id: str
    file_unique_id: str
    width: int
    height: int
    file_size: int


@dataclass(frozen=True)
class Document:
    """A general file sent with sendDocument."""

    file_id: str
    file_unique_id: str
    file_size: int
    mime_type: str | None = None
    file_name: str | None = None


@dataclass(frozen=True)
class MessageVersion:
    """A message's content before one of its edits."""

    text: str | None
    caption: str | None
    reply_markup: JSON | None
    edit_date: int | None


@dataclass
class Message:
    """One message in a chat, in its current state, with its edit history."""

    message_id: int = 0  # assigned when stored
    chat_id: int = 0
    date: int = 0
    sender: User | None = None  # None for a channel post, which is sent on behalf of the channel
    sender_chat_id: int | None = None
    bot_id: int | None = None  # the bot that sent it (only that bot may edit it)
    text: str | None = None
    caption: str | None = None
    entities: list[JSON] = field(default_factory=list)
    video: Video | None = None
    document: Document | None = None
    photo: list[PhotoSize] = field(default_factory=list)  # a person's photo, smallest size first
    media_group_id: str | None = None  # the album a photo belongs to
    reply_markup: JSON | None = None  # inline keyboard or ForceReply, as the bot sent it
    reply_to_message_id: int | None = None
    forward_origin: JSON | None = None
    invoice: JSON | None = None  # a bot's invoice, as the Bot API shows it (the payload is kept privately)
    successful_payment: JSON | None = None  # the service message of a payment
    edit_date: int | None = None
    history: list[MessageVersion] = field(default_factory=list)

    @property
    def buttons(self) -> list[JSON]:
        """The inline keyboard's buttons, row by row flattened (empty without a keyboard)."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [button for row in rows for button in row]

    def snapshot(self) -> Message:
        """A deep copy that callers may keep while the world moves on."""
        return copy.deepcopy(self)

    def version(self) -> MessageVersion:
        """The current content, as kept in the history when an edit replaces it."""
        return MessageVersion(self.text, self.caption, copy.deepcopy(self.reply_markup), self.edit_date)


@dataclass
class CallbackQuery:
    """A button press sent to the bot, and the bot's answer once it came."""

    id: str
    chat_id: int
    message_id: int
    user_id: int
    data: str
    answered: bool = False
    answer: JSON | None = None


@dataclass(frozen=True)
class ApiCall:
    """One Bot API request as the emulator received it (uploads appear as name/size summaries)."""

    method: str
    params: JSON
    bot_id: int
    ok: bool
    error: str | None
    at: float


@dataclass(frozen=True)
class Event:
    """A change in the world, for subscribers such as a web chat UI."""

    kind: EventKind
    chat_id: int | None = None
    message: Message | None = None
    data: JSON = field(default_factory=dict)


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes

    def summary(self) -> JSON:
        """Metadata only, for the call log (never the bytes)."""
        return {"filename": self.filename, "content_type": self.content_type, "size": len(self.data)}


@dataclass
class InvoiceOffer:
    """What an invoice message sells, privately (its payload never shows in the message)."""

    chat_id: int
    message_id: int
    bot_id: int
    payload: str
    currency: str
    total_amount: int


@dataclass
class PreCheckout:
    """A pre-checkout query sent to a bot, and its answer once it came."""

    query_id: str
    user_id: int
    currency: str
    total_amount: int
    payload: str
    answer: JSON | None = None


@dataclass
class StarPayment:
    """A payment made in Stars, and whether the bot refunded it."""

    charge_id: str
    user_id: int
    bot_id: int
    total_amount: int
    payload: str
    refunded: bool = False
