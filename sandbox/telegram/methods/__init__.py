"""Bot API method handlers, registered by name in ``METHODS``."""

from sandbox.telegram.methods import account, media, messages, payments, updates
from sandbox.telegram.methods.base import METHODS, Call, Described, Handler

__all__ = ["METHODS", "Call", "Described", "Handler", "account", "media", "messages", "payments", "updates"]
