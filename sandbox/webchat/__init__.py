"""A browser chat that looks and behaves like Telegram, driving the Bot API emulator as a person would."""

from sandbox.webchat.app import create_app
from sandbox.webchat.feed import ChatFeed, Subscription
from sandbox.webchat.views import ChatSetup, message_view, snapshot

__all__ = ["ChatFeed", "ChatSetup", "Subscription", "create_app", "message_view", "snapshot"]
