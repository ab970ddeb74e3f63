"""Calls of one Lua script made in the same event-loop turn, sent to Redis as one pipeline.

The engine starts every poll with the same script (``start_step``). Sent one by one, each call cost
~110 µs of client CPU (a socket write, a future, a connection checkout); pipelined fifty at a time,
~26 µs (measured with redis-py 8 and hiredis). Calls made while a pipeline is in flight wait for
the next turn's batch, so there is no timer and no added latency beyond one loop turn. Each call
stays atomic on its own: the pipeline is not a transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

from redis.asyncio import Redis, RedisCluster

from storage.redis_support import RedisClient

MAX_BATCH = 256


class ScriptBatcher:
    """Runs one registered script for many concurrent callers, a pipeline per loop turn."""

    def __init__(self, redis: RedisClient, script: str) -> None:
        self._redis = redis
        self._script = redis.register_script(script)
        # redis-py refuses EVALSHA in cluster pipelines; there every call goes on its own.
        self._batching = not isinstance(redis, RedisCluster)
        self._pending: list[tuple[Sequence[str], Sequence[str], asyncio.Future[Any]]] = []
        self._flush_scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def call(self, keys: Sequence[str], args: Sequence[str]) -> Any:
        """Run the script for ``keys``/``args``; its reply, or the error Redis gave for this call."""
        if not self._batching:
            return await self._script(keys=list(keys), args=list(args))
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[Any] = loop.create_future()
        self._pending.append((keys, args, reply))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._start_flush)
        return await reply

    def _start_flush(self) -> None:
        self._flush_scheduled = False
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            task = asyncio.get_running_loop().create_task(self._flush(batch))
            self._tasks.add(task)  # a reference, so the task is not collected mid-flight
            task.add_done_callback(self._tasks.discard)

    async def _flush(self, batch: list[tuple[Sequence[str], Sequence[str], asyncio.Future[Any]]]) -> None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for keys, args, _ in batch:
                    # A Pipeline is a Redis client (never a cluster one here: see __init__).
                    await self._script(keys=list(keys), args=list(args), client=cast("Redis", pipe))
                replies = await pipe.execute(raise_on_error=False)
        except BaseException as exc:  # the connection failed (or we were cancelled): every caller hears it
            for _, _, reply in batch:
                if not reply.done():
                    reply.set_exception(exc if isinstance(exc, Exception) else ConnectionError("flush cancelled"))
            if not isinstance(exc, Exception):
                raise
            return
        for (_, _, reply), result in zip(batch, replies, strict=True):
            if reply.done():
                continue  # the caller was cancelled
            if isinstance(result, Exception):
                reply.set_exception(result)
            else:
                reply.set_result(result)
