"""Builders for the adapters the composition root wires: the outbound network, Redis client, blob store, Telegram
bots, poll policy. Every client that calls out gets its route (direct, or the egress proxy) from one
:class:`outbound.Network` built here from the ``[network]`` settings."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import structlog
from telegram.ext import Application, ApplicationBuilder, ExtBot

from bot.aiohttp_request import AiohttpRequest
from bot.photo_files import PhotoFiles
from bot.photo_intake import PhotoIntake
from bot.rate_limit import PriorityRateLimiter
from bot.settings import Settings
from outbound import Network, ProxyNotSupported, ProxyUrlError
from poller.errors import ConfigError
from poller.inputs import InputLinks, PhotoInputs, PresignedLinks
from poller.ports import BlobStore, JobStore
from poller.schedule import PollPolicy
from providers.api_client import ApiClient
from providers.kie_upload import KieUploadLinks
from storage.blobs_local import LocalBlobStore
from storage.blobs_s3 import S3BlobStore
from storage.photo_drafts import AlbumCollector, PendingPhotos
from storage.ptb_persistence import RedisPersistence
from storage.redis_support import RedisClient, connect_redis
from storage.submit_pace import Pace, RedisSubmitPacer

log = structlog.get_logger(__name__)


class Role(StrEnum):
    """What one process does."""

    RUN = "run"
    BOT = "bot"
    POLLER = "poller"

    @property
    def takes_updates(self) -> bool:
        """Whether this process receives Telegram updates."""
        return self in (Role.RUN, Role.BOT)

    @property
    def polls(self) -> bool:
        """Whether this process runs the engine."""
        return self in (Role.RUN, Role.POLLER)


def poll_policy(settings: Settings) -> PollPolicy:
    """The engine's polling rules, from the ``[poll]`` section."""
    poll = settings.poll
    return PollPolicy(
        interval_s=poll.interval_s,
        max_attempts=poll.max_attempts,
        backoff=poll.backoff,
        jitter=poll.jitter,
        first_poll_s=settings.first_poll_delay_s,
        delayed_interval_s=poll.delayed_interval_s,
        delayed_deadline_s=poll.delayed_deadline_s,
        submit_attempts=poll.submit_attempts,
        delivery_attempts=poll.delivery_attempts,
    )


def build_pacer(settings: Settings, redis: RedisClient) -> RedisSubmitPacer:
    """Submits paced across processes: KIE's generation requests per 10 s (one account for Veo and the Market),
    and fal's jobs at once when ``providers.fal.max_concurrent`` is set."""
    kie = Pace("kie", "rate", settings.providers.kie.submits_per_10s)
    paces = {"kie_veo": kie, "kie_market": kie}
    fal = settings.providers.fal
    if fal is not None and fal.max_concurrent is not None:
        paces["fal"] = Pace("fal", "slots", fal.max_concurrent)
    return RedisSubmitPacer(redis, paces, prefix=settings.redis.prefix)


def build_network(settings: Settings) -> Network:
    """The outbound policy: ``network.proxy_url`` (else the proxy variables of the environment, read now),
    ``NO_PROXY``, and whether URLs from outside may reach private addresses. :class:`ConfigError` for a proxy URL
    that cannot be used, naming the setting or the variable it came from."""
    net = settings.network
    try:
        return Network.configure(proxy_url=net.proxy_url, allow_private_addresses=net.allow_private_addresses)
    except ProxyUrlError as exc:
        raise ConfigError(exc.source, exc.message) from None


def announce_network(network: Network, settings: Settings) -> None:
    """Say in the log which proxy is in force (its password hidden) and whether private addresses are allowed."""
    if network.proxies.any:
        log.info("network.proxy", **network.proxies.describe())
    if settings.network.allow_private_addresses:
        log.info("network.private_addresses_allowed")


def check_outbound(settings: Settings) -> None:
    """Raise :class:`ConfigError` for a proxy that cannot carry what this configuration calls (check-config and
    doctor find it before a start would)."""
    network = build_network(settings)
    if settings.storage.backend == "s3":
        s3_proxies(settings, network)


def s3_proxies(settings: Settings, network: Network) -> dict[str, str]:
    """botocore's ``proxies`` for the S3 endpoint; botocore speaks only to http(s) proxies, so a SOCKS one is a
    :class:`ConfigError` unless ``NO_PROXY`` sends the endpoint direct."""
    s3 = settings.s3
    endpoint = s3.endpoint_url or f"https://s3.{s3.region}.amazonaws.com"
    try:
        return network.proxies.botocore_proxies(endpoint)
    except ProxyNotSupported as exc:
        raise ConfigError(
            "network.proxy_url", f"{exc}: use an http(s) proxy, or list the S3 endpoint's host in NO_PROXY"
        ) from None


def make_redis(settings: Settings) -> RedisClient:
    """A Redis (or Redis Cluster) client with text responses."""
    return connect_redis(settings.redis.url, cluster=settings.redis.cluster)


