"""The sender loop a polling process runs: it sends in the background from start, and a stop ends it promptly,
even mid-send, and closes its HTTP client."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot.http.job_view import job_view
from bot.settings import load_settings
from bot.webhook_wiring import SenderLoop, build_listener, build_sender
from bot.wiring import build_network
from outbound.addresses import AddressPolicy
from outbound.errors import OutboundError
from outbound.posts import UntrustedPosts
from outbound.proxies import Proxies
from poller.events import JobSource
from storage.api_keys import RedisApiKeys
from storage.webhook_outbox import Target, WebhookOutbox
from tests.bot.test_settings import MINIMAL, write
from tests.fixtures.webhook_receiver import Receiver
from tests.storage.factories import make_job
from tests.webhooks.test_sender import BODY, make_sender, until
from webhooks.sender import post_timeout
from webhooks.signing import VerificationFailed, new_secret, verify

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


async def test_the_built_sender_signs_an_api_jobs_callback_with_its_keys_secret_and_a_poll_video_one_with_its_own(
    tmp_path: Path, redis_url: str, redis_client: aioredis.Redis, receiver: Receiver
) -> None:
    poll_secret = new_secret()
    settings = load_settings(
        write(
            tmp_path,
            MINIMAL
            + f'[redis]\nurl = "{redis_url}"\n[network]\nallow_private_addresses = true\n'
            + f'[webhooks]\npoll_video_secret = "{poll_secret}"\n',
        )
    )
    _, key_secret = await RedisApiKeys(redis_client, make_secret=new_secret).create("zapier")
    listener = build_listener(settings, redis_client)
    api_job = make_job(callback_url=receiver.base + "/api", api_key="zapier")
    poll_job = make_job(callback_url=receiver.base + "/poll")
    await listener.job_created(api_job, JobSource.API)
    await listener.job_created(poll_job, JobSource.POLL_VIDEO)

    sender, posts = build_sender(settings, redis_client, build_network(settings))
    try:
        assert await sender.send_due() == 2
    finally:
        await posts.aclose()

    [api_request] = receiver.at("/api")
    verify(key_secret, api_request.headers, api_request.body)
    assert json.loads(api_request.body)["data"] == job_view(api_job)
    [poll_request] = receiver.at("/poll")
    verify(poll_secret, poll_request.headers, poll_request.body)
    with pytest.raises(VerificationFailed):
        verify(key_secret, poll_request.headers, poll_request.body)
