"""Bot accounts: the token check Telegram applies, and each bot's queue, webhook and command lists."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sandbox.telegram.errors import not_found, unauthorized
from sandbox.telegram.models import JSON, User
from sandbox.telegram.updates import UpdateQueue

_TOKEN = re.compile(r"^(\d{1,20}):[A-Za-z0-9_-]+$")


@dataclass
class WebhookConfig:
    """What setWebhook asked for, and how delivery has gone since."""

    url: str
    secret_token: str | None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class BotAccount:
    """One bot: its identity, pending updates, webhook, commands and the current getUpdates caller."""

    token: str
    user: User
    updates: UpdateQueue = field(default_factory=UpdateQueue)
    webhook: WebhookConfig | None = None
    commands: dict[str, list[JSON]] = field(default_factory=dict)  # key: scope JSON + language code
    poll_generation: int = 0  # a newer getUpdates terminates the older one with 409, as Telegram does
    waiting_polls: int = 0  # getUpdates calls currently waiting for an update


def bot_id_of(token: str) -> int:
    """The bot's user id (the digits before the colon); 404 ``Not Found`` for a malformed token."""
    match = _TOKEN.match(token)
    if match is None:
        raise not_found()
    return int(match.group(1))


def check_token(token: str, known: dict[str, BotAccount], accept_any: bool) -> BotAccount | None:
    """The account for ``token``; ``None`` when it is well formed and new but any token is accepted."""
    bot_id_of(token)
    if token in known:
        return known[token]
    if accept_any:
        return None
    raise unauthorized()
