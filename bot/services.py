"""What the Telegram handlers need, bundled so the composition root can hand it over in one piece."""

from __future__ import annotations

from dataclasses import dataclass

from bot.settings import Settings
from poller.finish import JobFinisher
from poller.ports import EventBus, JobStore, SessionStore
from storage.credits import RedisCredits
from storage.registries import UpdateDeduplicator


@dataclass(frozen=True, slots=True)
class Services:
    """The stores, the event bus that hands new jobs to pollers, and the settings the handlers read."""

    settings: Settings
    jobs: JobStore
    sessions: SessionStore
    events: EventBus
    finisher: JobFinisher
    dedupe: UpdateDeduplicator
    credits: RedisCredits | None = None  # None when credits are switched off
