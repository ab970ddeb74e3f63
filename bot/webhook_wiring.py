"""Builders for webhooks out from the settings: the configured endpoints, the publisher, the listener on the core's
reports, the secret book and the sender loop, for the composition root (and ``reelay webhooks``)."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from bot.http.job_view import job_view
from bot.settings import Settings
from outbound.network import Network
from outbound.posts import UntrustedPosts
from storage.api_keys import RedisApiKeys
from storage.redis_support import RedisClient
from storage.webhook_outbox import WebhookOutbox
from webhooks.listener import WebhookListener, job_callback
from webhooks.publisher import Endpoint, SecretBook, WebhookPublisher
from webhooks.sender import WebhookSender, post_timeout
from webhooks.signing import new_secret

log = structlog.get_logger(__name__)

# Sends side by side per process: one slow receiver holds up one of them, not the others' events.
SENDER_WORKERS = 4


def configured_endpoints(settings: Settings) -> list[Endpoint]:
    """``webhooks.endpoints`` as the publisher and the secret book take them."""
    return [
        Endpoint(endpoint.url.get_secret_value(), endpoint.secret.get_secret_value(), frozenset(endpoint.events))
        for endpoint in settings.webhooks.endpoints
    ]


def build_publisher(settings: Settings, outbox: WebhookOutbox) -> WebhookPublisher:
    """Job events to the configured endpoints (and callbacks), notices to Discord and Slack when configured."""
    notify = settings.notify
    return WebhookPublisher(
        outbox,
        configured_endpoints(settings),
        discord_url=notify.discord_webhook_url.get_secret_value() if notify.discord_webhook_url else None,
        slack_url=notify.slack_webhook_url.get_secret_value() if notify.slack_webhook_url else None,
    )


def build_listener(settings: Settings, redis: RedisClient) -> WebhookListener:
    """The listener every process adds to its :class:`poller.events.Listeners`. Always on: a moment nobody is to
    hear of costs it nothing, and any job may carry a ``callback_url``."""
    outbox = WebhookOutbox(redis, prefix=settings.redis.prefix)
    return WebhookListener(build_publisher(settings, outbox), job_view, job_callback)


def build_sender(settings: Settings, redis: RedisClient, network: Network) -> tuple[WebhookSender, UntrustedPosts]:
    """The sender loop and its HTTP client (the caller closes it): targets are URLs from outside, so they go
    through the address checks of ``network.allow_private_addresses`` and the egress proxy."""
    prefix = settings.redis.prefix
    keys = RedisApiKeys(redis, make_secret=new_secret, prefix=prefix)
    poll_secret = settings.webhooks.poll_video_secret
    book = SecretBook(
        configured_endpoints(settings),
        poll_video_secret=poll_secret.get_secret_value() if poll_secret else None,
        api_key_secret=keys.secret_of,
    )
    posts = UntrustedPosts(network.proxies, network.addresses, timeout=post_timeout())
    sender = WebhookSender(
        WebhookOutbox(redis, prefix=prefix),
        posts,
        book,
        max_attempts=settings.webhooks.max_attempts,
        delays_s=settings.webhooks.retry_delays_s,
    )
    return sender, posts


class SenderLoop:
    """The sender running in a polling process: started with the worker, stopped (its client closed) on shutdown."""

    def __init__(self, sender: WebhookSender, posts: UntrustedPosts, *, workers: int = SENDER_WORKERS) -> None:
        self._sender = sender
        self._posts = posts
        self._workers = workers
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def build(cls, settings: Settings, redis: RedisClient, network: Network) -> SenderLoop:
        """From the settings (see :func:`build_sender`)."""
        return cls(*build_sender(settings, redis, network))

    def start(self) -> None:
        """Start sending due events in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._sender.run(self._stop, workers=self._workers), name="webhooks")

    async def stop(self, timeout_s: float = 12.0) -> None:
        """Let the sends in flight finish (each is bounded by the 10 s timeout; an event cut off is sent again by
        the next sender once its lease ends), then close the client. Idempotent."""
        self._stop.set()
        task, self._task = self._task, None
        if task is not None:
            done, _ = await asyncio.wait({task}, timeout=timeout_s)
            if not done:
                log.warning("webhook.sender_stuck")
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            elif task.exception() is not None:
                log.error("webhook.sender_crashed", error=type(task.exception()).__name__)
        await self._posts.aclose()
