"""What the Telegram handlers need, bundled so the composition root can hand it over in one piece."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.access import AccessPolicy
from bot.photo_intake import PhotoIntake
from bot.settings import Settings
from poller.create_job import JobCreator
from poller.events import JobEvents, NoEvents
from poller.finish import JobFinisher
from poller.ports import EventBus, JobStore, ProviderLookup, SessionStore
from poller.purchases import Purchases
from providers.catalog import Catalog
from storage.analytics import RedisAnalytics
from storage.credits import RedisCredits
from storage.referrals import RedisReferrals
from storage.registries import UpdateDeduplicator
from storage.star_payments import RedisPurchases


@dataclass(frozen=True, slots=True)
class Services:
    """The stores, the use cases, the event bus that hands new jobs to pollers, the access policy and the
    settings the handlers read."""

    settings: Settings
    jobs: JobStore
    sessions: SessionStore
    events: EventBus
    finisher: JobFinisher
    dedupe: UpdateDeduplicator
    creator: JobCreator
    access: AccessPolicy
    analytics: RedisAnalytics
    catalog: Catalog  # the models offered here (models.enabled)
    credits: RedisCredits | None = None  # None when credits are switched off
    photos: PhotoIntake | None = None  # image-to-video from photos (None: photos are not taken)
    providers: ProviderLookup | None = None  # for /cancel to stop a task at its provider (fal); None in tests
    purchases: Purchases | None = None  # credits for Telegram Stars (None: nothing is sold)
    purchase_history: RedisPurchases | None = None  # a user's recent purchases, for /balance
    referrals: RedisReferrals | None = None  # invite links and who invited whom
    listeners: JobEvents = field(default_factory=NoEvents)  # who hears of what the handlers do (a video published)
