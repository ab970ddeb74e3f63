"""The composition root: builds every adapter from the settings and wires them by the process's role.

Only this module knows every piece. A process plays one role:

- ``run``: the bot (Telegram updates), the engine (polling) and the HTTP server, in one process;
- ``bot``: Telegram updates and HTTP, no polling (scale the bot out in webhook mode);
- ``poller``: the engine and HTTP, no Telegram updates (scale polling out: any number, one Redis).

:class:`Reelay` starts and stops the pieces in order; ``bot/cli.py`` holds one until SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import socket
from typing import Any

import structlog
from starlette.routing import BaseRoute
from telegram.ext import ExtBot

from bot import handlers
from bot.api_wiring import ApiParts, build_api_mount
from bot.console_wiring import build_console
from bot.http import EmbeddedServer, create_http_app, server_config
from bot.http.api import ApiDeps, api_routes
from bot.http.callbacks import callback_routes
from bot.http.health import health_routes
from bot.http.telegram_webhook import telegram_webhook_route
from bot.notifier import TelegramNotifier
from bot.observability import build_metrics_route, build_observability
from bot.photo_files import PhotoFiles
from bot.provider_wiring import build_fal_signatures, build_providers, callback_path
from bot.services import Services
from bot.settings import Settings
from bot.startup import bind_http_socket, check_blob_store, check_bot, check_redis
from bot.telegram_start import start_telegram
from bot.use_cases import build_access_policy, build_job_creator, build_purchases
from bot.webhook_wiring import SenderLoop, build_listener
from bot.wiring import (
    SEND_POOL_SIZE,
    Role,
    announce_network,
    build_application,
    build_bot,
    build_network,
    build_pacer,
    build_photo_intake,
    make_redis,
    new_process_id,
)
from bot.worker_wiring import WorkerParts, build_worker
from poller.events import Listeners
from poller.finish import JobFinisher
from poller.gc_policy import settle_after_start_up
from poller.jobs import Job
from poller.ports import Billing, BlobStore
from poller.version import VERSION
from poller.worker import Worker
from storage.blobs_s3 import S3BlobStore
from storage.credits import NoBilling, RedisBilling, RedisCredits
from storage.events import RedisEventBus
from storage.leases import RedisLeases
from storage.redis_jobs import RedisJobStore
from storage.redis_sessions import RedisSessionStore
from storage.referrals import RedisReferrals
from storage.registries import CallbackTokens, ExternalSessions, LateChecks, TaskIndex, UpdateDeduplicator

__all__ = ["SEND_POOL_SIZE", "Reelay", "Role", "run_until_signalled"]

log = structlog.get_logger(__name__)

CALLBACK_TOKEN_TTL_S = 3 * 86400


class Reelay:
    """One Reelay process, in one :class:`Role`."""

    def __init__(self, settings: Settings, role: Role = Role.RUN, process_id: str | None = None) -> None:
        self.settings = settings
        self.role = role
        self.process_id = process_id or new_process_id()
        prefix = settings.redis.prefix
        self.redis = make_redis(settings)
        self.jobs = RedisJobStore(self.redis, prefix=prefix, history_ttl_s=settings.redis.job_ttl_s)
        self.sessions = RedisSessionStore(self.redis, prefix=prefix)
        self.events = RedisEventBus(self.redis, prefix=prefix)
        self.leases = RedisLeases(self.redis, prefix=prefix)
        self.callback_tokens = CallbackTokens(self.redis, prefix=prefix)
        self.late_checks = LateChecks(self.redis, prefix=prefix)
        self.credits = (
            RedisCredits(self.redis, prefix=prefix, initial_balance=settings.credits.initial_balance)
            if settings.credits.enabled
            else None
        )
        billing: Billing = RedisBilling(self.credits) if self.credits else NoBilling()
        # Metrics and analytics listen to what the core reports; /metrics reads the rest at scrape time.
        self.observability = build_observability(settings, self.redis)
        # Submits paced to each provider's allowance across processes; an ended job gives its slot back here.
        self.pacer = build_pacer(settings, self.redis)
        # Webhooks out hear every job moment here; polling processes also send the outbox (self.webhooks).
        self.listeners = Listeners([*self.observability.listeners, self.pacer, build_listener(settings, self.redis)])
        # Every client that calls out (Telegram, KIE, downloads, S3) takes its route from this one policy.
        self.network = build_network(settings)
        announce_network(self.network, settings)
        on_answer = self.observability.on_telegram_answer
        self.application = (
            build_application(settings, self.redis, self.network, on_answer) if role.takes_updates else None
        )
        self.bot: ExtBot[Any] = (
            self.application.bot if self.application else build_bot(settings, network=self.network, on_answer=on_answer)
        )
        # Deliveries skip PTB's rate limiter: the notifier waits for its own limiter *before* committing
        # the send, so a crash can only leave the request itself in doubt (see TelegramNotifier).
        self.send_bot = build_bot(settings, rate_limited=False, network=self.network, on_answer=on_answer)
        self.notifier = TelegramNotifier(
            self.bot,
            send_bot=self.send_bot,
            sends_in_flight=SEND_POOL_SIZE,
            upload_limit_bytes=settings.telegram.upload_limit_bytes,
            link_ttl_s=settings.storage.link_ttl_s,
            offer_upgrades=settings.providers.kie.offer_upgrades,
        )
        self.finisher = JobFinisher(
            sessions=self.sessions,
            notifier=self.notifier,
            billing=billing,
            late_checks=self.late_checks,
            late_check_delays_s=settings.poll.late_check_delays_s,
            events=self.listeners,
        )
        self.worker: Worker | None = None
        self.blobs: BlobStore | S3BlobStore | None = None  # only processes that deliver store videos
        self.photo_files = PhotoFiles(self.bot, self.network, timeout_s=settings.providers.kie.timeout_s)
        self._closers: list[Any] = [self.photo_files.aclose]
        # Adapters for the engine, and for /cancel to stop a task at its provider (fal) from any process.
        self.providers = build_providers(settings, self.network)
        self._closers.append(self.providers.aclose)
        self.webhooks = SenderLoop.build(settings, self.redis, self.network) if role.polls else None
        if role.polls:
            self.worker = self._build_worker(billing)
        if self.application is not None:
            catalog = settings.catalog()
            referrals = RedisReferrals(self.redis, self.credits, prefix=settings.redis.prefix)
            purchases = build_purchases(settings, self.redis, self.credits, self.bot, referrals)
            services = Services(
                settings=settings,
                jobs=self.jobs,
                sessions=self.sessions,
                events=self.events,
                finisher=self.finisher,
                dedupe=UpdateDeduplicator(self.redis, prefix=prefix),
                creator=build_job_creator(
                    settings,
                    self.redis,
                    jobs=self.jobs,
                    sessions=self.sessions,
                    events=self.events,
                    credits=self.credits,
                    listeners=self.listeners,
                    catalog=catalog,
                ),
                access=build_access_policy(settings, self.redis),
                analytics=self.observability.analytics,
                catalog=catalog,
                credits=self.credits,
                photos=build_photo_intake(settings, self.redis, self.photo_files),
                providers=self.providers,
                purchases=purchases[0] if purchases else None,
                purchase_history=purchases[1] if purchases else None,
                referrals=referrals,
                listeners=self.listeners,
            )
            handlers.register(self.application, services)
        self.http = EmbeddedServer(
            server_config(
                create_http_app(self._routes()),
                host=settings.http.host,
                port=settings.http.port,
                max_connections=settings.http.max_connections,
                header_timeout_s=settings.http.header_timeout_s,
            )
        )
        self._http_task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None
        self.blob_store_writable = False
        self._worker_started = False  # stop() after a failed start must not hand back leases it never took
        self._started = False

    def _build_worker(self, billing: Billing) -> Worker:
        parts = WorkerParts(
            settings=self.settings,
            role=self.role.value,
            process_id=self.process_id,
            redis=self.redis,
            jobs=self.jobs,
            sessions=self.sessions,
            events=self.events,
            leases=self.leases,
            late_checks=self.late_checks,
            notifier=self.notifier,
            finisher=self.finisher,
            listeners=self.listeners,
            pacer=self.pacer,
            providers=self.providers,
            network=self.network,
            photo_files=self.photo_files,
            analytics=self.observability.analytics,
            billing=billing,
            callback_url_for=self._callback_url_for,
        )
        worker, self.blobs = build_worker(parts, self._closers)
        return worker

    async def _callback_url_for(self, job: Job) -> str | None:
        """A per-job unguessable callback URL, when this deployment is reachable from outside."""
        public_url = self.settings.http.public_url
        if not public_url:
            return None
        token = job.callback_token or secrets.token_urlsafe(24)
        await self.callback_tokens.register(token, job.id, CALLBACK_TOKEN_TTL_S)
        await self.jobs.update_fields(job.id, {"callback_token": token})
        return f"{public_url.rstrip('/')}{callback_path(job)}/{token}"

    def _routes(self) -> list[BaseRoute]:
        settings = self.settings
        routes: list[BaseRoute] = [*health_routes(self.readiness, VERSION)]
        tg = settings.telegram
        if self.application is not None and tg.mode == "webhook" and tg.webhook_secret is not None:
            routes.append(
                telegram_webhook_route(tg.webhook_path, tg.webhook_secret.get_secret_value(), self.application)
            )
        fal = build_fal_signatures(settings, self.network, self._closers)
        routes += callback_routes(self.callback_tokens, self.events, jobs=self.jobs, fal=fal)
        token = settings.http.api_token.get_secret_value() if settings.http.api_token else None
        deps = ApiDeps(
            token=token,
            max_attempts=settings.poll.max_attempts,
            jobs=self.jobs,
            events=self.events,
            sessions=ExternalSessions(self.redis, prefix=settings.redis.prefix),
            tasks=TaskIndex(self.redis, prefix=settings.redis.prefix),
            catalog=settings.catalog(),
            listeners=self.listeners,
            allow_private_addresses=settings.network.allow_private_addresses,
            poll_video_signs=settings.webhooks.poll_video_secret is not None,
        )
        routes += api_routes(deps)
        parts = ApiParts(settings, self.redis, self.jobs, self.sessions, self.events, self.finisher, self.credits)
        routes.append(build_api_mount(parts, self.listeners, self.providers, lambda: self.http.should_exit))
        console = build_console(
            settings,
            self.redis,
            jobs=self.jobs,
            sessions=self.sessions,
            finisher=self.finisher,
            events=self.events,
            credits=self.credits,
            network=self.network,
            closing=lambda: self.http.should_exit,  # open live feeds end, so the HTTP server can stop
            adapters=self.providers,
        )
        if console is not None:  # http.console_token is set
            mount, close = console
            routes.append(mount)
            self._closers.append(close)
        held = self._held_jobs if self.worker is not None else None
        routes.append(build_metrics_route(self.observability, settings, self.network, jobs=self.jobs, held=held))
        return routes

    def _held_jobs(self) -> int:
        return len(self.worker.engine.owned) if self.worker is not None else 0

    @property
    def http_port(self) -> int | None:
        """The HTTP port actually bound (``http.port = 0`` picks a free one)."""
        return self.http.bound_port

    async def readiness(self) -> dict[str, bool]:
        """What /readyz reports: Redis answers, the scheduler runs, the bot receives updates."""
        try:
            redis_ok = bool(await self.redis.ping())
        except Exception:
            redis_ok = False
        checks = {"redis": redis_ok}
        if self.blobs is not None:
            checks["blob_store"] = self.blob_store_writable  # written and deleted a test object at start-up
        if self.worker is not None:
            checks["scheduler"] = self.worker.engine.running
        if self.application is not None:
            updater = self.application.updater
            receiving = updater.running if updater is not None else self.application.running
            checks["telegram"] = bool(self.application.running and receiving)
        return checks

    async def start(self) -> None:
        """Start in dependency order: the HTTP port, storage, Telegram, then the engine that sends through the bot.

        A dependency that does not answer or refuses raises :class:`bot.startup.StartupError`, naming the setting.
        """
        settings = self.settings
        self._socket = bind_http_socket(settings.http.host, settings.http.port)
        await check_redis(self.redis, settings.redis.url)
        await self.jobs.ensure_counts()  # once, after an upgrade from a release that kept no counts
        if self.blobs is not None:
            if isinstance(self.blobs, S3BlobStore):
                await self.blobs.start()
                self._closers.append(self.blobs.aclose)
            s3 = settings.storage.backend == "s3"
            await check_blob_store(
                self.blobs,
                setting="s3.bucket" if s3 else "storage.local_dir",
                process_id=self.process_id,
                key_prefix=settings.s3.prefix if s3 else "",
            )
            self.blob_store_writable = True
        self._http_task = asyncio.create_task(self.http.serve(sockets=[self._socket]), name="http")
        await check_bot(self.send_bot, settings.telegram.api_base_url)
        if self.application is not None:
            await start_telegram(self.application, settings)
        else:
            await check_bot(self.bot, settings.telegram.api_base_url)
        if self.worker is not None:
            await self.worker.start()
            self._worker_started = True
        if self.webhooks is not None:
            self.webhooks.start()
        self._started = True
        log.info(
            "reelay.started",
            version=VERSION,
            role=self.role.value,
            process_id=self.process_id,
            http_port=self.http_port,
        )

    async def stop(self) -> None:
        """Stop taking new work, let running steps finish and hand leases back, then close connections."""
        application = self.application
        if application is not None and application.updater is not None and application.updater.running:
            await application.updater.stop()
        if self.worker is not None and self._worker_started:
            await self.worker.stop()
        if self.webhooks is not None:
            await self.webhooks.stop()
        await self.notifier.aclose()  # waiting status edits are cosmetic: dropped, not sent on a closing bot
        if application is not None:
            if application.running:
                await application.stop()
            await application.shutdown()
        else:
            await self.bot.shutdown()
        await self.send_bot.shutdown()
        self.http.should_exit = True
        if self._http_task is not None:
            await self._http_task
        elif self._socket is not None:
            self._socket.close()  # bound, but start-up failed before serving
        for close in reversed(self._closers):
            await close()
        await self.redis.aclose()
        # After a failed start the CLI's one line says why; an info line here would only add noise.
        stopped = log.info if self._started else log.debug
        stopped("reelay.stopped", role=self.role.value, process_id=self.process_id)


async def run_until_signalled(settings: Settings, role: Role = Role.RUN) -> None:
    """Run one Reelay until SIGTERM or SIGINT, then stop cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    reelay = Reelay(settings, role)
    try:
        await reelay.start()
        settle_after_start_up()
        await stop.wait()
        log.info("reelay.stopping", role=role.value)
    finally:
        await reelay.stop()
