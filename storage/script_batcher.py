"""Calls of one Lua script, pipelined on a connection of their own: many in flight, replies read in order.

The engine starts every poll with the same script (``start_step``). Through the connection pool a call
cost ~140-160 µs of client CPU at 3,000 calls/s, most batches being a single call: a connection checkout
and release, the retry wrapper, a pipeline object and a timeout per batch (redis-py 8). This way costs
~70-80 µs (``benchmarks/script_calls.py``). Here the calls made in one event-loop turn are written with one
socket write on a connection this batcher keeps, without waiting for earlier batches' replies, and one
reader task hands each reply to its caller in order. Each call stays atomic on its own: nothing here is
a transaction.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Any

from redis.asyncio import RedisCluster
from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

from storage.redis_support import RedisClient

MAX_BATCH = 256


Call = tuple[Sequence[str], Sequence[str], "asyncio.Future[Any]"]


class ScriptBatcher:
    """Runs one registered script for many concurrent callers over one pipelined connection.

    The first caller of a turn leads: it yields once so the calls made in the same turn can join, then
    writes them all (itself first) at once. The connection is taken from the client's pool and kept;
    closing the client closes it, which ends the reader. Replies come back in the order the calls were
    written, so a caller that was cancelled meanwhile only has its reply dropped.
    """

    def __init__(self, redis: RedisClient, script: str) -> None:
        self._redis = redis
        self._script = redis.register_script(script)
        # A cluster routes every key to its own node; there every call goes on its own.
        self._pool: ConnectionPool | None = None if isinstance(redis, RedisCluster) else redis.connection_pool
        self._joining: list[Call] | None = None  # calls waiting for this turn's leader
        self._connection: AbstractConnection | None = None
        self._connecting: asyncio.Lock | None = None
        self._in_flight: deque[asyncio.Future[Any]] = deque()  # written, reply not read yet, in order
        self._reader: asyncio.Task[None] | None = None
        self._orphans: set[asyncio.Task[None]] = set()  # batches whose leader was cancelled

    async def call(self, keys: Sequence[str], args: Sequence[str]) -> Any:
        """Run the script for ``keys``/``args``; its reply, or the error Redis gave for this call."""
        if self._pool is None:
            return await self._script(keys=list(keys), args=list(args))
        if self._joining is not None and len(self._joining) < MAX_BATCH:
            reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._joining.append((keys, args, reply))
            return await self._outcome(keys, args, reply)
        joining: list[Call] = []
        self._joining = joining
        own: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        try:
            await asyncio.sleep(0)  # one loop turn: the steps started in this turn join
        except asyncio.CancelledError:
            self._close(joining)
            if joining:  # the ones who joined still get their answers
                task = asyncio.get_running_loop().create_task(self._send(joining))
                self._orphans.add(task)
                task.add_done_callback(self._orphans.discard)
            raise
        self._close(joining)
        await self._send([(keys, args, own), *joining])
        return await self._outcome(keys, args, own)

    async def _outcome(self, keys: Sequence[str], args: Sequence[str], reply: asyncio.Future[Any]) -> Any:
        try:
            return await reply
        except (NoScriptError, RedisConnectionError):
            # Redis lost its script cache (a restart, SCRIPT FLUSH), or the connection broke: the pooled
            # call loads the script and reconnects with the client's retry policy, as a plain call would.
            return await self._script(keys=list(keys), args=list(args))

    def _close(self, joining: list[Call]) -> None:
        if self._joining is joining:
            self._joining = None

    async def _send(self, batch: list[Call]) -> None:
        """Write the batch in one go; each future gets its reply from the reader, or the error of its
        own packing or of the write."""
        try:
            connection = await self._connected()
        except BaseException as exc:
            self._fail(batch, exc)
            if not isinstance(exc, Exception):
                raise
            return
        sha = self._script.sha
        packed: list[bytes] = []
        written: list[asyncio.Future[Any]] = []
        for keys, args, reply in batch:
            try:
                packed += connection.pack_command("EVALSHA", sha, len(keys), *keys, *args)
            except Exception as exc:  # an argument Redis cannot take: this call's own error, nothing sent
                reply.set_exception(exc)
            else:
                written.append(reply)
        if not written:
            return
        # Queued before the write: the reader may only see these replies after it.
        self._in_flight.extend(written)
        try:
            await connection.send_packed_command(packed, check_health=False)
        except BaseException as exc:
            # A write cut short leaves the stream out of step: every call in flight on it is lost.
            self._drop_connection(self._error(exc))
            if not isinstance(exc, Exception):
                raise

    def _fail(self, batch: list[Call], exc: BaseException) -> None:
        error = self._error(exc)
        for _, _, reply in batch:
            if not reply.done():
                reply.set_exception(error)

    @staticmethod
    def _error(exc: BaseException) -> Exception:
        return exc if isinstance(exc, Exception) else RedisConnectionError("batch cancelled before it was written")

    async def _connected(self) -> AbstractConnection:
        assert self._pool is not None  # batching only where there is a pool
        if self._connection is not None:
            return self._connection
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._connection is None:
                # Taken for good: closing the client disconnects it (which ends the reader).
                connection: AbstractConnection = await self._pool.get_connection()  # type: ignore[no-untyped-call]
                self._connection = connection
                self._reader = asyncio.get_running_loop().create_task(self._read(connection))
            return self._connection

    async def _read(self, connection: AbstractConnection) -> None:
        """Hand each reply to the oldest call in flight, until the connection fails or closes."""
        in_flight = self._in_flight
        try:
            while True:
                try:
                    result: Any = await connection.read_response(disconnect_on_error=True)
                except ResponseError as exc:  # this call's own error (a script error, NOSCRIPT)
                    result = exc
                reply = in_flight.popleft()  # a reply nobody waits for means the stream is out of step
                if reply.done():
                    continue  # that caller was cancelled
                if isinstance(result, Exception):
                    reply.set_exception(result)
                else:
                    reply.set_result(result)
        except Exception as exc:
            if self._connection is connection:
                self._drop_connection(RedisConnectionError(f"pipelined script calls: {type(exc).__name__}: {exc}"))

    def _drop_connection(self, error: Exception) -> None:
        """Fail every call in flight and give the connection back (the pool reconnects it when used)."""
        connection, self._connection = self._connection, None
        reader, self._reader = self._reader, None
        while self._in_flight:
            reply = self._in_flight.popleft()
            if not reply.done():
                reply.set_exception(error)
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
        if connection is not None:
            task = asyncio.get_running_loop().create_task(self._give_back(connection))
            self._orphans.add(task)
            task.add_done_callback(self._orphans.discard)

    async def _give_back(self, connection: AbstractConnection) -> None:
        assert self._pool is not None
        await connection.disconnect(nowait=True)
        await self._pool.release(connection)
