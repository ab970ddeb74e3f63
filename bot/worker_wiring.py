"""Builds a polling process's worker: the engine with its delivery pipeline, photo inputs, failover, pacing, and the
worker's periodic chores (late checks, the analytics sweep, the pacer's sweep)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.photo_files import PhotoFiles
from bot.settings import Settings
from bot.wiring import build_blob_store, build_input_preparer, poll_policy
from outbound import Network
from poller.delivery import DeliveryPipeline
from poller.engine import CallbackUrlFor, Engine
from poller.events import Listeners
from poller.finish import JobFinisher
from poller.jobs import JobStatus
from poller.ports import Billing, BlobStore, Notifier
from poller.reconciler import LateReconciler
from poller.worker import Worker
from providers.download import HttpVideoDownloader
from providers.failover import CatalogFailover
from providers.registry import ProviderRegistry
from storage.analytics import RedisAnalytics
from storage.blobs_s3 import S3BlobStore
from storage.events import RedisEventBus
from storage.leases import RedisLeases
from storage.probe import PyAvProbe
from storage.redis_jobs import RedisJobStore
from storage.redis_sessions import RedisSessionStore
from storage.redis_support import RedisClient
from storage.registries import LateChecks, TaskIndex
from storage.submit_pace import RedisSubmitPacer

# Downloads run side by side with polls; a few connections keep up with a process's deliveries.
DOWNLOAD_CONNECTIONS = 16


@dataclass(frozen=True, slots=True)
class WorkerParts:
    """What the worker shares with the rest of its process."""

    settings: Settings
    role: str
    process_id: str
    redis: RedisClient
    jobs: RedisJobStore
    sessions: RedisSessionStore
    events: RedisEventBus
    leases: RedisLeases
    late_checks: LateChecks
    notifier: Notifier
    finisher: JobFinisher
    listeners: Listeners
    pacer: RedisSubmitPacer
    providers: ProviderRegistry
    network: Network
    photo_files: PhotoFiles
    analytics: RedisAnalytics
    billing: Billing
    callback_url_for: CallbackUrlFor


def build_worker(parts: WorkerParts, closers: list[Any]) -> tuple[Worker, BlobStore | S3BlobStore]:
    """The worker and the video store its deliveries write to (clients to close go on ``closers``)."""
    settings = parts.settings
    downloader = HttpVideoDownloader(
        settings.limits.max_video_bytes,
        timeout_s=settings.providers.kie.timeout_s,
        network=parts.network,  # video URLs come from outside: checked addresses, proxy per URL
        max_connections=DOWNLOAD_CONNECTIONS,
        min_bytes_per_s=settings.providers.download_min_bytes_per_s,
    )
    blobs = build_blob_store(settings, parts.network)
    closers.append(downloader.aclose)
    delivery = DeliveryPipeline(
        jobs=parts.jobs,
        sessions=parts.sessions,
        downloader=downloader,
        blobs=blobs,
        probe=PyAvProbe(),
        notifier=parts.notifier,
        billing=parts.billing,
        key_prefix=settings.s3.prefix if settings.storage.backend == "s3" else "",
        link_ttl_s=settings.storage.link_ttl_s,
        events=parts.listeners,
        prices=settings.credits,
    )
    engine = Engine(
        process_id=parts.process_id,
        jobs=parts.jobs,
        sessions=parts.sessions,
        providers=parts.providers,
        delivery=delivery,
        finisher=parts.finisher,
        notifier=parts.notifier,
        policy=poll_policy(settings),
        max_polls_in_flight=settings.polls_in_flight,
        callback_url_for=parts.callback_url_for,
        events=parts.listeners,
        tasks=TaskIndex(parts.redis, prefix=settings.redis.prefix),
        failover=CatalogFailover(settings.failover, settings.catalog()) if settings.failover else None,
        pacer=parts.pacer,
        inputs=build_input_preparer(settings, parts.jobs, blobs, parts.photo_files, parts.network, closers),
    )
    reconciler = LateReconciler(
        engine=engine, jobs=parts.jobs, checks=parts.late_checks, delays_s=settings.poll.late_check_delays_s
    )

    async def statuses(job_ids: Sequence[str]) -> dict[str, JobStatus | None]:
        return {owned.job_id: owned.status for owned in await parts.leases.ownership(job_ids)}

    async def tick() -> None:
        await reconciler.run_due()
        await parts.analytics.sweep(parts.jobs)  # ended jobs a stopped process left unrecorded
        await parts.pacer.sweep(statuses)  # slots of jobs that ended without giving them back

    worker = Worker(
        engine=engine,
        jobs=parts.jobs,
        leases=parts.leases,
        events=parts.events,
        lease_s=settings.lease_s,
        on_tick=tick,
        shutdown_grace_s=settings.poll.shutdown_grace_s,
        role=parts.role,  # reported in the heartbeat (the console's live processes)
    )
    return worker, blobs
