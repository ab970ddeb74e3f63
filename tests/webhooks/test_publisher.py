"""Job events fanned out to the endpoints that asked for them and to the job's callback, each signed with its own
secret; video notices to Discord and Slack stand-ins; all through the outbox and the sender."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from outbound.addresses import AddressPolicy
from outbound.posts import UntrustedPosts
from outbound.proxies import Proxies
from storage.api_keys import RedisApiKeys
from storage.webhook_outbox import WebhookOutbox
from tests.fixtures.webhook_receiver import Receiver
from webhooks.formats import NoticeKind
from webhooks.publisher import Callback, Endpoint, SecretBook, WebhookPublisher, endpoint_name
from webhooks.sender import WebhookSender, post_timeout
from webhooks.signing import VerificationFailed, new_secret, verify

pytestmark = pytest.mark.integration

JOB = {"id": "j1", "status": "succeeded", "model": "veo3_fast", "prompt": "a fox", "video": {"url": "https://v.test/1"}}


@pytest.fixture
async def posts() -> AsyncIterator[UntrustedPosts]:
    client = UntrustedPosts(Proxies(), AddressPolicy(allow_private=True), timeout=post_timeout(2.0))
    yield client
    await client.aclose()


async def send_all(sender: WebhookSender) -> None:
    while await sender.send_due():
        pass


async def test_events_reach_subscribed_endpoints_and_the_callback_each_signed_with_its_secret(
    redis_client: aioredis.Redis, posts: UntrustedPosts, receiver: Receiver
) -> None:
    outbox = WebhookOutbox(redis_client, prefix="t")
    keys = RedisApiKeys(redis_client, make_secret=new_secret, prefix="t")
    _, key_secret = await keys.create("zapier")
    everything = Endpoint(receiver.base + "/all", new_secret(), frozenset({"job.created", "job.succeeded"}))
    failures = Endpoint(receiver.base + "/failures", new_secret(), frozenset({"job.failed"}))
    publisher = WebhookPublisher(outbox, [everything, failures])
    book = SecretBook([everything, failures], api_key_secret=keys.secret_of)
    sender = WebhookSender(outbox, posts, book, delays_s=(60.0,))

    ids = await publisher.job_event("job.succeeded", JOB, Callback.for_api_key(receiver.base + "/cb", "zapier"))
    await send_all(sender)

    assert len(ids) == 2
    assert receiver.at("/failures") == []
    [to_all] = receiver.at("/all")
    [to_callback] = receiver.at("/cb")
    verify(everything.secret, to_all.headers, to_all.body)
    verify(key_secret, to_callback.headers, to_callback.body)
    with pytest.raises(VerificationFailed):
        verify(everything.secret, to_callback.headers, to_callback.body)
    document = json.loads(to_all.body)
    assert (document["type"], document["data"]) == ("job.succeeded", JOB)

    await keys.revoke("zapier")
    _, later = await publisher.job_event("job.created", JOB, Callback.for_api_key(receiver.base + "/cb", "zapier"))
    await send_all(sender)
    assert len(receiver.at("/cb")) == 1  # a revoked key's callbacks are no longer signed, so not sent
    event = await outbox.get(later)
    assert event is not None
    assert "no signing secret" in event.last_error


async def test_video_notices_go_to_discord_and_slack_unsigned(
    redis_client: aioredis.Redis, posts: UntrustedPosts, receiver: Receiver
) -> None:
    outbox = WebhookOutbox(redis_client, prefix="t")
    publisher = WebhookPublisher(
        outbox, discord_url=receiver.base + "/api/webhooks/1/tok", slack_url=receiver.base + "/services/T/B/tok"
    )
    sender = WebhookSender(outbox, posts, SecretBook(), delays_s=(60.0,))

    await publisher.video_notice(NoticeKind.PUBLISHED, JOB)
    await send_all(sender)

    [discord] = receiver.at("/api/webhooks/1/tok")
    [slack] = receiver.at("/services/T/B/tok")
    assert json.loads(discord.body)["embeds"][0]["title"] == "Video published"
    assert json.loads(slack.body)["text"].startswith("Video published (veo3_fast): a fox")
    for request in (discord, slack):
        assert "webhook-signature" not in {name.lower() for name in request.headers}


async def test_no_configured_target_stores_nothing(redis_client: aioredis.Redis) -> None:
    outbox = WebhookOutbox(redis_client, prefix="t")
    publisher = WebhookPublisher(outbox)

    assert await publisher.job_event("job.created", JOB) == []
    assert await publisher.video_notice(NoticeKind.READY, JOB) == []
    assert (await outbox.counts())["waiting"] == 0


def test_endpoint_names_hide_the_url_and_are_stable() -> None:
    url = "https://hooks.test/x?token=s3cret"
    assert endpoint_name("endpoint", url) == endpoint_name("endpoint", url)
    assert endpoint_name("endpoint", url) != endpoint_name("callback", url)
    assert "s3cret" not in endpoint_name("endpoint", url)
    assert Endpoint(url, new_secret(), frozenset()).name.startswith("endpoint:")


async def test_secret_book_resolves_each_kind_of_reference() -> None:
    endpoint = Endpoint("https://hooks.test/a", new_secret(), frozenset())

    async def key_secret(name: str) -> str | None:
        return "whsec_key" if name == "live" else None

    book = SecretBook([endpoint], poll_video_secret="whsec_poll", api_key_secret=key_secret)

    assert await book(f"endpoint:{endpoint.name}") == endpoint.secret
    assert await book("endpoint:unknown") is None
    assert await book("apikey:live") == "whsec_key"
    assert await book("apikey:revoked") is None
    assert await book("poll_video") == "whsec_poll"
    assert await book("other") is None
