"""The job store on Redis (implements ``poller.ports.JobStore``), ready for Redis Cluster.

Every status change is one Lua script: a compare-and-set against the transition table, so two
processes can never both deliver, fail or cancel one job. Each script touches only one job's keys
(``job``, ``session``, ``effects``: one ``{<id>}`` hash tag, one cluster slot); the active, delayed
and per-user indexes live in other slots and are brought in line right after, in a separate
idempotent step (``storage.job_index`` documents the ordering and healing rules). Reading an index
can therefore briefly show an id whose job ended or vanished a moment ago: callers re-check the
job's status (they must anyway) and may call :meth:`RedisJobStore.heal_index` for such ids.

On one node (every key lives there) none of that is needed: a new job is stored and indexed by one
script, and each status change moves the indexes in its own script, one round trip each.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
from typing import Any

import structlog
from redis.asyncio import RedisCluster

from poller.errors import InvalidTransition, JobNotFound, TooManyActive
from poller.jobs import ALLOWED_TRANSITIONS, Job, JobStatus
from poller.ports import Session
from poller.schedule import AttemptTiming
from storage.job_index import MAY_BECOME_DELAYED, REV_FIELD, UPKEEP_ERRORS, JobIndexes, delayed_since, now_ms
from storage.keys import DEFAULT_PREFIX, RedisKeys, hour_of
from storage.pipelined_commands import PipelinedCommands
from storage.redis_sessions import session_to_fields
from storage.redis_support import RedisClient, hash_mapping, require_text_responses, text_hash, text_list
from storage.script_batcher import ScriptBatcher

log = structlog.get_logger(__name__)

# Closes the race of two creates of one id (a retried request, a redelivered update): the check
# for an existing job and the writes are one step, so exactly one create wins and the loser never
# merges its fields into the winner's hash. A stale effects hash of an expired namesake is dropped.
# ``o`` is where the arguments below start (the one-node variant puts its own first).
# KEYS: job, session, effects.  ARGV (from o + 1): ttl seconds (0: none), n job args,
#       job field/value pairs…, session field/value pairs…
_REFUSE_EXISTING = """
local existing = redis.call('HGET', KEYS[1], 'status')
if existing then return {'exists', existing} end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists', ''} end
"""
_WRITE_NEW_JOB = """
local n = tonumber(ARGV[o + 2])
redis.call('HSET', KEYS[1], unpack(ARGV, o + 3, o + 2 + n))
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[2], unpack(ARGV, o + 3 + n, #ARGV))
local ttl = tonumber(ARGV[o + 1])
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
end
"""
_CREATE = "local o = 0\n" + _REFUSE_EXISTING + _WRITE_NEW_JOB + "return {'ok'}"

RECENT_JOBS_FOR_LIMIT = 20  # how far back the per-user limit looks for jobs still in progress
_TERMINAL = frozenset(s.value for s in JobStatus if s.terminal)
_TERMINAL_SET = "{" + ", ".join(f"['{status}'] = true" for status in sorted(_TERMINAL)) + "}"  # as a Lua table

# The per-user limit in the create's own step, so two prompts of one user at the same instant (two bot
# processes) cannot both pass it. Read after the existence check: a create re-sent after a lost reply must
# answer "exists", not be refused (its caller would refund a job that runs). The job keys are built from the
# ids in the user's index, which a cluster forbids: there the count is read before the create instead.
# ARGV: max active (0: no limit), recent jobs to look at, job key head (the id and "}" follow).
_REFUSE_OVER_LIMIT = (
    """
local limit = tonumber(ARGV[9])
if limit > 0 then
  local ended = """
    + _TERMINAL_SET
    + """
  local n = 0
  for _, other in ipairs(redis.call('ZREVRANGE', KEYS[6], 0, tonumber(ARGV[10]) - 1)) do
    local status = redis.call('HGET', ARGV[11] .. other .. '}', 'status')
    if status and not ended[status] then n = n + 1 end
  end
  if n >= limit then return {'limit', tostring(n)} end
end
"""
)

# One node holds every key, so a create can index the job in the same atomic step: one round trip
# instead of six (reserve, create, re-add, re-read, per-user index), which were six of the nine
# round trips before a prompt's ack. Nothing can interleave, so none of the ordering rules of storage.job_index is
# needed; the indexes end as JobIndexes.after_change and the per-user upkeep would leave them.
# It also counts the job in its status (reelay_jobs_active) and lists it under the hour it was created (the
# console's newest-first list).
# KEYS: job, session, effects, active, delayed, user's jobs, status counts, the creation hour's list.
# ARGV: id, rev, terminal (1/0), delayed since ('' unless delayed), drop from delayed (1/0),
#       created at, user history, user index ttl (also the hour list's), _REFUSE_OVER_LIMIT's three, then
#       _WRITE_NEW_JOB's arguments.
_CREATE_ON_ONE_NODE = (
    "local o = 11\n"
    + _REFUSE_EXISTING
    + _REFUSE_OVER_LIMIT
    + _WRITE_NEW_JOB
    + """
local id = ARGV[1]
if ARGV[3] == '1' then
  local score = redis.call('ZSCORE', KEYS[4], id)
  if score and tonumber(score) <= tonumber(ARGV[2]) then redis.call('ZREM', KEYS[4], id) end
else
  redis.call('ZADD', KEYS[4], 'GT', ARGV[2], id)
end
if ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[5], ARGV[4], id)
elseif ARGV[5] == '1' then
  redis.call('ZREM', KEYS[5], id)
