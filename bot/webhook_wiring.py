"""Builders for webhooks out from the settings: the configured endpoints, the publisher, the secret book and the
sender, for the composition root (and ``reelay webhooks``)."""

from __future__ import annotations

from bot.settings import Settings
from outbound.network import Network
from outbound.posts import UntrustedPosts
from storage.api_keys import RedisApiKeys
from storage.redis_support import RedisClient
from storage.webhook_outbox import WebhookOutbox
from webhooks.publisher import Endpoint, SecretBook, WebhookPublisher
from webhooks.sender import WebhookSender, post_timeout
from webhooks.signing import new_secret


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
        WebhookOutbox(redis, prefix=prefix), posts, book, max_attempts=settings.webhooks.max_attempts
    )
    return sender, posts
