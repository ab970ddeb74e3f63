"""The shared in-memory world behind one lock: bots, users, chats, messages, button presses, the call log."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from sandbox.telegram.bots import BotAccount
from sandbox.telegram.errors import (
    CHAT_NOT_FOUND,
    MESSAGE_TO_DELETE_NOT_FOUND,
    MESSAGE_TO_EDIT_NOT_FOUND,
    NOT_MODIFIED,
    QUERY_TOO_OLD,
    bad_request,
    forbidden,
)
from sandbox.telegram.events import EventHub
from sandbox.telegram.faults import FloodControl
from sandbox.telegram.models import (
    JSON,
    ApiCall,
    CallbackQuery,
    Chat,
    Event,
    InvoiceOffer,
    Message,
    PreCheckout,
    StarPayment,
    User,
)
from sandbox.telegram.serialize import message_dict
from sandbox.telegram.updates import Waiters

FIRST_CHANNEL_ID = -1_001_000_000_001
FIRST_GROUP_ID = -4_000_000_001


class World:
    """All mutable state; every change runs inside ``change()``, which publishes its events afterwards."""

    def __init__(self, hub: EventHub, waiters: Waiters) -> None:
        self.lock = threading.RLock()
        self._hub = hub
        self._waiters = waiters
        self._depth = 0
        self._events: list[Event] = []
        self.flood: FloodControl | None = None
        self.clear()

    def clear(self) -> None:
        """Forget everything (bots included)."""
        with self.lock:
            self.bots: dict[str, BotAccount] = {}
            self.users: dict[int, User] = {}
            self.chats: dict[int, Chat] = {}
            self.api_calls: list[ApiCall] = []
            self.callbacks: dict[str, CallbackQuery] = {}
            self.invoices: dict[tuple[int, int], InvoiceOffer] = {}  # (chat id, message id) -> what it sells
            self.pre_checkouts: dict[str, PreCheckout] = {}
            self.payments: dict[str, StarPayment] = {}  # telegram_payment_charge_id -> payment
            self._messages: dict[int, dict[int, Message]] = {}
            self._last_message_id: dict[int, int] = {}
            self._channel_ids = itertools.count(-FIRST_CHANNEL_ID)
            self._group_ids = itertools.count(-FIRST_GROUP_ID)

    @contextmanager
    def change(self) -> Iterator[None]:
        """Hold the lock for a change; the outermost one publishes its events and wakes long polls."""
        with self.lock:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                outermost = self._depth == 0
                events, self._events = (self._events, []) if outermost else ([], self._events)
        if outermost:
            # Outside the lock: subscribers may read the world, and long polls re-take the lock.
            self._hub.publish(events)
            self._waiters.wake_all()

    def emit(self, event: Event) -> None:
        """Queue an event for publication when the current change ends."""
        self._events.append(event)

    # -- lookups -------------------------------------------------------------------------------------

    def chat_of(self, chat_id: int) -> Chat:
        """A known chat by id (KeyError otherwise)."""
        return self.chats[chat_id]

    def resolve_chat(self, ref: int | str) -> Chat:
        """A chat by id or ``@username``; 400 ``chat not found`` otherwise."""
        with self.lock:
            if isinstance(ref, int) and ref in self.chats:
                return self.chats[ref]
            if isinstance(ref, str) and ref.startswith("@"):
                for chat in self.chats.values():
                    if chat.username and chat.username.lower() == ref[1:].lower():
                        return chat
        raise bad_request(CHAT_NOT_FOUND)

    def find(self, chat_id: int, message_id: int) -> Message | None:
        """The live message object (callers hold the lock or take a snapshot)."""
        return self._messages.get(chat_id, {}).get(message_id)

    def chat_messages(self, chat_id: int) -> list[Message]:
        """Snapshots of a chat's messages, oldest first."""
        with self.lock:
            return [m.snapshot() for m in self._messages.get(chat_id, {}).values()]

    def render(self, message: Message) -> JSON:
        """The Bot API ``Message`` object for a stored message."""
        with self.lock:
            return message_dict(message, self.chat_of, self.find)

    def describe(self, last_calls: int = 20) -> str:
        """A readable dump of the recent calls and every chat's messages (for failure messages)."""
        with self.lock:
            calls = self.api_calls[-last_calls:]
            lines = [f"last {len(calls)} Bot API calls:"]
            lines += [f"  {c.method} {c.params} -> {'ok' if c.ok else c.error}" for c in calls]
            for chat in self.chats.values():
                lines.append(f"chat {chat.id} ({chat.type}):")
                lines += [f"  {_summary(m)}" for m in self.chat_messages(chat.id)]
        return "\n".join(lines)

    # -- setup ---------------------------------------------------------------------------------------

    def put_user(self, user: User) -> User:
        """Add or update a user and its private chat with the bots."""
        with self.change():
            self.users[user.id] = user
            chat = self.chats.get(user.id)
            blocked = chat.bot_blocked if chat else False
            self.chats[user.id] = updated = Chat(
                id=user.id,
                type="private",
                username=user.username,
                first_name=user.first_name,
                last_name=user.last_name,
                bot_blocked=blocked,
            )
            self.emit(Event("chat", user.id, data={"chat": replace(updated)}))
        return user

    def new_chat_id(self, kind: str) -> int:
        """A fresh id for a channel (-100…) or a group."""
        with self.lock:
            return -next(self._channel_ids if kind == "channel" else self._group_ids)

    # -- messages ------------------------------------------------------------------------------------

    def append(self, message: Message) -> Message:
        """Store a new message, giving it the chat's next id and the current date."""
        with self.change():
            message.message_id = self._last_message_id.get(message.chat_id, 0) + 1
            self._last_message_id[message.chat_id] = message.message_id
            message.date = int(time.time())
            self._messages.setdefault(message.chat_id, {})[message.message_id] = message
            self.emit(Event("message", message.chat_id, message.snapshot()))
        return message

    def post(self, bot: BotAccount, chat: Chat, message: Message) -> Message:
        """Send a bot's message to a chat, applying Telegram's access rules and flood control."""
        with self.change():
            if chat.type == "private" and chat.bot_blocked:
                raise forbidden("bot was blocked by the user")
            if self.flood is not None:
                self.flood.check(chat.id)
            message.chat_id = chat.id
            message.bot_id = bot.user.id
            if chat.type == "channel":
                message.sender, message.sender_chat_id = None, chat.id
            else:
                message.sender = bot.user
            return self.append(message)

    def edit(self, bot: BotAccount, chat: Chat, message_id: int, apply: Callable[[Message], None]) -> Message:
        """Apply an edit to a bot's message; 400 when it is missing, foreign, or left unchanged."""
        with self.change():
            current = self.find(chat.id, message_id)
            if current is None:
                raise bad_request(MESSAGE_TO_EDIT_NOT_FOUND)
            if current.bot_id != bot.user.id:
                raise bad_request("message can't be edited")
            edited = current.snapshot()
            apply(edited)
            if _content(edited) == _content(current):
                raise bad_request(NOT_MODIFIED)
            if self.flood is not None:  # edits count against the chat's limit, as on Telegram
                self.flood.check(chat.id)
            current.history.append(current.version())
            current.text, current.caption = edited.text, edited.caption
            current.reply_markup = edited.reply_markup
            current.edit_date = int(time.time())
            self.emit(Event("edit", chat.id, current.snapshot()))
            return current

    def delete(self, chat: Chat, message_id: int) -> None:
        """Remove a message; 400 ``message to delete not found`` when there is none."""
        with self.change():
            removed = self._messages.get(chat.id, {}).pop(message_id, None)
            if removed is None:
                raise bad_request(MESSAGE_TO_DELETE_NOT_FOUND)
            self.emit(Event("delete", chat.id, removed))

    # -- button presses ------------------------------------------------------------------------------

    def answer_callback(self, query_id: str, answer: JSON) -> None:
        """Record the bot's one allowed answer to a button press."""
        with self.change():
            query = self.callbacks.get(query_id)
            if query is None or query.answered:
                raise bad_request(QUERY_TOO_OLD)
            query.answered, query.answer = True, answer
            self.emit(Event("callback_answer", query.chat_id, None, {"callback_query_id": query_id, **answer}))


def _content(message: Message) -> tuple[str | None, str | None, JSON | None]:
    # Only inline keyboards belong to a message's state; ForceReply was a one-off request to the client.
    markup = message.reply_markup if message.reply_markup and "inline_keyboard" in message.reply_markup else None
    return message.text, message.caption, markup


def _summary(message: Message) -> str:
    who = message.sender.first_name if message.sender else "channel"
    body = message.text if message.text is not None else f"[video] {message.caption or ''}"
    if message.document is not None:
        body = f"[document] {message.caption or ''}"
    if message.photo:
        body = f"[photo] {message.caption or ''}"
    buttons = [b.get("text") for b in message.buttons]
    return f"#{message.message_id} {who}: {body!r}" + (f" buttons={buttons}" if buttons else "")