end
redis.call('ZADD', KEYS[6], ARGV[6], id)
redis.call('ZREMRANGEBYRANK', KEYS[6], 0, -(tonumber(ARGV[7]) + 1))
redis.call('EXPIRE', KEYS[6], ARGV[8])
if ARGV[3] ~= '1' then redis.call('HINCRBY', KEYS[7], redis.call('HGET', KEYS[1], 'status'), 1) end
redis.call('RPUSH', KEYS[8], id)
redis.call('EXPIRE', KEYS[8], ARGV[8])
return {'ok'}
"""
)

# Closes the read-check-write race of a status change: without it, two processes that both read
# "running" (say, a poll that saw success and a sweeper that saw the deadline) could both write
# their target and both act on it (deliver twice, refund a delivered video). The script reads the
# status, checks it against the allowed "from" list and writes status, timestamps, fields, the
# next revision and the TTL in one step that nothing else can interleave with.
#
# KEYS: job, session, effects
# ARGV: target, now (s), terminal (1/0), ttl seconds, now (ms), n allowed, allowed statuses…,
#       then field/value pairs
_CHANGE_STATUS = """
local current = redis.call('HGET', KEYS[1], 'status')
if not current then return {'missing'} end
local n_allowed = tonumber(ARGV[o + 6])
local allowed = false
for i = o + 7, o + 6 + n_allowed do
  if ARGV[i] == current then allowed = true break end
end
if not allowed then return {'refused', current} end
local target, now = ARGV[o + 1], ARGV[o + 2]
local rev = tonumber(ARGV[o + 5])
local previous = tonumber(redis.call('HGET', KEYS[1], 'rev') or '0') or 0
if previous >= rev then rev = previous + 1 end
local fields = {'status', target, 'updated_at', now, 'at_' .. target, now, 'rev', string.format('%d', rev)}
for i = o + 7 + n_allowed, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
if ARGV[o + 3] == '1' then
  local ttl = tonumber(ARGV[o + 4])
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
  redis.call('EXPIRE', KEYS[3], ttl)
end
"""
_RETURN_JOB = """
local out = redis.call('HGETALL', KEYS[1])
table.insert(out, 1, 'ok')
return out
"""
_TRANSITION = "local o = 0\n" + _CHANGE_STATUS + _RETURN_JOB

# One node: the indexes follow in the same atomic step (as _CREATE_ON_ONE_NODE does for a new job), so a
# change is one round trip instead of three or four (the change, the re-add or removal, the re-read). The status
# counts move with it, and a job that ends is queued for the analytics (the ended outbox).
# KEYS: job, session, effects, active, delayed, status counts, ended.
# ARGV: id, drop from delayed (1/0), then _TRANSITION's.
_TRANSITION_ON_ONE_NODE = (
    "local o = 2\n"
    + _CHANGE_STATUS
    + """
local id = ARGV[1]
if ARGV[o + 3] == '1' then
  local score = redis.call('ZSCORE', KEYS[4], id)
  if score and tonumber(score) <= rev then redis.call('ZREM', KEYS[4], id) end
else
  redis.call('ZADD', KEYS[4], 'GT', rev, id)
end
if target == 'delayed' then
  redis.call('ZADD', KEYS[5], now, id)
elseif ARGV[2] == '1' then
  redis.call('ZREM', KEYS[5], id)
