"""Which process polls which job (implements ``poller.ports.Leases``), ready for Redis Cluster.

A job's lease is its ``owner`` field plus the owner's heartbeat. Keys (``storage.keys``):

* ``reelay:proc:<process_id>``: a string with a PX TTL, renewed by :meth:`RedisLeases.heartbeat`.
  **It is the truth**: a process is alive while its key exists (the TTL runs on the Redis clock,
  so clock differences between hosts do not matter). Its value is what the process reports about itself
  (:class:`poller.ports.ProcessReport`, as JSON with the expiry in ms); a value from before processes reported
  anything is the bare expiry in ms, and still reads (:func:`report_from_value`).
* ``reelay:procs``: a zset of process ids scored by heartbeat expiry (ms, writer's clock). It is
  advisory: :meth:`RedisLeases.live_processes` lists candidates from it (with a slack for clock
  differences) and confirms each with EXISTS on its key, two round trips in all. Members dead for
  longer than ``prune_after_s`` are pruned on each heartbeat.

The two keys live in different slots, so a heartbeat writes them as two plain commands (one
pipeline, no transaction). If only the zset write lands, the process is not listed (its key is
missing: correct); if only the key lands, it is missing from the list until its next heartbeat
(another process may adopt its jobs meanwhile; the job store's compare-and-set transitions keep
that harmless, and the owner sees the lease gone in :meth:`RedisLeases.ownership`).

Owner changes are Lua scripts on the job hash alone (one slot).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

from redis.asyncio import RedisCluster
from redis.crc import key_slot

from poller.jobs import JobStatus, status_of
from poller.ports import JobOwnership, LiveProcess, ProcessReport
from storage.keys import DEFAULT_PREFIX, RedisKeys
from storage.redis_support import RedisClient, ScriptCall, eval_many, require_text_responses, text_list

# Closes the race of two processes adopting one orphan: both read owner == "dead-process" and
# both would take it. The owner is compared and set in one step, so exactly one wins; a job that
# ended (or expired) meanwhile is never taken. Many jobs go in one call (per-command overhead in the
# client, not Redis, is what limits adopting 100k orphans); the whole script is atomic, so each take
# still is. On a cluster every call's KEYS share one slot.
# KEYS: jobs.  ARGV: process id, number of active statuses, active statuses…, expected owner per key.
# Returns the status and next poll time as of the take for each key (what the new holder schedules
# by); status '' where the take failed.
_ACQUIRE = """
local active = {}
local n = tonumber(ARGV[2])
for i = 3, 2 + n do active[ARGV[i]] = true end
local out = {}
for i, key in ipairs(KEYS) do
  local state = redis.call('HMGET', key, 'status', 'owner', 'next_poll_at')
  out[2 * i - 1] = ''
  out[2 * i] = ''
  if state[1] and active[state[1]] and (state[2] or '') == ARGV[2 + n + i] then
    redis.call('HSET', key, 'owner', ARGV[1])
    out[2 * i - 1] = state[1]
    out[2 * i] = state[3] or ''
  end
end
return out
"""

# Gives leases back only where this process still holds them: a release that arrives after another
# process adopted the job must not clear the new owner. Never creates a hash for a missing job.
# KEYS: jobs (one slot on a cluster).  ARGV: process id.  Returns how many were released.
_RELEASE_MANY = """
local released = 0
for _, key in ipairs(KEYS) do
  if redis.call('HGET', key, 'owner') == ARGV[1] then
    redis.call('HSET', key, 'owner', '')
    released = released + 1
  end
end
return released
"""

# Reads status and owner of many jobs in one command: per-command overhead in the client, not
# Redis, is what limits a 100k-id scan. Read-only. On a cluster every call's KEYS share one slot.
# KEYS: jobs.  Returns status, owner, next_poll_at for each ('' when missing).
_OWNERSHIP = """
local out = {}
for i, key in ipairs(KEYS) do
  local state = redis.call('HMGET', key, 'status', 'owner', 'next_poll_at')
  out[3 * i - 2] = state[1] or ''
  out[3 * i - 1] = state[2] or ''
  out[3 * i] = state[3] or ''
