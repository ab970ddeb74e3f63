"""PipelinedCommands against real Redis: concurrent commands share one connection and one write per loop
turn, each keeps its own reply (as the client would convert it) or error, and a broken connection loses
nothing."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest
import redis.asyncio as aioredis
from redis.exceptions import DataError, ResponseError

from storage.pipelined_commands import MAX_BATCH, PipelinedCommands
from storage.redis_support import RedisClient
from tests.storage.pipelining import command_count, count_writes

pytestmark = pytest.mark.integration


async def test_concurrent_commands_get_their_own_replies(any_redis: RedisClient) -> None:
    commands = PipelinedCommands(any_redis)
    replies = await asyncio.gather(*(commands.execute("INCRBY", f"counter:{{{i % 7}}}", 1) for i in range(35)))
    assert sorted(replies) == sorted(list(range(1, 6)) * 7)  # each counter counted 1..5, once each
    assert [int(await any_redis.get(f"counter:{{{k}}}") or 0) for k in range(7)] == [5] * 7


async def test_replies_read_as_the_clients_own(any_redis: RedisClient) -> None:
    commands = PipelinedCommands(any_redis)
    assert await commands.execute("SET", "once", "1", "NX", "EX", 60) is True  # the client's SET -> bool
    assert await commands.execute("SET", "once", "1", "NX", "EX", 60) is None
    assert await commands.execute("HGET", "nothing", "here") is None
    await any_redis.zadd("z", {"a": 1, "b": 2})
    assert await commands.execute("ZREVRANGE", "z", 0, -1) == ["b", "a"]


async def test_commands_made_in_one_loop_turn_travel_in_one_write(redis_client: aioredis.Redis) -> None:
    commands = PipelinedCommands(redis_client)
    await commands.execute("INCRBY", "warm", 1)  # opens the connection
    connection = commands._connection
    assert connection is not None
    writes = count_writes(connection)
    calls_before = await command_count(redis_client, "incrby")

    replies = await asyncio.gather(*(commands.execute("INCRBY", f"k{i}", i + 1) for i in range(MAX_BATCH)))

    assert replies == [i + 1 for i in range(MAX_BATCH)]
    assert await command_count(redis_client, "incrby") - calls_before == MAX_BATCH
    assert len(writes) == 1


async def test_batches_do_not_wait_for_earlier_replies(redis_client: aioredis.Redis) -> None:
    commands = PipelinedCommands(redis_client)
    await commands.execute("INCRBY", "warm", 1)
    first = asyncio.ensure_future(commands.execute("INCRBY", "p", 1))
    await asyncio.sleep(0)  # the first leader waits a turn for joiners...
    await asyncio.sleep(0)  # ...then writes, and its reply is on its way
    second = asyncio.ensure_future(commands.execute("INCRBY", "p", 10))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert len(commands._in_flight) == 2  # both written on the one connection before any reply was read
    assert await asyncio.gather(first, second) == [1, 11]


async def test_an_argument_redis_cannot_take_fails_only_its_command(redis_client: aioredis.Redis) -> None:
    commands = PipelinedCommands(redis_client)
    await commands.execute("INCRBY", "warm", 1)
    connection = commands._connection
    good, bad, other = await asyncio.gather(
        commands.execute("INCRBY", "g", 2),
        commands.execute("INCRBY", "b", {"not": "encodable"}),  # type: ignore[arg-type]
        commands.execute("INCRBY", "o", 3),
        return_exceptions=True,
    )
    assert (good, other) == (2, 3)
    assert isinstance(bad, DataError)
    assert commands._connection is connection  # nothing was written for it: the connection stays in use


async def test_an_error_reaches_only_its_own_caller(any_redis: RedisClient) -> None:
    commands = PipelinedCommands(any_redis)
    good, bad, other = await asyncio.gather(
        commands.execute("INCRBY", "a{x}", 2),
        commands.execute("INCRBY", "b{x}", "nope"),
        commands.execute("INCRBY", "c{x}", 3),
        return_exceptions=True,
    )
    assert (good, other) == (2, 3)
    assert isinstance(bad, ResponseError)


async def test_a_killed_connection_fails_nothing_and_the_next_commands_reconnect(
    redis_client: aioredis.Redis,
) -> None:
    commands = PipelinedCommands(redis_client)
    assert await commands.execute("INCRBY", "kill", 1) == 1
    await redis_client.client_kill_filter(_type="normal", skipme=True)  # the pipelined connection among them
    in_flight = [commands.execute("INCRBY", "kill", 1) for _ in range(5)]
    assert sorted(await asyncio.gather(*in_flight)) == [2, 3, 4, 5, 6]  # each counted once, none lost
    assert await commands.execute("INCRBY", "kill", 1) == 7
    assert commands._connection is not None


async def test_closing_the_client_ends_the_reader(redis_url: str) -> None:
    client = aioredis.from_url(redis_url, decode_responses=True)
    commands = PipelinedCommands(client)
    assert await commands.execute("INCRBY", "close", 1) == 1
    reader = commands._reader
    assert reader is not None
    await client.aclose()
    async with asyncio.timeout(5):
        await asyncio.wait({reader})
    assert commands._connection is None


async def test_a_cancelled_caller_does_not_disturb_the_others(redis_client: aioredis.Redis) -> None:
    commands = PipelinedCommands(redis_client)
    doomed = asyncio.ensure_future(commands.execute("INCRBY", "d", 1))
    kept = asyncio.ensure_future(commands.execute("INCRBY", "e", 1))
    doomed.cancel()
    assert await kept == 1
    with pytest.raises(asyncio.CancelledError):
        await doomed


async def test_the_commands_that_joined_a_cancelled_leader_still_get_their_replies(
    redis_client: aioredis.Redis,
) -> None:
    commands = PipelinedCommands(redis_client)
    leader = asyncio.ensure_future(commands.execute("INCRBY", "lead", 1))
    follower = asyncio.ensure_future(commands.execute("INCRBY", "follow", 5))
    await asyncio.sleep(0)  # the leader waits one turn for joiners; the follower joins it
    assert commands._joining is not None
    assert len(commands._joining) == 1
    leader.cancel()

    assert await follower == 5
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert await redis_client.get("lead") is None


def test_the_shared_instance_lives_as_long_as_its_client() -> None:
    client = aioredis.Redis(decode_responses=True)
    shared = PipelinedCommands.of(client)
    assert PipelinedCommands.of(client) is shared
    gone = weakref.ref(client)

    del client, shared
    gc.collect()

    assert gone() is None  # the shared instance did not keep its client alive
