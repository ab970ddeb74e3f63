"""A stand-in Telegram Bot API server: an in-memory world (``TelegramEmulator``) and its HTTP app."""

from sandbox.telegram.api import create_app
from sandbox.telegram.errors import BotApiError
from sandbox.telegram.faults import FaultKind
from sandbox.telegram.models import ApiCall, CallbackQuery, Chat, Document, Event, Message, User, Video
from sandbox.telegram.state import DEFAULT_TOKEN, TelegramEmulator
from sandbox.telegram.webhook import SECRET_HEADER

__all__ = [
    "DEFAULT_TOKEN",
    "SECRET_HEADER",
    "ApiCall",
    "BotApiError",
    "CallbackQuery",
    "Chat",
    "Document",
    "Event",
    "FaultKind",
    "Message",
    "TelegramEmulator",
    "User",
    "Video",
    "create_app",
]