end
return out
"""

_ACTIVE = sorted(status.value for status in JobStatus if not status.terminal)


class RedisLeases:
    """Heartbeats and per-job owners in Redis (see the module docstring for the layout)."""

    def __init__(
        self,
        redis: RedisClient,
        *,
        prefix: str = DEFAULT_PREFIX,
        batch_size: int = 1000,
        clock_slack_s: float = 60.0,
        prune_after_s: float = 3600.0,
    ) -> None:
        require_text_responses(redis)
        if batch_size <= 0 or clock_slack_s < 0 or prune_after_s <= 0:
            raise ValueError("batch_size and prune_after_s must be positive, clock_slack_s not negative")
        self._redis = redis
        self._keys = RedisKeys(prefix)
        self._batch = batch_size
        self._slack_ms = int(clock_slack_s * 1000)
        self._prune_ms = int(prune_after_s * 1000)
        self._acquire = redis.register_script(_ACQUIRE)

    async def heartbeat(self, process_id: str, ttl_s: float, report: ProcessReport | None = None) -> None:
        """Register ``process_id`` as alive for ``ttl_s`` more seconds, with what it reports about itself."""
        ttl_ms = int(ttl_s * 1000)
        if ttl_ms <= 0:
            raise ValueError("ttl_s must be positive")
        now = _now_ms()
        expires = now + ttl_ms
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self._keys.processes(), {process_id: expires})
            pipe.set(self._keys.process(process_id), value_of(expires, report), px=ttl_ms)
            pipe.zremrangebyscore(self._keys.processes(), "-inf", now - self._prune_ms)
            await pipe.execute()

    async def retire(self, process_id: str) -> None:
        """Remove the heartbeat at once (clean shutdown)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.delete(self._keys.process(process_id))
            pipe.zrem(self._keys.processes(), process_id)
            await pipe.execute()

    async def live_processes(self) -> list[str]:
        """Processes whose heartbeat has not lapsed (listed by the zset, confirmed by their key)."""
        since = _now_ms() - self._slack_ms
        candidates = text_list(await self._redis.zrangebyscore(self._keys.processes(), since, "+inf"))
        if not candidates:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for process_id in candidates:
                pipe.exists(self._keys.process(process_id))
            alive: list[int] = await pipe.execute()
        return sorted(process_id for process_id, found in zip(candidates, alive, strict=True) if found)

    async def processes(self) -> list[LiveProcess]:
        """The live processes (as :meth:`live_processes` finds them) with what each last reported."""
        since = _now_ms() - self._slack_ms
        candidates = text_list(await self._redis.zrangebyscore(self._keys.processes(), since, "+inf"))
        if not candidates:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for process_id in candidates:
                pipe.get(self._keys.process(process_id))
            values: list[str | None] = await pipe.execute()
        live: list[LiveProcess] = []
        for process_id, value in zip(candidates, values, strict=True):
            if value is not None:  # None: its key lapsed after the zset listed it
                expires_ms, report = report_from_value(value)
                live.append(LiveProcess(process_id, expires_ms / 1000, report))
        return sorted(live, key=lambda process: process.process_id)

    async def acquire(self, job_id: str, process_id: str, expected_owner: str) -> bool:
        """Take the lease if the job is active and its owner is still ``expected_owner`` (compare-and-set)."""
        _require_id(process_id)
        reply = await self._acquire(keys=[self._keys.job(job_id)], args=_acquire_args(process_id, [expected_owner]))
        return bool(text_list(reply)[0])  # the status on a win, '' otherwise

    async def acquire_many(self, claims: Sequence[tuple[str, str]], process_id: str) -> list[JobOwnership]:
        """:meth:`acquire` for many ``(job id, expected owner)`` pairs, many jobs per script call; the jobs
        won, with status and next poll as of the take (so adopting them needs no further read)."""
        _require_id(process_id)
        expected = dict(claims)
        won: list[JobOwnership] = []
        for groups in _pack(self._groups(list(expected)), self._batch):
            calls: list[ScriptCall] = [
                (
                    [self._keys.job(job_id) for job_id in group],
                    _acquire_args(process_id, [expected[job_id] for job_id in group]),
                )
                for group in groups
            ]
            replies = await eval_many(self._redis, _ACQUIRE, calls)
            for group, reply in zip(groups, replies, strict=True):
                flat = text_list(reply)
                for i, job_id in enumerate(group):
                    if status := flat[2 * i]:
                        won.append(JobOwnership(job_id, status_of(status), process_id, _due(flat[2 * i + 1])))
        return won

    async def release(self, job_ids: Sequence[str], process_id: str) -> int:
        """Give back the leases ``process_id`` holds among ``job_ids``; return how many."""
        _require_id(process_id)
        released = 0
        for groups in _pack(self._groups(job_ids), self._batch):
            calls: list[ScriptCall] = [([self._keys.job(job_id) for job_id in group], [process_id]) for group in groups]
            released += sum(int(r) for r in await eval_many(self._redis, _RELEASE_MANY, calls))
        return released

    async def ownership(self, job_ids: Sequence[str]) -> list[JobOwnership]:
        """Status and owner of each job, in one round trip per batch (status None: the job is gone)."""
        states: dict[str, JobOwnership] = {}
        for groups in _pack(self._groups(job_ids), self._batch):
            calls: list[ScriptCall] = [([self._keys.job(job_id) for job_id in group], []) for group in groups]
            replies = await eval_many(self._redis, _OWNERSHIP, calls)
            states.update(_ownership_pairs(groups, replies))
        return [states[job_id] for job_id in job_ids]

    def _groups(self, job_ids: Sequence[str]) -> list[Sequence[str]]:
        """Ids in groups of at most one batch that one script call may read: on a cluster, by slot."""
        if not isinstance(self._redis, RedisCluster):
            return _batches(job_ids, self._batch)
        by_slot: dict[int, list[str]] = {}
        for job_id in job_ids:
            by_slot.setdefault(key_slot(self._keys.job(job_id).encode()), []).append(job_id)
        return [batch for group in by_slot.values() for batch in _batches(group, self._batch)]


