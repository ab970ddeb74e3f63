"""The job API (``/v1``) built from the settings and the process's parts, mounted under the HTTP app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.routing import Mount

from bot.http.v1 import V1Deps, create_v1_app
from bot.http.v1.stream import JobStreams
from bot.settings import Settings
from bot.use_cases import build_job_creator
from poller.events import JobEvents
from poller.finish import JobFinisher
from poller.ports import CreditLedger, EventBus, JobStore, ProviderLookup, SessionStore
from storage.api_jobs import RedisApiJobs
from storage.api_keys import RedisApiKeys
from storage.api_rate_limit import ApiRateLimiter
from storage.redis_support import RedisClient
from webhooks.signing import new_secret


@dataclass(frozen=True, slots=True)
class ApiParts:
    """What the job API takes from the process (``bot.app.Reelay``)."""

    settings: Settings
    redis: RedisClient
    jobs: JobStore
    sessions: SessionStore
    events: EventBus
    finisher: JobFinisher
    credits: CreditLedger | None


def build_api_mount(
    parts: ApiParts, listeners: JobEvents, providers: ProviderLookup | None, closing: Callable[[], bool]
) -> Mount:
    """``/v1`` in every process role (a job is created in Redis and any poller takes it); ``closing`` is True once
    the HTTP server stops, so open event streams end."""
    settings, redis = parts.settings, parts.redis
    prefix = settings.redis.prefix
    catalog = settings.catalog()
    api_jobs = RedisApiJobs(redis, history_ttl_s=settings.redis.job_ttl_s, prefix=prefix)
    deps = V1Deps(
        keys=RedisApiKeys(redis, make_secret=new_secret, prefix=prefix),
        limiter=ApiRateLimiter(redis, requests_per_minute=settings.api.requests_per_minute, prefix=prefix),
        creator=build_job_creator(
            settings,
            redis,
            jobs=parts.jobs,
            sessions=parts.sessions,
            events=parts.events,
            credits=parts.credits,
            listeners=listeners,
            catalog=catalog,
        ),
        jobs=parts.jobs,
        api_jobs=api_jobs,
        events=parts.events,
        finisher=parts.finisher,
        providers=providers,
        catalog=catalog,
        prices=settings.credits if parts.credits is not None else None,
        default_model=settings.defaults.model,
        default_aspect=settings.defaults.aspect_ratio,
        allow_http=settings.network.allow_private_addresses,
        streams=JobStreams(parts.jobs, api_jobs, closing=closing),
    )
    return Mount("/v1", app=create_v1_app(deps))
