"""RedisEventBus: a broadcast on one Redis Stream that survives reconnects and Redis restarts."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from structlog.testing import capture_logs

from poller.ports import EventBus
from sandbox.serve import free_port
from storage.events import RedisEventBus
from storage.keys import RedisKeys
from storage.redis_support import RedisClient
from tests.fixtures.redis_server import RedisServer

pytestmark = pytest.mark.integration
KEYS = RedisKeys()
FAST_BACKOFF = (0.02, 0.2)

Listener = AsyncIterator[tuple[str, str]]


async def start_listening(bus: RedisEventBus) -> Listener:
    """A listener that is reading for sure: it has already received one of our pings."""
    listener = bus.listen()
    first = asyncio.ensure_future(anext(listener))
    n = 0
    async with asyncio.timeout(10):
        while not first.done():
            await bus.publish("ping", str(n))
            n += 1
            await asyncio.wait({first}, timeout=0.05)
    assert first.result()[0] == "ping"
    return listener


async def collect(listener: Listener, count: int) -> list[tuple[str, str]]:
    """The next ``count`` notices that are not pings."""
    seen: list[tuple[str, str]] = []
    async with asyncio.timeout(10):
        while len(seen) < count:
            notice = await anext(listener)
            if notice[0] != "ping":
                seen.append(notice)
    return seen


@pytest.fixture
def bus(any_redis: RedisClient) -> RedisEventBus:
    return RedisEventBus(any_redis, block_ms=200, backoff_s=FAST_BACKOFF)


def test_redis_event_bus_implements_the_port(bus: RedisEventBus) -> None:
    port: EventBus = bus
    assert port is bus


async def test_every_listener_gets_every_notice_in_order(bus: RedisEventBus) -> None:
    first, second = await start_listening(bus), await start_listening(bus)

    await bus.publish("new_job", "j1")
    await bus.publish("poll_now", "j2")
    await bus.publish("rebalance")

    expected = [("new_job", "j1"), ("poll_now", "j2"), ("rebalance", "")]
    assert await collect(first, 3) == expected
    assert await collect(second, 3) == expected


async def test_a_listener_does_not_replay_notices_from_before_it_started(bus: RedisEventBus) -> None:
    await bus.publish("old", "j0")
    listener = await start_listening(bus)
    await bus.publish("new", "j1")
    assert await collect(listener, 1) == [("new", "j1")]


async def test_publish_trims_the_stream_to_about_maxlen(any_redis: RedisClient) -> None:
    small = RedisEventBus(any_redis, maxlen=100)
    for n in range(1000):
        await small.publish("poll_now", str(n))
    # Approximate trimming drops whole nodes of the stream: close to maxlen, never far above it.
    assert 100 <= await any_redis.xlen(KEYS.events()) < 300


async def test_malformed_entries_are_skipped(bus: RedisEventBus, any_redis: RedisClient) -> None:
    listener = await start_listening(bus)
    await any_redis.xadd(KEYS.events(), {"job": "no kind"})
    await bus.publish("poll_now", "j1")
    assert await collect(listener, 1) == [("poll_now", "j1")]


async def test_cancelling_the_listener_ends_it(bus: RedisEventBus) -> None:
    listener = await start_listening(bus)
    reading = asyncio.ensure_future(anext(listener))
    await asyncio.wait({reading}, timeout=0.05)  # blocked in XREAD now (nothing to read)

    reading.cancel()

    with pytest.raises(asyncio.CancelledError):
        await reading


async def test_a_listener_ends_within_one_blocked_read_of_its_stop_event(bus: RedisEventBus) -> None:
    stop = asyncio.Event()
    notices = bus.listen(stop)
    reading = asyncio.ensure_future(anext(notices))
    await asyncio.wait({reading}, timeout=0.05)  # blocked in XREAD now (nothing to read)

    stop.set()  # no cancel: what a worker relies on when a library swallowed the cancellation

    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(reading, timeout=2)  # block_ms is 200 ms


async def publish_once(url: str, kind: str, job_id: str) -> None:
    """Publish from a fresh client (a pooled connection from before a kill fails once)."""
    client = aioredis.from_url(url, decode_responses=True)
    try:
        await RedisEventBus(client).publish(kind, job_id)
    finally:
        await client.aclose()


@pytest.mark.parametrize("publish", ["while_reconnecting", "after_reconnect"])
async def test_listener_resumes_after_a_redis_kill_and_restart_without_losing_notices(
    aof_redis_server: RedisServer, publish: str
) -> None:
    url = aof_redis_server.url
    client = aioredis.from_url(url, decode_responses=True)
    try:
        bus = RedisEventBus(client, block_ms=200, backoff_s=FAST_BACKOFF)
        listener = await start_listening(bus)
        await publish_once(url, "seen", "j0")
        assert await collect(listener, 1) == [("seen", "j0")]
        reading = asyncio.ensure_future(collect(listener, 2))  # blocked in XREAD during the kill

        aof_redis_server.kill()
        aof_redis_server.start()
        await publish_once(url, "after_restart", "j1")
        if publish == "after_reconnect":
            await asyncio.wait({reading}, timeout=0.3)
        await publish_once(url, "after_restart", "j2")

        assert await reading == [("after_restart", "j1"), ("after_restart", "j2")]  # and "seen" not again
    finally:
        await client.aclose()


async def test_listener_follows_a_stream_that_was_recreated_with_lower_ids(redis_client: aioredis.Redis) -> None:
    listener = await start_listening(RedisEventBus(redis_client, block_ms=200, backoff_s=FAST_BACKOFF))
    reading = asyncio.ensure_future(collect(listener, 1))
    # The stream is lost and written again with ids below the last one seen (a failover to a node
    # whose clock is behind); the listener's connection drops meanwhile.
    await redis_client.delete(KEYS.events())
    await redis_client.xadd(KEYS.events(), {"kind": "old"}, id="1-1")
    await redis_client.client_kill_filter(_type="normal", skipme=True)
    await asyncio.wait({reading}, timeout=0.2)  # give it time to reconnect and resync

    await redis_client.xadd(KEYS.events(), {"kind": "recreated", "job": "j9"}, id="2-1")

    assert await reading == [("recreated", "j9")]


async def test_listener_started_while_redis_is_down_begins_once_it_is_up(
    make_redis_server: Callable[..., RedisServer], tmp_path: Path
) -> None:
    port = free_port()
    client = aioredis.from_url(f"redis://127.0.0.1:{port}/0", decode_responses=True)
    executable = shutil.which("redis-server")
    assert executable is not None
    server = RedisServer(executable, tmp_path, port)
    try:
        bus = RedisEventBus(client, block_ms=200, backoff_s=FAST_BACKOFF)
        listener = bus.listen()
        with capture_logs() as logs:
            first = asyncio.ensure_future(anext(listener))
            await asyncio.wait({first}, timeout=0.2)  # failing and backing off, not raising
        assert not first.done()
        assert "events.read_failed" in {entry["event"] for entry in logs}

        server.start()
        async with asyncio.timeout(10):
            while not first.done():
                await bus.publish("ping", "up")
                await asyncio.wait({first}, timeout=0.05)
        assert first.result() == ("ping", "up")
    finally:
        with contextlib.suppress(BaseException):
            first.cancel()
        await client.aclose()
        server.stop()


async def test_empty_kind_is_refused(bus: RedisEventBus) -> None:
    with pytest.raises(ValueError, match="kind"):
        await bus.publish("", "j1")
