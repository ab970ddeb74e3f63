"""The operator's view, wired from the settings: Prometheus metrics and the durable analytics, both listening to
the core's events, and the ``/metrics`` route that reads the rest of the world at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from starlette.routing import Route

from bot.settings import Settings
from metrics import Metrics, PrometheusListener, Readings, metrics_route, telegram_request_counter
from outbound import Network
from poller.events import Listeners
from poller.version import VERSION
from providers.api_client import ApiClient
from providers.kie_account import credit_balance
from storage.analytics import AnalyticsListener, RedisAnalytics
from storage.redis_jobs import RedisJobStore
from storage.redis_support import RedisClient


@dataclass(frozen=True)
class Observability:
    """One process's metrics and analytics, and the listeners the core reports to."""

    metrics: Metrics
    analytics: RedisAnalytics
    listeners: Listeners
    on_telegram_answer: Callable[[str, int | None], None]


def build_observability(settings: Settings, redis: RedisClient) -> Observability:
    """Metrics on a registry of this process's own, and the analytics on Redis."""
    metrics = Metrics()
    price_of = settings.credits.price  # the configured price, where the provider reports no cost
    analytics = RedisAnalytics(
        redis, prefix=settings.redis.prefix, retention_days=settings.analytics.retention_days, price_of=price_of
    )
    prometheus = PrometheusListener(metrics, store=settings.storage.backend, price_of=price_of)
    return Observability(
        metrics=metrics,
        analytics=analytics,
        listeners=Listeners([prometheus, AnalyticsListener(analytics)]),
        on_telegram_answer=telegram_request_counter(metrics),
    )


def build_metrics_route(
    observability: Observability,
    settings: Settings,
    network: Network,
    *,
    jobs: RedisJobStore,
    held: Callable[[], int] | None,
) -> Route:
    """``GET /metrics``, with the jobs by state from Redis, this engine's held jobs and the KIE balance."""
    kie = settings.providers.kie

    async def active_counts() -> Mapping[str, int]:
        return {status.value: count for status, count in (await jobs.active_counts()).items()}

    async def balance() -> float:
        async with ApiClient(kie.timeout_s, 1, proxy=network.proxy_for(kie.base_url)) as client:
            return await credit_balance(client, kie.base_url, kie.api_key.get_secret_value())

    readings = Readings(
        active_counts=active_counts,
        held=held,
        balance=balance,
        balance_provider="kie",
        balance_refresh_s=kie.balance_refresh_s,
    )
    token = settings.http.metrics_token.get_secret_value() if settings.http.metrics_token else None
    return metrics_route(observability.metrics, readings, token=token, version=VERSION)
