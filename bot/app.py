"""The composition root: builds every adapter from the settings and wires them into the engine and bot.

Only this module knows every piece. :class:`Reelay` starts and stops them in order; ``reelay run``
(see ``bot/cli.py``) holds one until SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

import structlog
import uvicorn
from redis.asyncio import Redis
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder

from bot import handlers
from bot.http_app import EmbeddedServer, create_http_app
from bot.notifier import TelegramNotifier
from bot.services import Services
from bot.settings import Settings
from poller.delivery import DeliveryPipeline
from poller.engine import Engine
from poller.ports import BlobStore
from poller.schedule import PollPolicy
from providers.download import HttpVideoDownloader
from providers.http import make_http_client
from providers.kie_market import KieMarketProvider
from providers.kie_veo import KieVeoProvider
from providers.registry import ProviderRegistry
from storage.blobs_local import LocalBlobStore
from storage.blobs_s3 import S3BlobStore
from storage.probe import PyAvProbe
from storage.ptb_persistence import RedisPersistence
from storage.redis_jobs import RedisJobStore
from storage.redis_sessions import RedisSessionStore

log = structlog.get_logger(__name__)

BOT_COMMANDS = [
    ("video", "Make a video from a description"),
    ("settings", "Model, aspect ratio and duration"),
    ("status", "Your recent videos"),
    ("cancel", "Stop the video being made"),
    ("help", "How it works"),
]


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


def build_blob_store(settings: Settings) -> BlobStore | S3BlobStore:
    """S3 in production, local disk for a single machine."""
    if settings.storage.backend == "local":
        return LocalBlobStore(settings.storage.local_dir, public_base_url=settings.storage.local_public_url)
    s3 = settings.s3
    return S3BlobStore(
        bucket=s3.bucket,
        prefix="",
        region=s3.region,
        endpoint_url=s3.endpoint_url,
        access_key_id=s3.access_key_id.get_secret_value() if s3.access_key_id else None,
        secret_access_key=s3.secret_access_key.get_secret_value() if s3.secret_access_key else None,
        part_size=s3.part_size_mb * 1024 * 1024,
    )


def build_application(settings: Settings, redis: Redis) -> Application[Any, Any, Any, Any, Any, Any]:
    """The python-telegram-bot Application: our Bot API base URL, Redis persistence, rate limiter."""
    tg = settings.telegram
    return (
        ApplicationBuilder()
        .token(tg.token.get_secret_value())
        .base_url(tg.api_base_url)
        .base_file_url(tg.file_url)
        .persistence(RedisPersistence(redis, prefix=settings.redis.prefix))
        # Queues our sends under Telegram's limits and retries 429s with their retry_after.
        .rate_limiter(AIORateLimiter(max_retries=3))
        # Handlers only touch Redis and reply; running updates concurrently keeps acks instant under load.
        .concurrent_updates(64)
        .build()
    )


class Reelay:
    """One Reelay process: bot (long polling), engine and HTTP server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.redis: Redis = Redis.from_url(settings.redis.url, decode_responses=True)
        prefix = settings.redis.prefix
        self.jobs = RedisJobStore(self.redis, prefix=prefix, history_ttl_s=settings.redis.job_ttl_s)
        self.sessions = RedisSessionStore(self.redis, prefix=prefix)
        kie = settings.providers.kie
        self._poll_client = make_http_client(kie.timeout_s, kie.max_connections)
        self._download_client = make_http_client(kie.timeout_s, 16)
        key = kie.api_key.get_secret_value()
        self.providers = ProviderRegistry(
            [
                KieVeoProvider(self._poll_client, kie.base_url, key),
                KieMarketProvider(self._poll_client, kie.base_url, key),
            ]
        )
        self.blobs = build_blob_store(settings)
        self.application = build_application(settings, self.redis)
        self.notifier = TelegramNotifier(
            self.application.bot,
            upload_limit_bytes=settings.telegram.upload_limit_bytes,
            link_ttl_s=settings.storage.link_ttl_s,
        )
        self.delivery = DeliveryPipeline(
            jobs=self.jobs,
            sessions=self.sessions,
            downloader=HttpVideoDownloader(self._download_client, settings.limits.max_video_bytes),
            blobs=self.blobs,
            probe=PyAvProbe(),
            notifier=self.notifier,
            key_prefix=settings.s3.prefix if settings.storage.backend == "s3" else "",
            link_ttl_s=settings.storage.link_ttl_s,
        )
        self.engine = Engine(
            jobs=self.jobs,
            sessions=self.sessions,
            providers=self.providers,
            delivery=self.delivery,
            notifier=self.notifier,
            policy=poll_policy(settings),
            max_polls_in_flight=settings.polls_in_flight,
        )
        handlers.register(self.application, Services(settings, self.jobs, self.sessions, self.engine))
        self._http = EmbeddedServer(
            uvicorn.Config(
                create_http_app(self.readiness),
                host=settings.http.host,
                port=settings.http.port,
                log_config=None,  # our structlog setup handles uvicorn's loggers
                lifespan="off",
            )
        )
        self._http_task: asyncio.Task[None] | None = None

    async def readiness(self) -> dict[str, bool]:
        """What /readyz reports: Redis answers, the scheduler runs, the bot is polling."""
        try:
            redis_ok = bool(await self.redis.ping())
        except Exception:
            redis_ok = False
        updater = self.application.updater
        return {
            "redis": redis_ok,
            "scheduler": self.engine.running,
            "telegram": bool(self.application.running and updater is not None and updater.running),
        }

    async def start(self) -> None:
        """Start in dependency order: storage, HTTP, bot, then the engine that sends through the bot."""
        await self.redis.ping()
        if isinstance(self.blobs, S3BlobStore):
            await self.blobs.start()
        self._http_task = asyncio.create_task(self._http.serve(), name="http")
        await self.application.initialize()
        with contextlib.suppress(Exception):  # cosmetic; never block start-up on it
            await self.application.bot.set_my_commands(BOT_COMMANDS)
        await self.application.start()
        assert self.application.updater is not None
        await self.application.updater.start_polling(drop_pending_updates=False)
        await self.engine.start()
        log.info("reelay.started", http=f"{self.settings.http.host}:{self.settings.http.port}")

    async def stop(self) -> None:
        """Stop taking new work, let running steps finish, then close connections."""
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        await self.engine.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()
        self._http.should_exit = True
        if self._http_task is not None:
            await self._http_task
        await self.providers.aclose()
        await self._download_client.aclose()
        if isinstance(self.blobs, S3BlobStore):
            await self.blobs.aclose()
        await self.redis.aclose()
        log.info("reelay.stopped")


async def run_until_signalled(settings: Settings) -> None:
    """Run one Reelay until SIGTERM or SIGINT, then stop cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    reelay = Reelay(settings)
    try:
        await reelay.start()
        await stop.wait()
        log.info("reelay.stopping")
    finally:
        await reelay.stop()
