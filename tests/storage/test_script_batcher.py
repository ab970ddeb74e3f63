"""ScriptBatcher against real Redis (one node and the cluster): concurrent calls share one pipeline,
each keeps its own reply or error, and nothing is lost when Redis script cache is flushed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import DataError, ResponseError

from storage.redis_support import RedisClient
from storage.script_batcher import MAX_BATCH, ScriptBatcher

pytestmark = pytest.mark.integration

# Increments a counter key and returns the new value; a non-numeric argument makes Redis raise.
INCR_BY = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


async def test_concurrent_calls_get_their_own_replies(any_redis: RedisClient) -> None:
    batcher = ScriptBatcher(any_redis, INCR_BY)
    replies = await asyncio.gather(*(batcher.call([f"counter:{{{i % 7}}}"], ["1"]) for i in range(35)))
    assert sorted(replies) == sorted(list(range(1, 6)) * 7)  # each counter counted 1..5, once each
    assert [int(await any_redis.get(f"counter:{{{k}}}") or 0) for k in range(7)] == [5] * 7


async def test_calls_made_in_one_loop_turn_travel_in_one_write(redis_client: aioredis.Redis) -> None:
    batcher = ScriptBatcher(redis_client, INCR_BY)
    await batcher.call(["warm"], ["1"])  # loads the script once, opens the batcher's connection
    connection = batcher._connection
    assert connection is not None
    writes: list[int] = []
    send = connection.send_packed_command

    async def counted(command: Any, check_health: bool = True) -> None:
        writes.append(len(command))
        await send(command, check_health=check_health)

    connection.send_packed_command = counted  # type: ignore[method-assign]
    calls_before = await command_count(redis_client, "evalsha")

    replies = await asyncio.gather(*(batcher.call([f"k{i}"], [str(i + 1)]) for i in range(MAX_BATCH)))

    assert replies == [i + 1 for i in range(MAX_BATCH)]
    assert await command_count(redis_client, "evalsha") - calls_before == MAX_BATCH
    assert len(writes) == 1


async def test_batches_do_not_wait_for_earlier_replies(redis_client: aioredis.Redis) -> None:
    batcher = ScriptBatcher(redis_client, INCR_BY)
    await batcher.call(["warm"], ["1"])
    first = asyncio.ensure_future(batcher.call(["p"], ["1"]))
    await asyncio.sleep(0)  # the first leader waits a turn for joiners...
    await asyncio.sleep(0)  # ...then writes, and its reply is on its way
    second = asyncio.ensure_future(batcher.call(["p"], ["10"]))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert len(batcher._in_flight) == 2  # both written on the one connection before any reply was read
    assert await asyncio.gather(first, second) == [1, 11]


async def test_an_argument_redis_cannot_take_fails_only_its_call(redis_client: aioredis.Redis) -> None:
    batcher = ScriptBatcher(redis_client, INCR_BY)
    await batcher.call(["warm"], ["1"])
    connection = batcher._connection
    good, bad, other = await asyncio.gather(
        batcher.call(["g"], ["2"]),
        batcher.call(["b"], [{"not": "encodable"}]),  # type: ignore[list-item]
        batcher.call(["o"], ["3"]),
        return_exceptions=True,
    )
    assert (good, other) == (2, 3)
    assert isinstance(bad, DataError)
    assert batcher._connection is connection  # nothing was written for it: the connection stays in use


async def test_a_killed_connection_fails_nothing_and_the_next_calls_reconnect(redis_client: aioredis.Redis) -> None:
    batcher = ScriptBatcher(redis_client, INCR_BY)
    assert await batcher.call(["kill"], ["1"]) == 1
    await redis_client.client_kill_filter(_type="normal", skipme=True)  # the batcher's connection among them
    in_flight = [batcher.call(["kill"], ["1"]) for _ in range(5)]
    assert sorted(await asyncio.gather(*in_flight)) == [2, 3, 4, 5, 6]  # each counted once, none lost
    assert await batcher.call(["kill"], ["1"]) == 7
    assert batcher._connection is not None


async def test_closing_the_client_ends_the_reader(redis_url: str) -> None:
    client = aioredis.from_url(redis_url, decode_responses=True)
    batcher = ScriptBatcher(client, INCR_BY)
    assert await batcher.call(["close"], ["1"]) == 1
    reader = batcher._reader
    assert reader is not None
    await client.aclose()
    async with asyncio.timeout(5):
        await asyncio.wait({reader})
    assert batcher._connection is None


async def test_a_batch_after_a_flushed_script_cache_still_answers_every_call(any_redis: RedisClient) -> None:
    batcher = ScriptBatcher(any_redis, INCR_BY)
    await batcher.call(["warm{z}"], ["1"])
    await any_redis.script_flush()  # what a Redis restart does
    replies = await asyncio.gather(*(batcher.call([f"r{i}{{z}}"], [str(i + 1)]) for i in range(5)))
    assert replies == [1, 2, 3, 4, 5]


async def test_an_error_reaches_only_its_own_caller(any_redis: RedisClient) -> None:
    batcher = ScriptBatcher(any_redis, INCR_BY)
    good, bad, other = await asyncio.gather(
        batcher.call(["a{x}"], ["2"]),
        batcher.call(["b{x}"], ["nope"]),
        batcher.call(["c{x}"], ["3"]),
        return_exceptions=True,
    )
    assert (good, other) == (2, 3)
    assert isinstance(bad, ResponseError)


async def test_a_flushed_script_cache_is_reloaded(any_redis: RedisClient) -> None:
    batcher = ScriptBatcher(any_redis, INCR_BY)
    assert await batcher.call(["n{y}"], ["1"]) == 1
    await any_redis.script_flush()  # what a Redis restart does
    assert await batcher.call(["n{y}"], ["1"]) == 2


async def test_a_cancelled_caller_does_not_disturb_the_others(redis_client: aioredis.Redis) -> None:
    batcher = ScriptBatcher(redis_client, INCR_BY)
    doomed = asyncio.ensure_future(batcher.call(["d"], ["1"]))
    kept = asyncio.ensure_future(batcher.call(["e"], ["1"]))
    doomed.cancel()
    assert await kept == 1
    with pytest.raises(asyncio.CancelledError):
        await doomed


async def command_count(client: aioredis.Redis, name: str) -> int:
    stats = await client.info("commandstats")
    entry = stats.get(f"cmdstat_{name}")
    return int(entry["calls"]) if entry else 0


async def test_the_calls_that_joined_a_cancelled_leader_still_get_their_replies(redis_client: aioredis.Redis) -> None:
    batcher = ScriptBatcher(redis_client, INCR_BY)
    leader = asyncio.ensure_future(batcher.call(["lead"], ["1"]))
    follower = asyncio.ensure_future(batcher.call(["follow"], ["5"]))
    await asyncio.sleep(0)  # the leader waits one turn for joiners; the follower joins it
    assert batcher._joining is not None
    assert len(batcher._joining) == 1
    leader.cancel()

    assert await follower == 5
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert await redis_client.get("lead") is None
