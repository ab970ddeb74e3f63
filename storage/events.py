"""Notices between processes on a Redis Stream (implements ``poller.ports.EventBus``).

One stream key, ``reelay:events``: :meth:`RedisEventBus.publish` appends ``{kind, job}`` with an
approximate MAXLEN, and every listener XREADs with BLOCK from the last id it saw. There is no
consumer group: every process sees every notice.

Why a stream and not PUBLISH/SUBSCRIBE: it is one key, so it works on Redis Cluster with the plain
client, and a listener that reconnects (a network blip, a Redis restart with AOF) resumes from its
last id and misses nothing still in the stream, where a subscriber loses whatever was published
while it was away.

Notices are hints, never the truth: a lost one (trimmed, lost with Redis, published while nobody
listened) only delays work, because the engine also scans the job indexes on its own schedule.

The client's ``socket_timeout`` (if any) must be longer than ``block_ms``: a blocked XREAD is a
read that waits that long for an answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

import structlog
from redis.exceptions import RedisClusterException, RedisError

from storage.keys import DEFAULT_PREFIX, RedisKeys
from storage.pipelined_commands import PipelinedCommands
from storage.redis_support import RedisClient, require_text_responses

log = structlog.get_logger(__name__)

# Anything Redis or the network can throw at a long-lived reader; none of it ends the listener.
_TRANSIENT = (RedisError, RedisClusterException, OSError)
_START = "0-0"


class RedisEventBus:
    """A broadcast of ``(kind, job_id)`` notices to every process, on one Redis Stream."""

    def __init__(
        self,
        redis: RedisClient,
        *,
        prefix: str = DEFAULT_PREFIX,
        maxlen: int = 10000,
        block_ms: int = 1000,
        batch: int = 100,
        backoff_s: tuple[float, float] = (0.1, 5.0),
    ) -> None:
        require_text_responses(redis)
        if maxlen <= 0 or block_ms <= 0 or batch <= 0 or not 0 < backoff_s[0] <= backoff_s[1]:
            raise ValueError("maxlen, block_ms, batch and the backoff bounds must be positive")
        self._redis = redis
        self._commands = PipelinedCommands.of(redis)  # a notice per new job: the cheap path
        self._key = RedisKeys(prefix).events()
        self._maxlen = maxlen
        self._block_ms = block_ms
        self._batch = batch
        self._backoff = backoff_s

    async def publish(self, kind: str, job_id: str = "") -> None:
        """Send a notice to every process (raises like any Redis write if Redis is unreachable)."""
        if not kind:
            raise ValueError("kind must not be empty")
        await self._commands.execute("XADD", self._key, "MAXLEN", "~", self._maxlen, "*", "kind", kind, "job", job_id)

    async def listen(self, stop: asyncio.Event | None = None) -> AsyncIterator[tuple[str, str]]:
        """Notices published from now on, as ``(kind, job_id)``; ends when cancelled, or within one blocked
        read (``block_ms``) of ``stop`` being set.

        "Now" is the first ``anext``: that is when the listener reads where the stream ends. ``stop`` is
        what ends a listener whose cancellation was lost: a cancel that lands in a blocked read of the Redis
        client, while the loop is busy, was seen to be swallowed and the read reissued (adopting 50,000
        jobs, then stopping, left the listener reading on).

        Connection errors and Redis restarts are logged and waited out with a capped backoff;
        reading resumes after the last notice seen, or from the new stream's start if the stream
        was lost (its ids went back).
        """
        last: str | None = None
        pause = self._backoff[0]
        while True:
            try:
                last = await self._newest_id() if last is None else await self._resync(last)
                while not (stop is not None and stop.is_set()):
                    reply = await self._redis.xread({self._key: last}, count=self._batch, block=self._block_ms)
                    pause = self._backoff[0]
                    for entry_id, fields in _entries(reply):
                        last = entry_id
                        notice = _notice(fields)
                        if notice is not None:
                            yield notice
                return
            except _TRANSIENT as exc:
                log.warning("events.read_failed", error=type(exc).__name__, retry_in_s=pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, self._backoff[1])

    async def _newest_id(self) -> str:
        newest = await self._redis.xrevrange(self._key, "+", "-", count=1)
        return str(newest[0][0]) if newest else _START

    async def _resync(self, last: str) -> str:
        """After an error: keep ``last`` unless the stream now ends before it (it was lost or recreated)."""
        newest = await self._newest_id()
        if _id_key(newest) < _id_key(last):
            log.warning("events.stream_went_back", last_seen=last, newest=newest)
            return newest
        return last


def _entries(reply: Any) -> Iterable[tuple[str, Mapping[str, str]]]:
    """``(id, fields)`` of an XREAD reply (RESP2: a list of pairs; RESP3: a dict by stream)."""
    if not reply:
        return []
    streams = reply.values() if isinstance(reply, Mapping) else (entries for _key, entries in reply)
    out: list[tuple[str, Mapping[str, str]]] = []
    for entries in streams:
        if entries and isinstance(entries[0], list):
            entries = entries[0]  # RESP3 wraps each stream's entries once more (RESP2 entries are tuples)
        out += [(str(entry_id), fields or {}) for entry_id, fields in entries]
    return out


def _notice(fields: Mapping[str, str]) -> tuple[str, str] | None:
    kind = fields.get("kind")
    if not kind:
        log.warning("events.malformed_notice", fields=sorted(fields))
        return None
    return kind, fields.get("job", "")


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)
