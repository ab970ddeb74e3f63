"""``TelegramEmulator``: the world a stand-in Bot API server serves, driven from tests or a web chat."""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from sandbox.telegram.bots import BotAccount, WebhookConfig, bot_id_of, check_token
from sandbox.telegram.checkout import Checkout
from sandbox.telegram.events import EventHub
from sandbox.telegram.faults import FaultKind, Faults, FloodControl
from sandbox.telegram.files import FileStore
from sandbox.telegram.markup import command_entities
from sandbox.telegram.models import JSON, ApiCall, CallbackQuery, Chat, ChatType, Event, Message, User
from sandbox.telegram.params import Params
from sandbox.telegram.serialize import user_dict
from sandbox.telegram.updates import Waiters
from sandbox.telegram.user_media import document, photo_sizes
from sandbox.telegram.world import World

T = TypeVar("T")
DEFAULT_TOKEN = "123456:TEST-TOKEN"
MB = 1024 * 1024


class TelegramEmulator:
    """An in-memory Telegram for one or more bots; thread-safe, so tests can drive it from any thread.

    The bot side goes through the HTTP app (``create_app``); the user side through ``send_text``,
    ``send_command`` and ``press_button``; tests read it back with ``messages``, ``calls`` and ``wait_for``.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        accept_any_token: bool = False,
        bot_username: str = "reelay_test_bot",
        bot_first_name: str = "Reelay",
        max_upload_bytes: int = 50 * MB,
        max_url_bytes: int = 20 * MB,
        max_download_bytes: int = 20 * MB,
        webhook_retry_s: float = 0.5,
    ) -> None:
        self.token = token
        self.accept_any_token = accept_any_token
        self.max_upload_bytes = max_upload_bytes
        self.max_url_bytes = max_url_bytes
        self.max_download_bytes = max_download_bytes
        self.webhook_retry_s = webhook_retry_s
        self._bot_identity = (bot_username, bot_first_name)
        self.hub = EventHub()
        self.waiters = Waiters()
        self.world = World(self.hub, self.waiters)
        self.files = FileStore()
        self.faults = Faults()
        self._query_ids = itertools.count(1)
        self.checkout = Checkout(self)  # a person paying invoices in Stars
        self.reset()

    # -- setup -----------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to an empty world with only the configured bot (and no faults or flood control)."""
        with self.world.change():
            self.world.clear()
            self.world.flood = None
            self.faults.clear()
            self.files.clear()
            self.refusing_refunds = False  # refundStarPayment answers REFUND_FAILED while set
            self._register_bot(self.token, *self._bot_identity)
            self.world.emit(Event("reset"))

    @property
    def bot_user(self) -> User:
        """The configured bot's own ``User``."""
        return self.world.bots[self.token].user

    def bot_for(self, token: str) -> BotAccount:
        """The account behind a token (a new one if any well-formed token is accepted); 404/401 otherwise."""
        with self.world.lock:
            account = check_token(token, self.world.bots, self.accept_any_token)
            return account or self._register_bot(token, f"bot{bot_id_of(token)}", "Bot")

    def add_user(
        self,
        user_id: int,
        first_name: str = "Alice",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> User:
        """Add (or rename) a person; their private chat with the bot exists from then on, as after /start."""
        return self.world.put_user(User(user_id, first_name, False, last_name, username, language_code))

    def add_channel(
        self, title: str = "Reelay Channel", *, username: str | None = None, bots_are_admins: bool = True
    ) -> int:
        """Create a channel (id -100…) where the bots are administrators (or not members); returns its id."""
        return self._add_chat("channel", title, username, bots_are_admins=bots_are_admins)

    def add_group(self, title: str = "Reelay Group", *, supergroup: bool = True) -> int:
        """Create a group or supergroup with the bots as members; returns its id."""
        return self._add_chat("supergroup" if supergroup else "group", title, None)

    def block_bot(self, user_id: int, blocked: bool = True) -> None:
        """The user blocks (or unblocks) the bot: sends to them fail with 403 like Telegram's."""
        with self.world.change():
            self.world.resolve_chat(user_id).bot_blocked = blocked

    def inject_fault(
        self, method: str, kind: FaultKind = "flood", *, times: int = 1, retry_after: int = 1, status: int = 500
    ) -> None:
        """Fail the next ``times`` calls of ``method`` ("*" = any): 429 with retry_after, or a 5xx."""
        self.faults.add(method, kind, times=times, retry_after=retry_after, status=status)

    def set_flood_control(self, max_messages: int | None, per_seconds: float = 1.0) -> None:
        """429 once a chat gets more than ``max_messages`` sends or edits per ``per_seconds`` (None: off)."""
        with self.world.lock:
            self.world.flood = None if max_messages is None else FloodControl(max_messages, per_seconds)

    # -- the user side ---------------------------------------------------------------------------------

    def send_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        reply_to_message_id: int | None = None,
        first_name: str = "Alice",
        token: str | None = None,
    ) -> JSON:
        """A person writes ``text`` (a /command gets its bot_command entity); returns the Update queued.

        When the bot's allowed_updates filters messages out, nothing is queued and the returned dict has
        no ``update_id``.
        """
        with self.world.change():
            user = self._person(user_id, first_name)
            chat = self._chat_for_user(chat_id, user)
            if reply_to_message_id is not None and self.world.find(chat.id, reply_to_message_id) is None:
                raise ValueError(f"chat {chat_id} has no message {reply_to_message_id} to reply to")
            message = Message(
                chat_id=chat.id,
                sender=user,
                text=text,
                entities=command_entities(text),
                reply_to_message_id=reply_to_message_id,
            )
            stored = self.world.append(message)
            return self._deliver(token, "message", self.world.render(stored))

    def send_photo(
        self,
        chat_id: int,
        user_id: int,
        data: bytes,
        *,
        caption: str | None = None,
        media_group_id: str | None = None,
        first_name: str = "Alice",
        token: str | None = None,
    ) -> JSON:
        """A person sends a photo (JPEG, PNG or WebP bytes), with a caption, or as one of an album's photos
        (``media_group_id``: each photo of an album is a message and an update of its own)."""
        sizes = photo_sizes(self.files, data)
        return self._send_user_message(
            chat_id, user_id, first_name, token, photo=sizes, caption=caption, media_group_id=media_group_id
        )

    def send_document(
        self,
        chat_id: int,
        user_id: int,
        data: bytes,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        caption: str | None = None,
        first_name: str = "Alice",
        token: str | None = None,
    ) -> JSON:
        """A person sends a file; ``file_name`` and ``mime_type`` are what their client claims (unchecked)."""
        sent = document(self.files, data, file_name, mime_type)
        return self._send_user_message(chat_id, user_id, first_name, token, document=sent, caption=caption)

    def _send_user_message(
        self, chat_id: int, user_id: int, first_name: str, token: str | None, **content: Any
    ) -> JSON:
        with self.world.change():
            user = self._person(user_id, first_name)
            chat = self._chat_for_user(chat_id, user)
            stored = self.world.append(Message(chat_id=chat.id, sender=user, **content))
            return self._deliver(token, "message", self.world.render(stored))

    def send_service_message(self, chat_id: int, user_id: int, *, token: str | None = None, **content: Any) -> JSON:
        """A message Telegram sends on a person's behalf (a successful payment); the Update queued."""
        user = self.world.users[user_id]
        return self._send_user_message(chat_id, user_id, user.first_name, token, **content)

    def deliver_update(self, token: str | None, kind: str, payload: JSON) -> JSON:
        """Queue an update of ``kind`` for the bot (``token``: which bot; None for the configured one)."""
        return self._deliver(token, kind, payload)

    def send_command(self, chat_id: int, user_id: int, command: str, args: str = "", **kwargs: Any) -> JSON:
        """A person sends ``/command args``; takes ``send_text``'s keyword arguments."""
        text = "/" + command.removeprefix("/") + (f" {args}" if args else "")
        return self.send_text(chat_id, user_id, text, **kwargs)

    def press_button(
        self,
        chat_id: int,
        message_id: int,
        user_id: int,
        data: str,
        *,
        first_name: str = "Alice",
        token: str | None = None,
        require_button: bool = True,
    ) -> str:
        """A person presses an inline button; returns the callback query id the bot must answer."""
        with self.world.change():
            user = self._person(user_id, first_name)
            message = self.world.find(chat_id, message_id)
            if message is None:
                raise ValueError(f"chat {chat_id} has no message {message_id}")
            if require_button and data not in [b.get("callback_data") for b in message.buttons]:
                raise ValueError(f"message {message_id} has no button with callback_data {data!r}")
            query_id = f"{next(self._query_ids)}{secrets.randbelow(10**9):09d}"
            self.world.callbacks[query_id] = CallbackQuery(query_id, chat_id, message_id, user.id, data)
            payload: JSON = {
                "id": query_id,
                "from": user_dict(user),
                "message": self.world.render(message),
                "chat_instance": str(abs(chat_id)),
                "data": data,
            }
            self._deliver(token, "callback_query", payload)
            return query_id

    # -- reading the world -----------------------------------------------------------------------------

    def messages(self, chat_id: int) -> list[Message]:
        """The chat's messages as they are now (snapshots), oldest first."""
        return self.world.chat_messages(chat_id)

    def message(self, chat_id: int, message_id: int) -> Message | None:
        """One message as it is now (a snapshot), or ``None`` if it does not exist (any more)."""
        with self.world.lock:
            found = self.world.find(chat_id, message_id)
            return found.snapshot() if found else None

    def last_message(self, chat_id: int) -> Message | None:
        """The newest message still in the chat (a snapshot), if any."""
        messages = self.world.chat_messages(chat_id)
        return messages[-1] if messages else None

    def chats(self) -> list[Chat]:
        """Every chat the world knows."""
        with self.world.lock:
            return list(self.world.chats.values())

    def calls(self, method: str | None = None) -> list[ApiCall]:
        """Every Bot API call received so far (of one method, compared case-insensitively)."""
        with self.world.lock:
            calls = list(self.world.api_calls)
        return calls if method is None else [c for c in calls if c.method.lower() == method.lower()]

    def callback_query(self, query_id: str) -> CallbackQuery | None:
        """A button press and the bot's answer to it, if it answered."""
        with self.world.lock:
            return self.world.callbacks.get(query_id)

    def pending_updates(self, token: str | None = None) -> list[JSON]:
        """Updates the bot has not confirmed (or its webhook has not accepted) yet."""
        with self.world.lock:
            return self._bot(token).updates.peek(10_000)

    def is_polling(self, token: str | None = None) -> bool:
        """Whether a getUpdates long poll of the bot is waiting right now."""
        with self.world.lock:
            return self._bot(token).waiting_polls > 0

    def webhook(self, token: str | None = None) -> WebhookConfig | None:
        """The bot's webhook settings and delivery errors, if one is set."""
        with self.world.lock:
            return self._bot(token).webhook

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback`` on every change (in the changing thread); returns a function to unsubscribe."""
        return self.hub.subscribe(callback)

    def wait_for(self, predicate: Callable[[], T | None], timeout: float = 10.0, *, what: str | None = None) -> T:
        """Block until ``predicate()`` is truthy, return its value; AssertionError with the world on timeout."""
        return self.hub.wait_for(predicate, timeout, self._context(what, predicate))

    async def wait_for_async(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 10.0,
        *,
        what: str | None = None,
    ) -> T:
        """``wait_for`` for async tests: polls with ``asyncio.sleep`` and never blocks the loop."""
        return await self.hub.wait_for_async(predicate, timeout, self._context(what, predicate))

    def describe(self, last_calls: int = 20) -> str:
        """A readable dump of the recent calls and every chat's messages (for failure messages)."""
        return self.world.describe(last_calls)

    def record_call(self, bot: BotAccount, method: str, params: Params, error: str | None) -> None:
        """Log one Bot API call (the HTTP layer calls this once per request, with its outcome)."""
        call = ApiCall(method, params.logged(), bot.user.id, error is None, error, time.time())
        with self.world.lock:
            if self.world.bots.get(bot.token) is not bot:
                return  # a call that began before a reset belongs to the old world's log
            self.world.api_calls.append(call)
        self.hub.changed()

    # -- internals -------------------------------------------------------------------------------------

    def _register_bot(self, token: str, username: str, first_name: str) -> BotAccount:
        user = User(bot_id_of(token), first_name, True, username=username)
        account = BotAccount(token=token, user=user)
        self.world.bots[token] = account
        return account

    def _bot(self, token: str | None) -> BotAccount:
        return self.world.bots[token or self.token]

    def _add_chat(self, kind: ChatType, title: str, username: str | None, *, bots_are_admins: bool = True) -> int:
        with self.world.change():
            chat_id = self.world.new_chat_id(kind)
            chat = Chat(chat_id, kind, title=title, username=username, bots_are_admins=bots_are_admins)
            self.world.chats[chat_id] = chat
            self.world.emit(Event("chat", chat_id, data={"chat": replace(chat)}))
            return chat_id

    def _person(self, user_id: int, first_name: str) -> User:
        known = self.world.users.get(user_id)
        if known is not None and known.first_name == first_name:
            return known
        return self.add_user(user_id, first_name)

    def _chat_for_user(self, chat_id: int, user: User) -> Chat:
        chat = self.world.chats.get(chat_id)
        if chat is None or (chat.type == "private" and chat_id != user.id):
            raise ValueError(f"user {user.id} cannot write in chat {chat_id}")
        if chat.type == "channel":
            raise ValueError(f"chat {chat_id} is a channel: only its administrators post there")
        return chat

    def _deliver(self, token: str | None, kind: str, payload: JSON) -> JSON:
        update = self._bot(token).updates.push(kind, payload)
        return update if update is not None else {kind: payload}

    def _context(self, what: str | None, predicate: Callable[[], Any]) -> Callable[[str], str]:
        label = what or getattr(predicate, "__qualname__", repr(predicate))
        return lambda reason: f"{reason} waiting for {label}\n{self.describe()}"
