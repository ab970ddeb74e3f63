"""Redis commands of many concurrent callers on one connection: written without waiting, replies read in order.

A command through redis-py's pool costs ~140-160 µs of client CPU (redis-py 8): a connection checkout and
release, a timeout, the retry wrapper, the health check. Here the commands made in one event-loop turn are
written with one socket write on a connection this object keeps, without waiting for earlier commands'
replies, and one reader task hands each reply to its caller in order: ~70-80 µs a command
(``benchmarks/script_calls.py``). Each command stays what it is on its own: nothing here is a transaction.

Meant for the hot paths (a poll's step read, a prompt's writes before its ack), not for blocking commands
(``XREAD BLOCK`` would hold every command behind it) or ``MULTI``.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Mapping
from typing import Any, ClassVar

from redis.asyncio import RedisCluster
from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.typing import EncodableT

from storage.redis_support import RedisClient

MAX_BATCH = 256

Command = tuple[EncodableT, ...]
Call = tuple[Command, "asyncio.Future[Any]"]


class PipelinedCommands:
    """Runs commands for many concurrent callers over one pipelined connection of its own.

    The first caller of a turn leads: it yields once so the commands made in the same turn can join, then
    writes them all (its own first) at once. The connection is taken from the client's pool and kept;
    closing the client closes it, which ends the reader. Replies come back in the order the commands were
    written, so a caller that was cancelled meanwhile only has its reply dropped. On a cluster (which
    routes every key to its own node) each command goes through the client as usual.
    """

    _shared: ClassVar[weakref.WeakKeyDictionary[RedisClient, PipelinedCommands]] = weakref.WeakKeyDictionary()

    @classmethod
    def of(cls, redis: RedisClient) -> PipelinedCommands:
        """The one instance for ``redis``, shared by every store on that client (one connection, fuller batches)."""
        commands = cls._shared.get(redis)
        if commands is None:
            commands = cls._shared[redis] = cls(redis)
        return commands

    def __init__(self, redis: RedisClient) -> None:
        # Weak: the shared map holds this object for as long as the client lives, and no longer.
        self._client = weakref.ref(redis)
        self._pool: ConnectionPool | None = None if isinstance(redis, RedisCluster) else redis.connection_pool
        # The client's own reply conversions (SET -> bool, ...), so a reply reads as the client's would.
        self._callbacks: Mapping[Any, Any] = {} if isinstance(redis, RedisCluster) else redis.response_callbacks
        self._joining: list[Call] | None = None  # commands waiting for this turn's leader
        self._connection: AbstractConnection | None = None
        self._connecting: asyncio.Lock | None = None
        self._in_flight: deque[asyncio.Future[Any]] = deque()  # written, reply not read yet, in order
        self._reader: asyncio.Task[None] | None = None
        self._orphans: set[asyncio.Task[None]] = set()  # batches whose leader was cancelled

    async def execute(self, *command: EncodableT) -> Any:
        """Run one command; its reply as the client would give it, or the error Redis gave for it.

        The client's conversion for the command's name is applied without options, so a command whose
        reply depends on one (``WITHSCORES``) comes back as Redis sent it.

        If the connection breaks while the command is in flight, it is sent once more through the
        client's pool: most breaks (a Redis restart, an idle connection dropped) happen before Redis ran
        it, but a command that did run then runs twice. Callers send commands that are safe to repeat
        (reads, scripts that refuse a second time) or can recognise their own earlier write.
        """
        if self._pool is None:
            return await self._through_client(command)
        if self._joining is not None and len(self._joining) < MAX_BATCH:
            reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._joining.append((command, reply))
            return await self._outcome(command, reply)
        joining: list[Call] = []
        self._joining = joining
        own: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        try:
            await asyncio.sleep(0)  # one loop turn: the commands started in this turn join
        except asyncio.CancelledError:
            self._close(joining)
            if joining:  # the ones who joined still get their answers
                task = asyncio.get_running_loop().create_task(self._send(joining))
                self._orphans.add(task)
                task.add_done_callback(self._orphans.discard)
            raise
        self._close(joining)
        await self._send([(command, own), *joining])
        return await self._outcome(command, own)

    async def _outcome(self, command: Command, reply: asyncio.Future[Any]) -> Any:
        try:
            raw = await reply
        except RedisConnectionError:
            return await self._through_client(command)
        callback = self._callbacks.get(command[0])
        return raw if callback is None else callback(raw)

    async def _through_client(self, command: Command) -> Any:
        """The command as a plain call of the client (its pool or its cluster routing)."""
        redis = self._client()
        if redis is None:
            raise RedisConnectionError("the Redis client is gone")
        return await redis.execute_command(*command)

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
        packed: list[bytes] = []
        written: list[asyncio.Future[Any]] = []
        for command, reply in batch:
            try:
                packed += connection.pack_command(*command)
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
        for _, reply in batch:
            if not reply.done():
                reply.set_exception(error)

    @staticmethod
    def _error(exc: BaseException) -> Exception:
        return exc if isinstance(exc, Exception) else RedisConnectionError("batch cancelled before it was written")

    async def _connected(self) -> AbstractConnection:
        assert self._pool is not None  # pipelining only where there is a pool
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
                except ResponseError as exc:  # this command's own error (a script error, NOSCRIPT, WRONGTYPE)
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
                self._drop_connection(RedisConnectionError(f"pipelined commands: {type(exc).__name__}: {exc}"))

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
