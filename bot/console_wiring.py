"""Builds the operator console (``console/``) from the settings and the process's Redis stores."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.routing import Mount

from bot.settings import Settings
from console import CachedBalance, ConsoleDeps, console_mount
from outbound import Network
from poller.finish import JobFinisher
from poller.ports import EventBus, ProviderLookup, SessionStore
from providers.api_client import ApiClient
from providers.catalog import all_models
from providers.kie_account import credit_balance
from storage.analytics import RedisAnalytics
from storage.credits import RedisCredits
from storage.job_listing import RedisJobListing
from storage.leases import RedisLeases
from storage.redis_jobs import RedisJobStore
from storage.redis_support import RedisClient
from storage.registries import TaskIndex
from storage.sign_in_attempts import RedisSignInAttempts

Closer = Callable[[], Awaitable[None]]


def build_console(
    settings: Settings,
    redis: RedisClient,
    *,
    jobs: RedisJobStore,
    sessions: SessionStore,
    finisher: JobFinisher,
    events: EventBus,
    credits: RedisCredits | None,
    network: Network,
    closing: Callable[[], bool],
    adapters: ProviderLookup | None = None,
) -> tuple[Mount, Closer] | None:
    """The console's routes and what to close when the process stops; None when ``http.console_token`` is unset
    (the console is off)."""
    token = settings.http.console_token
    if token is None:
        return None
    prefix = settings.redis.prefix
    balance, close = _kie_balance(settings, network)
    models = all_models()
    deps = ConsoleDeps(
        token=token.get_secret_value(),
        jobs=jobs,
        reads=jobs,
        listing=RedisJobListing(redis, jobs, prefix=prefix, horizon_s=settings.redis.job_ttl_s),
        sessions=sessions,
        finisher=finisher,
        events=events,
        tasks=TaskIndex(redis, prefix=prefix),
        analytics=RedisAnalytics(redis, prefix=prefix, retention_days=settings.analytics.retention_days),
        processes=RedisLeases(redis, prefix=prefix),
        balance=balance,
        sign_in=RedisSignInAttempts(redis, prefix=prefix),
        credits=credits,
        providers=sorted({model.provider for model in models}),
        adapters=adapters,
        models=[model.id for model in models],
        secure_cookie=(settings.http.public_url or "").lower().startswith("https://"),
        closing=closing,
    )
    return console_mount(deps), close


def _kie_balance(settings: Settings, network: Network) -> tuple[CachedBalance, Closer]:
    """The KIE account's balance, read at most every ``providers.kie.balance_refresh_s``, and its client's close."""
    kie = settings.providers.kie
    # Its own small client: the balance is never read on the polling pools.
    client = ApiClient(kie.timeout_s, 1, proxy=network.proxy_for(kie.base_url))

    async def read() -> float:
        return await credit_balance(client, kie.base_url, kie.api_key.get_secret_value())

    return CachedBalance(read, kie.balance_refresh_s), client.aclose
