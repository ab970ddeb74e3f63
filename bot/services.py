"""What the Telegram handlers need, bundled so the composition root can hand it over in one piece."""

from __future__ import annotations

from dataclasses import dataclass

from bot.settings import Settings
from poller.engine import Engine
from poller.ports import JobStore, SessionStore


@dataclass(frozen=True, slots=True)
class Services:
    """The engine and stores, plus the settings the handlers read."""

    settings: Settings
    jobs: JobStore
    sessions: SessionStore
    engine: Engine
