"""ScriptBatcher against real Redis (one node and the cluster): concurrent calls share one pipeline,
each keeps its own reply or error, and nothing is lost when Redis script cache is flushed. The pipelining
itself (cancellation, broken connections) is tested in test_pipelined_commands.py."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from storage.redis_support import RedisClient
from storage.script_batcher import MAX_BATCH, ScriptBatcher
from tests.storage.pipelining import command_count, count_writes

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
    assert batcher._commands is not None
    connection = batcher._commands._connection
    assert connection is not None
    writes = count_writes(connection)
    calls_before = await command_count(redis_client, "evalsha")

    replies = await asyncio.gather(*(batcher.call([f"k{i}"], [str(i + 1)]) for i in range(MAX_BATCH)))

    assert replies == [i + 1 for i in range(MAX_BATCH)]
    assert await command_count(redis_client, "evalsha") - calls_before == MAX_BATCH
    assert len(writes) == 1


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