def _pack(groups: list[Sequence[str]], size: int) -> Iterator[list[Sequence[str]]]:
    """Consecutive groups, about ``size`` ids per pipeline (one round trip each)."""
    pending: list[Sequence[str]] = []
    count = 0
    for group in groups:
        pending.append(group)
        count += len(group)
        if count >= size:
            yield pending
            pending, count = [], 0
    if pending:
        yield pending


def _ownership_pairs(groups: list[Sequence[str]], replies: list[Any]) -> Iterator[tuple[str, JobOwnership]]:
    for group, reply in zip(groups, replies, strict=True):
        flat = text_list(reply)
        for i, job_id in enumerate(group):
            status, owner, due = flat[3 * i], flat[3 * i + 1], flat[3 * i + 2]
            yield job_id, JobOwnership(job_id, status_of(status) if status else None, owner, _due(due))


def value_of(expires_ms: int, report: ProcessReport | None) -> str:
    """A heartbeat key's value: the expiry in ms and, when the process reports anything, the report (JSON)."""
    if report is None:
        return str(expires_ms)
    fields = {
        "expires": expires_ms,
        "held": report.held_jobs,
        "role": report.role,
        "version": report.version,
        "started": report.started_at,
    }
    return json.dumps({k: v for k, v in fields.items() if v not in (None, "")}, separators=(",", ":"))


def report_from_value(value: str) -> tuple[int, ProcessReport]:
    """A heartbeat value read back: the expiry in ms and the report. A bare number (written before processes
    reported anything) is an expiry with an empty report; anything unreadable is an empty report too."""
    try:
        data = json.loads(value)
    except ValueError:
        return 0, ProcessReport()
    if isinstance(data, int | float) and not isinstance(data, bool):
        return int(data), ProcessReport()
    if not isinstance(data, dict):
        return 0, ProcessReport()
    held, started, expires = data.get("held"), data.get("started"), data.get("expires")
    report = ProcessReport(
        held_jobs=held if isinstance(held, int) and not isinstance(held, bool) else None,
        role=str(data.get("role", "")),
        version=str(data.get("version", "")),
        started_at=float(started) if isinstance(started, int | float) and not isinstance(started, bool) else None,
    )
    return (int(expires) if isinstance(expires, int | float) else 0), report


def _acquire_args(process_id: str, expected_owners: list[str]) -> list[str | int]:
    return [process_id, len(_ACTIVE), *_ACTIVE, *expected_owners]


def _due(value: str) -> float | None:
    return float(value) if value else None


def _require_id(process_id: str) -> None:
    # An empty id is "nobody": taking or releasing as nobody would match every unowned job.
    if not process_id:
        raise ValueError("process_id must not be empty")


def _batches(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _now_ms() -> int:
    return int(time.time() * 1000)
