"""The core's use cases and the access policy, built from the settings for the entry points (the Telegram
handlers)."""

from __future__ import annotations

from telegram import Bot

from bot.access import AccessPolicy
from bot.settings import Settings
from bot.star_refunds import TelegramStarRefunds
from poller.create_job import CreationRules, JobCreator
from poller.events import JobEvents
from poller.invoices import payload_key
from poller.ports import CreditLedger, EventBus, JobStore, SessionStore
from poller.purchases import Pack, Purchases
from providers.catalog import Catalog
from storage.admissions import RedisAdmissions
from storage.credits import RedisCredits
from storage.daily_quota import RedisDailyQuota
from storage.redis_support import RedisClient
from storage.referrals import RedisReferrals
from storage.star_payments import RedisPurchases


def build_job_creator(
    settings: Settings,
    redis: RedisClient,
    *,
    jobs: JobStore,
    sessions: SessionStore,
    events: EventBus,
    credits: CreditLedger | None,
    listeners: JobEvents | None = None,
    catalog: Catalog | None = None,
) -> JobCreator:
    """The create-a-job use case with the configured limits, credits (when enabled) and daily allowance."""
    limits = settings.limits
    rules = CreationRules(
        max_prompt_chars=limits.max_prompt_chars,
        max_active_per_user=limits.max_active_jobs_per_user,
        daily_videos_per_user=limits.daily_videos_per_user,
        unlimited_user_ids=frozenset(settings.admin.user_ids),
    )
    quota = RedisDailyQuota(redis, prefix=settings.redis.prefix) if limits.daily_videos_per_user is not None else None
    return JobCreator(
        jobs=jobs,
        sessions=sessions,
        events=events,
        models=catalog or settings.catalog(),
        rules=rules,
        credits=credits,
        prices=settings.credits if credits is not None else None,
        quota=quota,
        listeners=listeners,
    )


def build_access_policy(settings: Settings, redis: RedisClient) -> AccessPolicy:
    """Who may use the bot, from ``[access]`` and the admins."""
    access = settings.access
    return AccessPolicy(
        access.mode,
        user_ids=access.user_ids,
        admin_ids=settings.admin.user_ids,
        invite_codes=[code.get_secret_value() for code in access.invite_codes],
        admissions=RedisAdmissions(redis, prefix=settings.redis.prefix) if access.mode == "invite" else None,
    )


def build_purchases(
    settings: Settings, redis: RedisClient, credits: RedisCredits | None, bot: Bot, referrals: RedisReferrals
) -> tuple[Purchases, RedisPurchases] | None:
    """The purchase use case and its ledger when credits are on (``/buy`` says nothing is for sale without packs);
    invoice payloads are signed with a key derived from the bot token, so only this bot's invoices are paid."""
    if credits is None:
        return None
    ledger = RedisPurchases(redis, credits, prefix=settings.redis.prefix)
    packs = [
        Pack(pack.id, pack.credits, pack.stars, pack.label, pack.label_translations) for pack in settings.credits.packs
    ]
    purchases = Purchases(
        packs=packs,
        payload_key=payload_key(settings.telegram.token.get_secret_value()),
        ledger=ledger,
        refunds=TelegramStarRefunds(bot),
        referrals=referrals,
        referral_bonus=settings.credits.referral_bonus,
    )
    return purchases, ledger