end
local ended = """
    + _TERMINAL_SET
    + """
if not ended[current] then redis.call('HINCRBY', KEYS[6], current, -1) end
if ARGV[o + 3] == '1' then
  redis.call('ZADD', KEYS[7], now, id)
else
  redis.call('HINCRBY', KEYS[6], target, 1)
end
"""
    + _RETURN_JOB
)
# One engine step's read. When the caller holds the job and it is pollable, the attempt is counted
# and the next poll planned in the same atomic step (so a routine poll is one round trip); a poll that
# finishes after the job was cancelled or moved on has then counted nothing. The delay is
# PollPolicy.delay_after: min(interval * backoff ^ (n - 1), max) * jitter factor.
# KEYS: job.  ARGV: owner, now, interval, backoff, max delay, jitter factor, pollable statuses…
_START_STEP = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {} end
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
  for i = 7, #ARGV do
    if ARGV[i] == status then
      local n = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
      local delay = math.min(tonumber(ARGV[3]) * tonumber(ARGV[4]) ^ math.max(0, n - 1), tonumber(ARGV[5]))
      delay = math.max(0, delay * tonumber(ARGV[6]))
      redis.call('HSET', KEYS[1], 'next_poll_at', string.format('%.3f', tonumber(ARGV[2]) + delay))
      break
    end
  end
end
return redis.call('HGETALL', KEYS[1])
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

# ZSCAN's members without their scores. redis-py turns every score of a ZSCAN reply into a float and
# every pair into a tuple: ~2 µs per active job, 0.46 s of CPU per adoption scan at 240,000 jobs, which
# showed as a lag tail at the 60 s default. Members alone cost about a third of that.
# KEYS: the active index.  ARGV: cursor, count
_SCAN_MEMBERS = """
local reply = redis.call('ZSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local flat, members = reply[2], {}
for i = 1, #flat, 2 do members[#members + 1] = flat[i] end
return {reply[1], members}
"""
SCAN_BATCH = 1000  # ≈ 1.5 ms of Redis time per call; bigger batches saved the client little (measured)

_POLLABLE = [s.value for s in JobStatus if s.pollable]


class RedisJobStore:
    """Jobs as Redis hashes, with active/delayed/per-user indexes and checked transitions."""

    def __init__(
        self,
        redis: RedisClient,
        *,
        prefix: str = DEFAULT_PREFIX,
        history_ttl_s: int = 30 * 86400,
        user_history: int = 50,
        index_grace_s: float = 600.0,
    ) -> None:
        require_text_responses(redis)
        if history_ttl_s <= 0 or user_history <= 0:
            raise ValueError("history_ttl_s and user_history must be positive")
        self._redis = redis
        self._keys = RedisKeys(prefix)
        self._ttl = history_ttl_s
        self._user_history = user_history
        # A cluster spreads the indexes over other slots than the job's: there, a create or a status change
        # takes several steps (storage.job_index); one node does each in one script.
        one_node = not isinstance(redis, RedisCluster)
        self._indexes = JobIndexes(redis, self._keys, grace_s=index_grace_s, counts=not one_node)
        self._create = redis.register_script(_CREATE)
        self._create_on_one_node = ScriptBatcher(redis, _CREATE_ON_ONE_NODE) if one_node else None
        self._transition = redis.register_script(_TRANSITION)
        self._transition_on_one_node = ScriptBatcher(redis, _TRANSITION_ON_ONE_NODE) if one_node else None
        # Thousands of steps a second start with this script: batched into a pipeline per loop turn.
        self._start_step = ScriptBatcher(redis, _START_STEP)
        self._commands = PipelinedCommands.of(redis)  # reads before every prompt's ack: the cheap path
        self._update_fields = redis.register_script(_UPDATE_FIELDS)
        self._claim = redis.register_script(_CLAIM)
        self._scan_members = redis.register_script(_SCAN_MEMBERS)

    async def create(self, job: Job, session: Session, *, max_active: int | None = None) -> None:
        """Store a new job and its session, and index it.

        On one node that is one atomic script. On a cluster it is one script on the job's slot, then
        the indexes: the id enters the active index first, so a crash part-way leaves an index entry
        without a hash (dropped later), never an unindexed job. Raise :class:`InvalidTransition` if a
        job with this id already exists (that job and its index entries are left as they were), and
        :class:`TooManyActive` if ``max_active`` is given and the user has that many jobs in progress
        (on one node checked in the same step; on a cluster just before it).
        """
        if max_active is not None and max_active <= 0:
            raise ValueError("max_active must be positive (None: no limit)")
        if self._create_on_one_node is not None:
            await self._create_indexed(self._create_on_one_node, job, session, max_active)
            return
        if max_active is not None:
            count = await self.active_count_for_user(job.user_id, RECENT_JOBS_FOR_LIMIT)
            if count >= max_active:
                # A create re-sent after a lost reply is counted among its own user's jobs: it is "exists".
                existing = await self._redis.hget(self._keys.job(job.id), "status")
                if existing is not None:
                    raise InvalidTransition(job.id, str(existing), job.status.value)
                raise TooManyActive(job.id, count)
        placeholder = now_ms()
        reserved = not job.status.terminal and await self._indexes.reserve(job.id, placeholder)
        rev = placeholder + 1
        reply = await self._create(
            keys=[self._keys.job(job.id), self._keys.session(job.id), self._keys.effects(job.id)],
            args=self._new_job_args(job, session, rev),
        )
        if reply[0] == "exists":
            if reserved:
                await self._indexes.unreserve(job.id, placeholder)
            raise InvalidTransition(job.id, reply[1] or "exists", job.status.value)
        since = delayed_since(job) if job.status is JobStatus.DELAYED else None
        await self._indexes.after_change(job.id, job.status, rev, since)
        await self._index_for_user(job)

    async def _create_indexed(self, script: ScriptBatcher, job: Job, session: Session, max_active: int | None) -> None:
        keys = self._keys
        rev = now_ms()
        delayed = job.status is JobStatus.DELAYED
        reply = await script.call(
            [
                keys.job(job.id),
                keys.session(job.id),
                keys.effects(job.id),
                keys.active_jobs(),
                keys.delayed_jobs(),
                keys.user_jobs(job.user_id),
                keys.job_counts(),
                keys.jobs_created_in(hour_of(job.created_at)),
            ],
            [
                job.id,
                str(rev),
                "1" if job.status.terminal else "0",
                repr(delayed_since(job)) if delayed else "",
                "0" if delayed or job.status in MAY_BECOME_DELAYED else "1",
                repr(job.created_at),
                str(self._user_history),
                str(self._ttl),
                str(max_active or 0),
                str(RECENT_JOBS_FOR_LIMIT),
                keys.job_key_head(),
                *self._new_job_args(job, session, rev),
            ],
        )
        if reply[0] == "exists":
            raise InvalidTransition(job.id, reply[1] or "exists", job.status.value)
        if reply[0] == "limit":
            raise TooManyActive(job.id, int(reply[1]))

    def _new_job_args(self, job: Job, session: Session, rev: int) -> list[str]:
        """_WRITE_NEW_JOB's arguments."""
        fields = [*_flat(job.to_fields()), REV_FIELD, str(rev)]
        ttl = str(self._ttl) if job.status.terminal else "0"
        return [ttl, str(len(fields)), *fields, *_flat(session_to_fields(session))]

    async def _index_for_user(self, job: Job) -> None:
        # The job exists by now: a failure here costs a line in /status, so it never fails create.
        user_key = self._keys.user_jobs(job.user_id)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:  # one key: order is all we need
                pipe.zadd(user_key, {job.id: job.created_at})
                pipe.zremrangebyrank(user_key, 0, -(self._user_history + 1))
                pipe.expire(user_key, self._ttl)
                hour_key = self._keys.jobs_created_in(hour_of(job.created_at))
                pipe.rpush(hour_key, job.id)
                pipe.expire(hour_key, self._ttl)
                await pipe.execute()
        except UPKEEP_ERRORS as exc:
            log.error("user_index.upkeep_failed", job_id=job.id, error=type(exc).__name__)

    async def get(self, job_id: str) -> Job:
        """Load a job; raise :class:`JobNotFound`."""
        fields = text_hash(await self._redis.hgetall(self._keys.job(job_id)))
        if not fields:
            raise JobNotFound(job_id)
        return Job.from_fields(fields)

    async def get_many(self, job_ids: Sequence[str]) -> list[Job]:
        """Load several jobs in one round trip, in the given order; missing ones are left out."""
        if not job_ids:
            return []
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
        status, with ``fields`` set in the same atomic step, then update the indexes. Raise
        :class:`InvalidTransition` (refused or lost race) or :class:`JobNotFound`."""
        allowed = ALLOWED_TRANSITIONS[target]
        if expected is not None:
            allowed = allowed & expected
        keys = self._keys
        args = [
            target.value,
            repr(time.time()),
            "1" if target.terminal else "0",
            str(self._ttl),
            str(now_ms()),
            str(len(allowed)),
            *sorted(s.value for s in allowed),
            *_field_args(fields or {}),
        ]
        job_keys = [keys.job(job_id), keys.session(job_id), keys.effects(job_id)]
        one_node = self._transition_on_one_node
        if one_node is not None:
            drop_delayed = "0" if target is JobStatus.DELAYED or target in MAY_BECOME_DELAYED else "1"
            index_keys = [keys.active_jobs(), keys.delayed_jobs(), keys.job_counts(), keys.ended_jobs()]
            reply = await one_node.call([*job_keys, *index_keys], [job_id, drop_delayed, *args])
        else:
            reply = await self._transition(keys=job_keys, args=args)
        outcome = reply[0]
        if outcome == "missing":
            raise JobNotFound(job_id)
        if outcome == "refused":
            log.info("transition_refused", job_id=job_id, current=reply[1], target=target.value)
            raise InvalidTransition(job_id, reply[1], target.value)
        stored = _pairs(reply[1:])
        job = Job.from_fields(stored)
        if one_node is None:
            since = delayed_since(job) if target is JobStatus.DELAYED else None
            await self._indexes.after_change(job_id, target, int(stored[REV_FIELD]), since)
        return job

    async def heal_index(self, job_id: str) -> None:
        """Make the active and delayed indexes agree with the job as stored now (idempotent).

        Call it for an id an index listed whose job turned out missing or ended: an old entry
        without a hash is dropped, a terminal job leaves the indexes, a non-terminal one is
        (re-)added, a delayed one is (re-)added to the delayed index.
        """
        await self._indexes.heal(job_id)

    async def start_step(self, job_id: str, owner: str, timing: AttemptTiming) -> Job:
        """Load a job for one engine step; when ``owner`` holds it and it is running or delayed, count
        the attempt and set ``next_poll_at`` in the same script. Raise :class:`JobNotFound`."""
        reply = await self._start_step.call(
            [self._keys.job(job_id)],
            [
                owner,
                repr(time.time()),
                repr(timing.interval_s),
                repr(timing.backoff),
                repr(timing.max_delay_s),
                repr(timing.jitter_factor),
                *_POLLABLE,
            ],
        )
        if not reply:
            raise JobNotFound(job_id)
        return Job.from_fields(_pairs(reply))

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

    async def claimed(self, job_id: str, effect: str) -> bool:
        """Whether the effect was claimed (by anyone, at any time)."""
        return bool(await self._redis.hexists(self._keys.effects(job_id), effect))

    async def release(self, job_id: str, effect: str) -> None:
        """Give a claim back after the effect certainly did not happen (so a retry may do it)."""
        await self._redis.hdel(self._keys.effects(job_id), effect)

    async def active_job_ids(self) -> list[str]:
        """Ids of every job not yet in a terminal state (the active index, read as is).

        ZSCAN in batches keeps Redis responsive with 100k+ active jobs; an id present for the
        whole scan is returned exactly once. An id whose job ended or vanished a moment ago may
        still be listed: check the status (``Leases.ownership`` does) and :meth:`heal_index` it.
        """
        key = self._keys.active_jobs()
        batches: list[list[str]] = []
        cursor = "0"
        while True:
            cursor, members = await self._scan_members(keys=[key], args=[cursor, SCAN_BATCH])
            batches.append(members)
            if cursor == "0":
                return list(dict.fromkeys(chain.from_iterable(batches)))  # a rehash may repeat ids

    async def active_counts(self) -> dict[JobStatus, int]:
        """How many jobs are in each non-terminal status, deployment-wide (one read of the counts hash)."""
        statuses = [status for status in JobStatus if not status.terminal]
        values = await self._redis.hmget(self._keys.job_counts(), [status.value for status in statuses])
        # Never below zero: a deployment upgraded with jobs in flight counts them from their next change on.
        return {status: max(0, int(value or 0)) for status, value in zip(statuses, values, strict=True)}

    async def ensure_counts(self) -> bool:
        """Count the active jobs by status once, where the counts were never kept (an upgrade): True if it did.

        Taken by one process (SET NX), from a scan of the active index; jobs changing during the scan can leave a
        count off by their number. On a cluster each job's counted revision is written too, as its index step
        would have (storage.job_index).
        """
        key = self._keys.job_counts()
        if await self._redis.exists(key) or not await self._redis.set(key + ":recount", "1", nx=True, ex=600):
            return False
        counts: dict[str, int] = {}
        seen: dict[str, str] = {}
        ids = await self.active_job_ids()
        for start in range(0, len(ids), SCAN_BATCH):
            batch = ids[start : start + SCAN_BATCH]
            async with self._redis.pipeline(transaction=False) as pipe:
                for job_id in batch:
                    pipe.hmget(self._keys.job(job_id), ["status", REV_FIELD])
                replies: list[list[str | None]] = await pipe.execute()
            for job_id, (status, rev) in zip(batch, replies, strict=True):
                if status is not None and status not in _TERMINAL:
                    counts[status] = counts.get(status, 0) + 1
                    seen[f"c:{job_id}"] = f"{rev or 0}|{status}"
        fields = {status: str(count) for status, count in counts.items()}
        if self._create_on_one_node is None:
            fields.update(seen)
        if fields:
            await self._redis.hset(key, mapping=hash_mapping(fields))
        log.info("job_counts.recounted", counts=counts)
        return True

    async def active_count(self) -> int:
        """How many jobs are not yet in a terminal state (for metrics)."""
        count: int = await self._redis.zcard(self._keys.active_jobs())
        return count

    async def delayed_job_ids(self, until: float | None = None) -> list[str]:
        """Ids of delayed jobs, longest delayed first; only those delayed at or before ``until``.

        Each id is checked against its job: entries of jobs no longer delayed are left out and
        healed (the delayed index is small, so this costs one pipelined round trip).
        """
        upper: float | str = "+inf" if until is None else until
        ids = text_list(await self._redis.zrangebyscore(self._keys.delayed_jobs(), "-inf", upper))
        if not ids:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hget(self._keys.job(job_id), "status")
            statuses: list[str | None] = await pipe.execute()
        delayed = JobStatus.DELAYED.value
        for job_id, status in zip(ids, statuses, strict=True):
            if status != delayed:
                await self._indexes.heal(job_id)
        return [job_id for job_id, status in zip(ids, statuses, strict=True) if status == delayed]

    async def active_count_for_user(self, user_id: int, recent: int = RECENT_JOBS_FOR_LIMIT) -> int:
        """How many of the user's ``recent`` newest jobs have not ended (what :meth:`create` counts on a
        cluster; one node counts inside its create script). Only the statuses are read, all at once."""
        if recent <= 0:
            return 0
        ids = text_list(await self._commands.execute("ZREVRANGE", self._keys.user_jobs(user_id), 0, recent - 1))
        keys = [self._keys.job(job_id) for job_id in ids]
        statuses = await asyncio.gather(*(self._commands.execute("HGET", key, "status") for key in keys))
        return sum(1 for status in statuses if status is not None and status not in _TERMINAL)

    async def jobs_for_user(self, user_id: int, limit: int = 10) -> list[Job]:
        """The user's most recent jobs, newest first (expired ones are dropped from the index).

        The user index is written after the job hash, so an id here without a hash is gone for good.
        """
        if limit <= 0:
            return []
        user_key = self._keys.user_jobs(user_id)
        ids = text_list(await self._commands.execute("ZREVRANGE", user_key, 0, limit - 1))
        jobs = await self.get_many(ids)
        gone = set(ids) - {job.id for job in jobs}
        if gone:
            await self._redis.zrem(user_key, *gone)
        return jobs


def _field_args(fields: Mapping[str, str]) -> list[str]:
    """Flatten fields into ``[k1, v1, k2, v2…]``, refusing ``status`` and ``rev`` (only transitions set them)."""
    for reserved in ("status", REV_FIELD):
        if reserved in fields:
            raise ValueError(f"'{reserved}' can only be changed through transition()")
    return _flat(fields)


def _flat(fields: Mapping[str, str]) -> list[str]:
    """``{k1: v1, k2: v2}`` as ``[k1, v1, k2, v2…]``."""
    args: list[str] = []
    for name, value in fields.items():
        args += [name, str(value)]
    return args


def _pairs(flat: Iterable[Any]) -> dict[str, str]:
    """``[k1, v1, k2, v2…]`` (a Lua HGETALL) as a dict."""
    items = list(flat)
    return dict(zip(items[0::2], items[1::2], strict=True))
