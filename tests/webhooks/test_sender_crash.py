"""A sender process killed with SIGKILL in the middle of a send: after its lease runs out another sender sends the
event again, with the same webhook-id, and it is delivered once."""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from outbound.addresses import AddressPolicy
from outbound.posts import UntrustedPosts
from outbound.proxies import Proxies
from storage.webhook_outbox import Target, WebhookOutbox
from tests.fixtures.webhook_receiver import Receiver
from webhooks.sender import WebhookSender, post_timeout
from webhooks.signing import new_secret, verify

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SECRET = new_secret()

SENDER_PROCESS = textwrap.dedent(
    """
    import asyncio, sys
    import redis.asyncio as aioredis
    from outbound.addresses import AddressPolicy
    from outbound.posts import UntrustedPosts
    from outbound.proxies import Proxies
    from storage.webhook_outbox import WebhookOutbox
    from webhooks.sender import WebhookSender, post_timeout

    async def main() -> None:
        redis = aioredis.from_url(sys.argv[1], decode_responses=True)
        posts = UntrustedPosts(Proxies(), AddressPolicy(allow_private=True), timeout=post_timeout(60))
        async def secrets(ref: str) -> str:
            return sys.argv[2]
        await WebhookSender(WebhookOutbox(redis, prefix="t"), posts, secrets, lease_s=1.0).send_due()

    asyncio.run(main())
    """
)


async def test_a_sender_killed_mid_send_is_replaced_and_the_event_sent_again_with_its_id(
    redis_url: str, redis_client: aioredis.Redis, receiver: Receiver
) -> None:
    outbox = WebhookOutbox(redis_client, prefix="t")
    event_id = await outbox.enqueue("job.succeeded", Target("main", receiver.url, "endpoint:main"), b'{"n":1}')
    receiver.hang_s = 30.0
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SENDER_PROCESS, redis_url, SECRET, cwd=ROOT, env={"PYTHONPATH": str(ROOT)}
    )
    try:
        async with asyncio.timeout(10):
            while not receiver.received:  # noqa: ASYNC110 (polling what a server recorded)
                await asyncio.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()
    receiver.hang_s = 0.0

    async def secrets(ref: str) -> str:
        return SECRET

    posts = UntrustedPosts(Proxies(), AddressPolicy(allow_private=True), timeout=post_timeout(5))
    try:
        sender = WebhookSender(outbox, posts, secrets, lease_s=1.0)
        assert await sender.send_due() == 0  # the dead process's lease still holds
        await asyncio.sleep(1.1)
        assert await sender.send_due() == 1
    finally:
        await posts.aclose()

    assert receiver.ids() == [event_id, event_id]
    for request in receiver.received:
        verify(SECRET, request.headers, request.body)
    assert await outbox.get(event_id) is None
    assert (await outbox.counts())["delivered"] == 1
