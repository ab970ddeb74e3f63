"""The sender loop a polling process runs: it sends in the background from start, and a stop ends it promptly,
even mid-send, and closes its HTTP client."""

from __future__ import annotations

import time

import pytest
import redis.asyncio as aioredis

from bot.webhook_wiring import SenderLoop
from outbound.addresses import AddressPolicy
from outbound.errors import OutboundError
from outbound.posts import UntrustedPosts
from outbound.proxies import Proxies
from storage.webhook_outbox import Target, WebhookOutbox
from tests.fixtures.webhook_receiver import Receiver
from tests.webhooks.test_sender import BODY, make_sender, until
from webhooks.sender import post_timeout

pytestmark = pytest.mark.integration


async def test_the_loop_sends_in_the_background_and_a_stop_closes_its_client(
    redis_client: aioredis.Redis, receiver: Receiver
) -> None:
    outbox = WebhookOutbox(redis_client, prefix="t")
    posts = UntrustedPosts(Proxies(), AddressPolicy(allow_private=True), timeout=post_timeout(2))
    loop = SenderLoop(make_sender(outbox, posts), posts, workers=2)
    loop.start()
    await outbox.enqueue("job.created", Target("main", receiver.url), BODY)
    await until(lambda: receiver.received)

    started = time.monotonic()
    await loop.stop()
    await loop.stop()  # idempotent

    assert time.monotonic() - started < 1.0
    assert (await outbox.counts())["delivered"] == 1
    with pytest.raises(OutboundError):
        await posts.post(receiver.url, BODY, {})


async def test_a_stop_mid_send_leaves_the_event_for_the_next_sender(
    redis_client: aioredis.Redis, receiver: Receiver
) -> None:
    receiver.hang_s = 30.0  # longer than the stop waits
    outbox = WebhookOutbox(redis_client, prefix="t")
    posts = UntrustedPosts(Proxies(), AddressPolicy(allow_private=True), timeout=post_timeout(60))
    loop = SenderLoop(make_sender(outbox, posts), posts)
    loop.start()
    await outbox.enqueue("job.created", Target("main", receiver.url), BODY)
    await until(lambda: receiver.received)

    started = time.monotonic()
    await loop.stop(timeout_s=0.2)
    receiver.hang_s = 0.0

    assert time.monotonic() - started < 2.0
    assert (await outbox.counts())["waiting"] == 1, "still in the outbox: sent again once its lease ends"
