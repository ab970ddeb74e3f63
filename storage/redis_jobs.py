"""The job store on Redis (implements ``poller.ports.JobStore``).

Every status change is one Lua script: a compare-and-set against the transition table, so two
processes can never both deliver, fail or cancel one job.

Redis Cluster: per-job keys share the ``{<id>}`` hash tag, but ``create`` and ``transition`` also
touch the active/delayed/user indexes, which live in other slots, so today those two are
multi-slot and need a single Redis node (or a cluster proxy). The scripts take every key as
KEYS (none is built inside Lua), so moving to a cluster means splitting the index upkeep out of
the per-job script (or sharding the indexes by hash tag), not rewriting the compare-and-set.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import WatchError

from poller.errors import InvalidTransition, JobNotFound
from poller.jobs import ALLOWED_TRANSITIONS, Job, JobStatus
from poller.ports import Session
from storage.keys import DEFAULT_PREFIX, RedisKeys
from storage.redis_sessions import session_to_fields
from storage.redis_support import hash_mapping, require_text_responses, text_hash, text_list

log = structlog.get_logger(__name__)

# Closes the read-check-write race of a status change: without it, two processes that both read
# "running" (say, a poll that saw success and a sweeper that saw the deadline) could both write
# their target and both act on it (deliver twice, refund a delivered video). The script reads
# the status, checks it against the allowed "from" list and writes status, timestamps, fields,
# indexes and TTL in one step that nothing else can interleave with.
#
# KEYS: job, session, effects, active index, delayed index
# ARGV: job id, target, now, terminal (1/0), ttl seconds, is delayed (1/0), n allowed,
#       allowed statuses…, then field/value pairs
_TRANSITION = """
local current = redis.call('HGET', KEYS[1], 'status')
if not current then return {'missing'} end
local n_allowed = tonumber(ARGV[7])
local allowed = false
for i = 8, 7 + n_allowed do
  if ARGV[i] == current then allowed = true break end
end
if not allowed then return {'refused', current} end
local target, now = ARGV[2], ARGV[3]
local fields = {'status', target, 'updated_at', now, 'at_' .. target, now}
for i = 8 + n_allowed, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
if ARGV[6] == '1' then
  redis.call('ZADD', KEYS[5], now, ARGV[1])
else
  redis.call('ZREM', KEYS[5], ARGV[1])
end
if ARGV[4] == '1' then
  redis.call('ZREM', KEYS[4], ARGV[1])
  local ttl = tonumber(ARGV[5])
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
  redis.call('EXPIRE', KEYS[3], ttl)
end
local out = redis.call('HGETALL', KEYS[1])
table.insert(out, 1, 'ok')
return out
"""

# Counts an attempt only while the job is pollable: a poll that finishes after the job was
# cancelled or moved on must not bump its counter or schedule another poll.
# KEYS: job.  ARGV: next_poll_at ('' to clear), pollable statuses…
_RECORD_ATTEMPT = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing'} end
local pollable = false
for i = 2, #ARGV do
  if ARGV[i] == status then pollable = true break end
end
if not pollable then return {'refused', status} end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if ARGV[1] == '' then
  redis.call('HDEL', KEYS[1], 'next_poll_at')
else
  redis.call('HSET', KEYS[1], 'next_poll_at', ARGV[1])
end
return {'ok', attempts}
"""

# HSET only on an existing job, so a late update cannot leave a partial hash behind an expired job.
# KEYS: job.  ARGV: field/value pairs.
_UPDATE_FIELDS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""

