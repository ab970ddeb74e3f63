"""The outbox's sender against a real Redis and a real receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from outbound.addresses import AddressPolicy
from outbound.posts import UntrustedPosts
from outbound.proxies import Proxies
from storage.webhook_outbox import Target, WebhookOutbox
from tests.fixtures.webhook_receiver import Receiver
from webhooks.sender import WebhookSender, post_timeout, retry_delay
from webhooks.signing import new_secret, verify

pytestmark = pytest.mark.integration

SECRET = new_secret()
FAST = (0.05, 0.05, 0.05)


async def secrets(ref: str) -> str | None:
    return SECRET if ref == "endpoint:main" else None


@pytest.fixture
async def posts() -> AsyncIterator[UntrustedPosts]:
    client = UntrustedPosts(Proxies(), AddressPolicy(allow_private=True), timeout=post_timeout(2.0))
    yield client
    await client.aclose()


@pytest.fixture
def outbox(redis_client: aioredis.Redis) -> WebhookOutbox:
    return WebhookOutbox(redis_client, prefix="t")


def make_sender(outbox: WebhookOutbox, posts: UntrustedPosts, **options: object) -> WebhookSender:
    settings: dict[str, object] = {"delays_s": FAST, "jitter": 0.0, "idle_s": 0.02, **options}
    return WebhookSender(outbox, posts, secrets, **settings)  # type: ignore[arg-type]


def target(receiver: Receiver, endpoint: str = "main", *, signed: bool = True) -> Target:
    return Target(endpoint, receiver.url, "endpoint:main" if signed else None)


BODY = json.dumps({"type": "job.succeeded", "timestamp": "2026-12-07T00:00:00Z", "data": {"id": "j1"}}).encode()


async def until(condition: Callable[[], object], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 (polling what a server recorded)
            await asyncio.sleep(0.01)


async def drain(sender: WebhookSender, outbox: WebhookOutbox, *, timeout: float = 5.0) -> None:
    """Send until nothing waits (retries included)."""
    async with asyncio.timeout(timeout):
        while (await outbox.counts())["waiting"]:
            await sender.send_due()
            await asyncio.sleep(0.01)


async def test_a_receiver_failing_twice_gets_one_id_three_times_and_the_event_once_delivered(
    outbox: WebhookOutbox, posts: UntrustedPosts, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503]
    event_id = await outbox.enqueue("job.succeeded", target(receiver), BODY)

    await drain(make_sender(outbox, posts), outbox)

    assert receiver.ids() == [event_id] * 3
    for request in receiver.received:
        verify(SECRET, request.headers, request.body)  # every attempt signed afresh, and valid
        assert request.body == BODY
        assert request.headers["Content-Type"] == "application/json"
    assert await outbox.get(event_id) is None
    assert await outbox.counts() == {"delivered": 1, "dead": 0, "skipped": 0, "waiting": 0}


async def test_410_disables_the_endpoint_and_its_later_events_are_not_sent(
    outbox: WebhookOutbox, posts: UntrustedPosts, receiver: Receiver
) -> None:
    receiver.statuses = [410]
    gone = await outbox.enqueue("job.created", target(receiver), BODY)
    sender = make_sender(outbox, posts)
    await drain(sender, outbox)

    later = await outbox.enqueue("job.running", target(receiver), BODY)
    other = await outbox.enqueue("job.running", target(receiver, "other"), BODY)
    await drain(sender, outbox)

    assert receiver.ids() == [gone, other]
    assert set(await outbox.disabled()) == {"main"}
    dead = {event.id: event for event in await outbox.dead()}
    assert set(dead) == {gone, later}
    assert "410" in dead[gone].last_error
    assert dead[gone].attempts == 1
    assert "410" in dead[later].last_error
    assert (await outbox.counts())["skipped"] == 1


async def test_spent_attempts_dead_letter_the_event_and_retry_sends_it_with_the_same_id(
    outbox: WebhookOutbox, posts: UntrustedPosts, receiver: Receiver
) -> None:
    receiver.default = 500
    event_id = await outbox.enqueue("job.failed", target(receiver), BODY)
    sender = make_sender(outbox, posts, max_attempts=3)
    await drain(sender, outbox)

    [dead] = await outbox.dead()
    assert (dead.id, dead.attempts, dead.state, dead.last_error) == (event_id, 3, "dead", "HTTP 500")
    assert len(receiver.received) == 3

    receiver.default = 200
    assert await outbox.requeue(event_id) == "main"
    await drain(sender, outbox)

    assert receiver.ids() == [event_id] * 4
    assert await outbox.dead() == []
    assert await outbox.get(event_id) is None
    assert await outbox.requeue(event_id) is None  # delivered: nothing to retry


async def test_retry_after_a_410_enables_the_endpoint_again(
    outbox: WebhookOutbox, posts: UntrustedPosts, receiver: Receiver
) -> None:
    receiver.statuses = [410]
    event_id = await outbox.enqueue("job.created", target(receiver), BODY)
    sender = make_sender(outbox, posts)
    await drain(sender, outbox)

    await outbox.requeue(event_id)
    await drain(sender, outbox)

    assert receiver.ids() == [event_id, event_id]
    assert await outbox.disabled() == {}


async def test_two_senders_of_three_workers_each_never_send_one_event_at_once(
    redis_url: str, posts: UntrustedPosts, receiver: Receiver
) -> None:
    receiver.hang_s = 0.05
    clients = [aioredis.from_url(redis_url, decode_responses=True) for _ in range(2)]
    outboxes = [WebhookOutbox(client, prefix="t") for client in clients]
    ids = [await outboxes[0].enqueue("job.created", target(receiver), BODY) for _ in range(20)]
    stop = asyncio.Event()
    loops = [asyncio.create_task(make_sender(box, posts).run(stop, workers=3)) for box in outboxes]
    try:
        await until(lambda: len(receiver.received) >= 20)
        await asyncio.sleep(0.2)  # room for a duplicate to show up
    finally:
        stop.set()
        await asyncio.gather(*loops)
        for client in clients:
            await client.aclose()

    assert sorted(receiver.ids()) == sorted(ids)
    assert receiver.most_in_flight == 1


async def test_a_sender_that_dies_mid_send_leaves_the_event_to_be_sent_again_after_its_lease(
    outbox: WebhookOutbox, posts: UntrustedPosts, receiver: Receiver
) -> None:
    event_id = await outbox.enqueue("job.succeeded", target(receiver), BODY)
    crashed = await outbox.claim(event_id, lease_s=0.3)  # claimed, then never finished
    assert crashed is not None
    sender = make_sender(outbox, posts)

    assert await sender.send_due() == 0  # the lease still holds
    await asyncio.sleep(0.35)
    assert await sender.send_due() == 1

    assert receiver.ids() == [event_id]
    assert await outbox.get(event_id) is None
    assert await outbox.delivered(crashed) is False  # the dead sender's late finish changes nothing


async def test_no_answer_within_the_timeout_is_a_failed_attempt(outbox: WebhookOutbox, receiver: Receiver) -> None:
    receiver.hang_s = 1.0
    event_id = await outbox.enqueue("job.succeeded", target(receiver), BODY)
    client = UntrustedPosts(Proxies(), AddressPolicy(allow_private=True), timeout=post_timeout(0.2))
    try:
        started = asyncio.get_running_loop().time()
        await make_sender(outbox, client, delays_s=(60.0,)).send_due()
        elapsed = asyncio.get_running_loop().time() - started
    finally:
        await client.aclose()

    event = await outbox.get(event_id)
    assert event is not None
    assert (event.state, event.attempts, event.last_error) == ("pending", 1, "no answer within the timeout")
    assert elapsed < 0.9
    assert await outbox.due_ids() == []  # due again only in a minute


async def test_a_private_address_is_refused_unless_allowed(outbox: WebhookOutbox, receiver: Receiver) -> None:
    event_id = await outbox.enqueue("job.succeeded", target(receiver), BODY)
    strict = UntrustedPosts(Proxies(), AddressPolicy(), timeout=post_timeout(2.0))
    try:
        await make_sender(outbox, strict).send_due()
    finally:
        await strict.aclose()

    event = await outbox.get(event_id)
    assert event is not None
    assert event.state == "pending"
    assert "address refused" in event.last_error
    assert "loopback" in event.last_error
    assert "/hook" not in event.last_error
    assert receiver.received == []

    await asyncio.sleep(0.06)
    lenient = UntrustedPosts(Proxies(), AddressPolicy(allow_private=True), timeout=post_timeout(2.0))
    try:
        await make_sender(outbox, lenient).send_due()
    finally:
        await lenient.aclose()
    assert receiver.ids() == [event_id]


async def test_unsigned_targets_carry_no_signature_and_a_missing_secret_is_a_failed_attempt(
    outbox: WebhookOutbox, posts: UntrustedPosts, receiver: Receiver
) -> None:
    plain = await outbox.enqueue("notify.video_ready", target(receiver, "discord", signed=False), BODY)
    orphan = await outbox.enqueue("job.created", Target("gone-key", receiver.url, "apikey:revoked"), BODY)
    await make_sender(outbox, posts).send_due()

    [request] = receiver.received
    assert request.headers["webhook-id"] == plain
    assert "webhook-signature" not in {name.lower() for name in request.headers}
    event = await outbox.get(orphan)
    assert event is not None
    assert event.last_error == "no signing secret for apikey:revoked (revoked or removed)"


async def test_an_endless_answer_is_read_only_up_to_the_bound(
    outbox: WebhookOutbox, posts: UntrustedPosts, receiver: Receiver
) -> None:
    receiver.endless = True  # read whole, it would run into the 2 s timeout and count as a failure
    event_id = await outbox.enqueue("job.created", target(receiver), BODY)

    async with asyncio.timeout(1.5):
        await make_sender(outbox, posts).send_due()

    assert receiver.ids() == [event_id]
    assert await outbox.get(event_id) is None


def test_retry_delays_grow_as_the_issue_says_and_are_jittered() -> None:
    plain = [round(retry_delay(attempt, jitter=0.0)) for attempt in range(1, 9)]
    assert plain == [5, 30, 120, 600, 3600, 21600, 21600, 21600]
    jittered = {retry_delay(1) for _ in range(50)}
    assert len(jittered) > 1
    assert all(4.5 <= delay <= 5.5 for delay in jittered)


async def test_logs_never_carry_the_url_its_token_or_the_secret(
    outbox: WebhookOutbox, posts: UntrustedPosts, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    import structlog
    from structlog.testing import capture_logs

    import storage.webhook_outbox
    import webhooks.sender

    receiver.statuses = [500, 410]
    tokened = Target("main", receiver.base + "/services/T/B/t0ken-in-path?sig=s3cret-in-query", "endpoint:main")
    with capture_logs() as logs:
        # Loggers used before (bot.logs caches them on first use) would bypass the capture: take fresh ones.
        for module in (storage.webhook_outbox, webhooks.sender):
            monkeypatch.setattr(module, "log", structlog.get_logger(module.__name__))
        await outbox.enqueue("job.created", tokened, BODY)
        await drain(make_sender(outbox, posts), outbox)
        await outbox.enqueue("job.created", tokened, BODY)
        await drain(make_sender(outbox, posts), outbox)

    assert {entry["event"] for entry in logs} >= {
        "webhook.enqueued",
        "webhook.retry",
        "webhook.endpoint_disabled",
        "webhook.skipped_disabled",
    }
    shown = repr(logs)
    for secret in ("t0ken-in-path", "s3cret-in-query", SECRET, SECRET.removeprefix("whsec_"), "/services/"):
        assert secret not in shown


async def test_a_running_sender_forgets_dead_letters_after_their_retention(
    outbox: WebhookOutbox, posts: UntrustedPosts, receiver: Receiver
) -> None:
    receiver.default = 500
    event_id = await outbox.enqueue("job.failed", target(receiver), BODY)
    stop = asyncio.Event()
    sender = make_sender(outbox, posts, max_attempts=1, dead_retention_s=0.2, prune_every_s=0.05)
    loop = asyncio.create_task(sender.run(stop))
    try:
        await until(lambda: len(receiver.received) == 1)
        await asyncio.sleep(0.05)
        assert [event.id for event in await outbox.dead()] == [event_id]  # listed for a while
        async with asyncio.timeout(3):
            while await outbox.dead():  # noqa: ASYNC110 (polling Redis)
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await loop
    assert await outbox.get(event_id) is None


async def test_an_unforeseen_failure_is_a_failed_attempt_that_ends_in_the_dead_letters(
    outbox: WebhookOutbox, posts: UntrustedPosts, receiver: Receiver
) -> None:
    async def broken(ref: str) -> str | None:
        raise RuntimeError("the secret store broke")

    event_id = await outbox.enqueue("job.created", target(receiver), BODY)
    await drain(WebhookSender(outbox, posts, broken, max_attempts=2, delays_s=FAST, jitter=0.0), outbox)

    [dead] = await outbox.dead()
    assert (dead.id, dead.attempts, dead.last_error) == (event_id, 2, "failed: RuntimeError")
    assert receiver.received == []


async def test_a_name_that_does_not_resolve_is_a_failed_attempt(outbox: WebhookOutbox) -> None:
    import socket

    class Unresolvable:
        """Stands in for the client where a lookup fails (tests reach only loopback, so no real DNS)."""

        async def post(self, url: str, body: bytes, headers: dict[str, str]) -> None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    event_id = await outbox.enqueue("job.created", Target("nx", "https://unresolvable.test/hook"), BODY)
    await make_sender(outbox, Unresolvable()).send_due()  # type: ignore[arg-type]

    event = await outbox.get(event_id)
    assert event is not None
    assert (event.state, event.attempts, event.last_error) == ("pending", 1, "network error: gaierror")