def build_blob_store(settings: Settings, network: Network | None = None) -> BlobStore | S3BlobStore:
    """S3 in production, local disk for a single machine.

    S3 calls take the egress proxy too, through botocore's own ``proxies`` setting, which speaks only to http(s)
    proxies: with a SOCKS one, start-up stops with a :class:`ConfigError` unless ``NO_PROXY`` sends the S3
    endpoint direct.
    """
    if settings.storage.backend == "local":
        return LocalBlobStore(settings.storage.local_dir, public_base_url=settings.storage.local_public_url)
    s3 = settings.s3
    proxies = s3_proxies(settings, network or build_network(settings))
    return S3BlobStore(
        bucket=s3.bucket,
        prefix="",
        region=s3.region,
        endpoint_url=s3.endpoint_url,
        access_key_id=s3.access_key_id.get_secret_value() if s3.access_key_id else None,
        secret_access_key=s3.secret_access_key.get_secret_value() if s3.secret_access_key else None,
        part_size=s3.part_size_mb * 1024 * 1024,
        parts_in_flight=s3.parts_in_flight,
        proxies=proxies,
    )


CONCURRENT_UPDATES = 64


def build_application(
    settings: Settings,
    redis: RedisClient,
    network: Network | None = None,
    on_answer: Callable[[str, int | None], None] | None = None,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The python-telegram-bot Application: our Bot API base URL (through the egress proxy when one applies),
    Redis persistence, rate limiter."""
    tg = settings.telegram
    proxy = (network or build_network(settings)).proxy_for(tg.api_base_url)
    builder = (
        ApplicationBuilder()
        .token(tg.token.get_secret_value())
        .base_url(tg.api_base_url)
        .base_file_url(tg.file_url)
        .persistence(RedisPersistence(redis, prefix=settings.redis.prefix))
        # Queues our sends under Telegram's limits (one bot-wide budget served by lane: acks first, then
        # deliveries, then status edits) and retries 429s with their retry_after.
        .rate_limiter(PriorityRateLimiter(max_retries=3))
        # Handlers only touch Redis and reply; running updates concurrently keeps acks instant under load.
        .concurrent_updates(CONCURRENT_UPDATES)
        # PTB's networking on aiohttp: about a quarter of HTTPXRequest's CPU per Bot API call
        # (docs/performance.md §2), so one bot process acknowledges several times more prompts per core.
        .request(AiohttpRequest(CONCURRENT_UPDATES, proxy=proxy, on_answer=on_answer))
        .get_updates_request(AiohttpRequest(1, proxy=proxy, on_answer=on_answer))
    )
    if tg.mode == "webhook":
        builder = builder.updater(None)  # updates arrive through our Starlette route
    return builder.build()


SEND_POOL_SIZE = 16


def build_bot(
    settings: Settings,
    *,
    rate_limited: bool = True,
    pool_size: int = SEND_POOL_SIZE,
    network: Network | None = None,
    on_answer: Callable[[str, int | None], None] | None = None,
) -> ExtBot[Any]:
    """A bot for sending only (no updates): same base URL and route, with or without PTB's rate limiter.

    PTB's default pool for a bare bot is one connection; every send would queue behind the previous one.
    """
    tg = settings.telegram
    proxy = (network or build_network(settings)).proxy_for(tg.api_base_url)
    return ExtBot(
        tg.token.get_secret_value(),
        base_url=tg.api_base_url,
        base_file_url=tg.file_url,
        request=AiohttpRequest(pool_size, proxy=proxy, on_answer=on_answer),
        rate_limiter=PriorityRateLimiter(max_retries=3) if rate_limited else None,
    )


def new_process_id() -> str:
    """Unique per process start, readable in logs: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def build_input_preparer(
    settings: Settings, jobs: JobStore, blobs: BlobStore, photos: PhotoFiles, network: Network, closers: list[Any]
) -> PhotoInputs:
    """Image-to-video inputs: each photo stored under ``inputs/<job id>.<ext>`` and handed to the provider as a
    presigned link valid ``storage.input_link_ttl_s``, or through KIE's upload API (``providers.kie.upload_inputs``;
    its client's close goes on ``closers``)."""
    kie = settings.providers.kie
    links: InputLinks
    if kie.upload_inputs:
        # The upload host is operator configuration, like the API's: a proxy may apply, the address check does not.
        client = ApiClient(kie.timeout_s, kie.max_connections, proxy=network.proxy_for(kie.upload_base_url))
        closers.append(client.aclose)
        links = KieUploadLinks(client, kie.upload_base_url, kie.api_key.get_secret_value())
    else:
        links = PresignedLinks(blobs, settings.storage.input_link_ttl_s)
    return PhotoInputs(jobs=jobs, fetcher=photos, blobs=blobs, links=links, max_bytes=settings.limits.max_image_bytes)


def build_photo_intake(settings: Settings, redis: RedisClient, files: PhotoFiles) -> PhotoIntake:
    """The photo handlers' needs: the file reader, pending photos and albums in Redis, ``limits.max_image_bytes``."""
    prefix = settings.redis.prefix
    return PhotoIntake(
        files=files,
        pending=PendingPhotos(redis, prefix=prefix),
        albums=AlbumCollector(redis, prefix=prefix),
        max_bytes=settings.limits.max_image_bytes,
    )