# First caller wins (HSETNX). The effects hash inherits the job's TTL, so a claim made after the
# job ended (Publish on a delivered video) does not outlive the job.
# KEYS: job, effects.  ARGV: effect, now
_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local won = redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
local ttl = redis.call('TTL', KEYS[1])
if ttl > 0 then redis.call('EXPIRE', KEYS[2], ttl) end
return won
"""

_POLLABLE = [s.value for s in JobStatus if s.pollable]


class RedisJobStore:
    """Jobs as Redis hashes, with active/delayed/per-user indexes and checked transitions."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        history_ttl_s: int = 30 * 86400,
        user_history: int = 50,
    ) -> None:
        require_text_responses(redis)
        if history_ttl_s <= 0 or user_history <= 0:
            raise ValueError("history_ttl_s and user_history must be positive")
        self._redis = redis
        self._keys = RedisKeys(prefix)
        self._ttl = history_ttl_s
        self._user_history = user_history
        self._transition = redis.register_script(_TRANSITION)
        self._record_attempt = redis.register_script(_RECORD_ATTEMPT)
        self._update_fields = redis.register_script(_UPDATE_FIELDS)
        self._claim = redis.register_script(_CLAIM)

    async def create(self, job: Job, session: Session) -> None:
        """Store a new job, its session and its index entries in one MULTI/EXEC.

        Raise :class:`InvalidTransition` if a job with this id already exists.
        """
        keys = self._keys
        job_key, session_key = keys.job(job.id), keys.session(job.id)
        user_key = keys.user_jobs(job.user_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            try:
                # WATCH makes a concurrent create of the same id fail at EXEC instead of merging.
                await pipe.watch(job_key)
                existing = await pipe.hget(job_key, "status")
                if existing is not None:
                    raise InvalidTransition(job.id, str(existing), job.status.value)
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.hset(job_key, mapping=hash_mapping(job.to_fields()))
                pipe.delete(session_key)
                pipe.hset(session_key, mapping=hash_mapping(session_to_fields(session)))
                if job.status.terminal:
                    for key in (job_key, session_key):
                        pipe.expire(key, self._ttl)
                else:
                    pipe.zadd(keys.active_jobs(), {job.id: job.created_at})
                if job.status is JobStatus.DELAYED:
                    since = job.transitions.get(JobStatus.DELAYED.value, job.updated_at)
                    pipe.zadd(keys.delayed_jobs(), {job.id: since})
                pipe.zadd(user_key, {job.id: job.created_at})
                pipe.zremrangebyrank(user_key, 0, -(self._user_history + 1))
                pipe.expire(user_key, self._ttl)
                await pipe.execute()
            except WatchError:
                raise InvalidTransition(job.id, "created concurrently", job.status.value) from None

    async def get(self, job_id: str) -> Job:
        """Load a job; raise :class:`JobNotFound`."""
        fields = text_hash(await self._redis.hgetall(self._keys.job(job_id)))
        if not fields:
            raise JobNotFound(job_id)
        return Job.from_fields(fields)

    async def get_many(self, job_ids: Sequence[str]) -> list[Job]:
        """Load several jobs in one round trip, in the given order; missing ones are left out."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hgetall(self._keys.job(job_id))
            results: list[dict[str, str]] = await pipe.execute()
        return [Job.from_fields(fields) for fields in results if fields]

    async def transition(
        self,
        job_id: str,
        target: JobStatus,
        *,
        expected: frozenset[JobStatus] | None = None,
        fields: Mapping[str, str] | None = None,
    ) -> Job:
        """Move a job to ``target`` if the table (and ``expected``) allows it from its current
        status, with ``fields`` set in the same atomic step. Raise :class:`InvalidTransition`
        (refused or lost race) or :class:`JobNotFound`."""
        allowed = ALLOWED_TRANSITIONS[target]
        if expected is not None:
            allowed = allowed & expected
        extra = _field_args(fields or {})
        keys = self._keys
        reply = await self._transition(
            keys=[
                keys.job(job_id),
                keys.session(job_id),
                keys.effects(job_id),
                keys.active_jobs(),
                keys.delayed_jobs(),
            ],
            args=[
                job_id,
                target.value,
                repr(time.time()),
                "1" if target.terminal else "0",
                str(self._ttl),
                "1" if target is JobStatus.DELAYED else "0",
                str(len(allowed)),
                *sorted(s.value for s in allowed),
                *extra,
            ],
        )
        outcome = reply[0]
        if outcome == "missing":
            raise JobNotFound(job_id)
        if outcome == "refused":
            log.info("transition_refused", job_id=job_id, current=reply[1], target=target.value)
            raise InvalidTransition(job_id, reply[1], target.value)
        return Job.from_fields(_pairs(reply[1:]))

    async def record_attempt(self, job_id: str, next_poll_at: float | None) -> int:
        """Count one poll attempt and note when the next is due; return the new count.

        Only while the job is running or delayed: otherwise raise :class:`InvalidTransition`
        (the job moved on; stop polling it), or :class:`JobNotFound`.
        """
        due = "" if next_poll_at is None else repr(next_poll_at)
        reply = await self._record_attempt(keys=[self._keys.job(job_id)], args=[due, *_POLLABLE])
        if reply[0] == "missing":
            raise JobNotFound(job_id)
        if reply[0] == "refused":
            raise InvalidTransition(job_id, reply[1], "attempt")
        return int(reply[1])

    async def update_fields(self, job_id: str, fields: Mapping[str, str]) -> None:
        """Set non-status fields on an existing job; ``status`` is refused (use :meth:`transition`)."""
        if not fields:
            return
        done = await self._update_fields(keys=[self._keys.job(job_id)], args=_field_args(fields))
        if not done:
            raise JobNotFound(job_id)

    async def claim(self, job_id: str, effect: str) -> bool:
        """Claim a one-time side effect (``"send"``, ``"publish"``…). True for the first caller only."""
        keys = [self._keys.job(job_id), self._keys.effects(job_id)]
        won = int(await self._claim(keys=keys, args=[effect, repr(time.time())]))
        if won < 0:
            raise JobNotFound(job_id)
        return won == 1

    async def release(self, job_id: str, effect: str) -> None:
        """Give a claim back after the effect certainly did not happen (so a retry may do it)."""
        await self._redis.hdel(self._keys.effects(job_id), effect)

    async def active_job_ids(self) -> list[str]:
        """Ids of every job not yet in a terminal state.

        ZSCAN in batches keeps Redis responsive with 100k+ active jobs; an id present for the
        whole scan is returned exactly once.
        """
        ids: dict[str, None] = {}
        async for member, _score in self._redis.zscan_iter(self._keys.active_jobs(), count=1000):
            ids[member] = None
        return list(ids)

    async def active_count(self) -> int:
        """How many jobs are not yet in a terminal state (for metrics)."""
        count: int = await self._redis.zcard(self._keys.active_jobs())
        return count

    async def delayed_job_ids(self, until: float | None = None) -> list[str]:
        """Ids of delayed jobs, longest delayed first; only those delayed at or before ``until``."""
        upper: float | str = "+inf" if until is None else until
        return text_list(await self._redis.zrangebyscore(self._keys.delayed_jobs(), "-inf", upper))

    async def jobs_for_user(self, user_id: int, limit: int = 10) -> list[Job]:
        """The user's most recent jobs, newest first (expired ones are dropped from the index)."""
        if limit <= 0:
            return []
        user_key = self._keys.user_jobs(user_id)
        ids = text_list(await self._redis.zrevrange(user_key, 0, limit - 1))
        jobs = await self.get_many(ids)
        gone = set(ids) - {job.id for job in jobs}
        if gone:
            await self._redis.zrem(user_key, *gone)
        return jobs


def _field_args(fields: Mapping[str, str]) -> list[str]:
    """Flatten fields into ``[k1, v1, k2, v2…]``, refusing ``status`` (only transitions set it)."""
    if "status" in fields:
        raise ValueError("'status' can only be changed through transition()")
    args: list[str] = []
    for name, value in fields.items():
        args += [name, str(value)]
    return args


def _pairs(flat: Iterable[Any]) -> dict[str, str]:
    """``[k1, v1, k2, v2…]`` (a Lua HGETALL) as a dict."""
    items = list(flat)
    return dict(zip(items[0::2], items[1::2], strict=True))
