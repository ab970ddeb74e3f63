"""What a Bot API method handler receives, and the registry the HTTP layer dispatches through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from sandbox.telegram.bots import BotAccount
from sandbox.telegram.errors import bad_request
from sandbox.telegram.models import Chat
from sandbox.telegram.params import Params
from sandbox.telegram.world import World

if TYPE_CHECKING:
    from sandbox.telegram.state import TelegramEmulator


@dataclass(frozen=True)
class Call:
    """One authenticated Bot API call."""

    emulator: TelegramEmulator
    bot: BotAccount
    params: Params

    @property
    def world(self) -> World:
        """The emulator's shared world."""
        return self.emulator.world

    def chat(self, name: str = "chat_id") -> Chat:
        """The chat a parameter names; 400 ``chat not found`` otherwise."""
        return self.world.resolve_chat(self.params.chat_id(name))


@dataclass(frozen=True)
class Described:
    """A result that Telegram answers together with a ``description`` (setWebhook and friends)."""

    result: Any
    description: str


Handler = Callable[[Call], Awaitable[Any]]
H = TypeVar("H", bound=Handler)
METHODS: dict[str, Handler] = {}


def method(name: str) -> Callable[[H], H]:
    """Register a handler for a Bot API method (names are matched case-insensitively, as Telegram does)."""

    def register(handler: H) -> H:
        METHODS[name.lower()] = handler
        return handler

    return register


def reply_target(call: Call, chat: Chat) -> int | None:
    """The message a send replies to (``reply_parameters`` or the older ``reply_to_message_id``)."""
    params = call.params
    reply = params.get("reply_parameters")
    target: int | None = None
    if isinstance(reply, dict) and reply.get("message_id") is not None:
        target, lenient = int(reply["message_id"]), bool(reply.get("allow_sending_without_reply"))
    else:
        target, lenient = params.integer("reply_to_message_id"), params.flag("allow_sending_without_reply")
    if target is None:
        return None
    with call.world.lock:
        if call.world.find(chat.id, target) is None:
            if lenient:
                return None
            raise bad_request("message to be replied not found")
    return target
