"""Submits paced to what each provider allows, shared by every process through Redis (``poller.ports.SubmitPacer``).

KIE takes 20 new generation requests per 10 s per account and answers 429 beyond (a *rate*); fal runs a number of
requests at once per account (*slots*, held from the submit until the job ends). Jobs over the pace wait in line,
in the order they were created, and are admitted as soon as the pace allows.

Keys, one Redis Cluster slot per pace group (``{kie}``, ``{fal}``)::

    reelay:pace:{<group>}:line     zset: waiting job ids, scored by creation time (the order of admission)
    reelay:pace:{<group>}:seen     zset: waiting job ids, scored by when each last asked (stale waiters leave)
    reelay:pace:{<group>}:held     zset: rate: one member per admitted submit, scored by its time (the window);
                                         slots: the job ids holding a slot, scored by when they took it

Each admission is one Lua script on the group's keys, timed by the Redis server's clock, so processes on
different hosts agree on the window.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import structlog

from poller.events import NoEvents
from poller.jobs import Job, JobStatus, TaskKind
from storage.keys import DEFAULT_PREFIX, redis_key
from storage.redis_support import RedisClient, require_text_responses

log = structlog.get_logger(__name__)

Mode = Literal["rate", "slots"]

# KEYS: line, seen, held.  ARGV: mode, job id, order score (ms), limit, window (ms), stale (ms), retry (ms), ttl (ms).
# Returns {1, 0} when admitted, else {0, milliseconds to wait}.
_ADMIT = """
local line, seen, held = KEYS[1], KEYS[2], KEYS[3]
local mode, job = ARGV[1], ARGV[2]
local order, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
local window, stale, retry, ttl = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- Waiters that stopped asking (cancelled, crashed, moved elsewhere) give their place up.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', seen, '-inf', now - stale)) do
  redis.call('ZREM', line, id)
  redis.call('ZREM', seen, id)
end
if mode == 'rate' then
  redis.call('ZREMRANGEBYSCORE', held, '-inf', now - window)
elseif redis.call('ZSCORE', held, job) then
  redis.call('ZREM', line, job)
  redis.call('ZREM', seen, job)
  return {1, 0}  -- a retry of a job that holds its slot already
end
local free = limit - redis.call('ZCARD', held)
redis.call('ZADD', line, 'NX', order, job)
redis.call('ZADD', seen, now, job)
redis.call('PEXPIRE', line, ttl)
redis.call('PEXPIRE', seen, ttl)
if free > 0 and redis.call('ZRANK', line, job) < free then
  redis.call('ZREM', line, job)
  redis.call('ZREM', seen, job)
  if mode == 'rate' then
    redis.call('ZADD', held, now, job .. ':' .. now)
  else
    redis.call('ZADD', held, now, job)
  end
  redis.call('PEXPIRE', held, ttl)
  return {1, 0}
end
if mode == 'rate' and free <= 0 then
  local oldest = redis.call('ZRANGE', held, 0, 0, 'WITHSCORES')
  return {0, math.max(1, tonumber(oldest[2]) + window - now)}
end
return {0, retry}
"""

# KEYS: line, seen, held.  ARGV: job id, whether the job holds a slot (1/0).
_RELEASE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[2] == '1' then redis.call('ZREM', KEYS[3], ARGV[1]) end
return 1
"""

# KIE counts its 10 s at arrival, on its clock: half a second of margin keeps a request that is slow to arrive from
# landing in the previous window.
_WINDOW_MS = 10_500
_STALE_MS = 30_000  # a waiter asks at least every few seconds; one silent this long has gone
_RETRY_MS = 500  # a waiter behind others asks again this soon (the ones ahead are being admitted)
_TTL_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Pace:
    """One provider account's pace: ``limit`` submits per window (rate) or jobs at once (slots)."""

    group: str
    mode: Mode
    limit: int


class RedisSubmitPacer(NoEvents):
    """Admits submits within each provider's pace; a job listener too, so an ended job gives its slot back."""

    def __init__(
        self, redis: RedisClient, paces: Mapping[str, Pace], *, prefix: str = DEFAULT_PREFIX, jitter_s: float = 0.1
    ) -> None:
        require_text_responses(redis)
        self._redis = redis
        self._paces = dict(paces)  # provider name -> its account's pace
        self._prefix = prefix
        self._jitter_s = jitter_s
        self._admit = redis.register_script(_ADMIT)
        self._release = redis.register_script(_RELEASE)

    def _pace_for(self, job: Job) -> Pace | None:
        if job.kind is TaskKind.UPSCALE_1080P:
            return None  # KIE's 1080p is a free GET, not a generation request
        return self._paces.get(job.provider)

    def _keys(self, pace: Pace) -> list[str]:
        return [redis_key(self._prefix, "pace", "{" + pace.group + "}", part) for part in ("line", "seen", "held")]

    async def admit(self, job: Job) -> float:
        """0.0 when ``job`` may be submitted now (its slot taken), else seconds until it should ask again."""
        pace = self._pace_for(job)
        if pace is None:
            return 0.0
        args = [pace.mode, job.id, str(int(job.created_at * 1000)), str(pace.limit)]
        args += [str(_WINDOW_MS), str(_STALE_MS), str(_RETRY_MS), str(_TTL_MS)]
        admitted, wait_ms = await self._admit(keys=self._keys(pace), args=args)
        if int(admitted):
            return 0.0
        log.debug("pace.waiting", job_id=job.id, group=pace.group, wait_ms=int(wait_ms))
        return int(wait_ms) / 1000 + random.uniform(0, self._jitter_s)  # spreads waiters that were told the same time

    async def release(self, job: Job) -> None:
        """Leave the line and give back a held slot (the job ended, or failover moved it to another provider)."""
        pace = self._pace_for(job)
        if pace is None:
            return
        await self._release(keys=self._keys(pace), args=[job.id, "1" if pace.mode == "slots" else "0"])

    async def job_ended(self, job: Job) -> None:
        """A job ended (any process, any way): what it held is free again."""
        await self.release(job)

    async def sweep(self, statuses: Callable[[Sequence[str]], Awaitable[Mapping[str, JobStatus | None]]]) -> int:
        """Give back the slots of jobs that ended without saying so (a crash between the end and the release)."""
        freed = 0
        for pace in self._paces.values():
            if pace.mode != "slots":
                continue
            held = self._keys(pace)[2]
            holders = [str(member) for member in await self._redis.zrange(held, 0, -1)]
            if not holders:
                continue
            known = await statuses(holders)
            done = [job_id for job_id in holders if (status := known.get(job_id)) is None or status.terminal]
            if done:
                freed += int(await self._redis.zrem(held, *done))
        if freed:
            log.info("pace.slots_freed", freed=freed)
        return freed
