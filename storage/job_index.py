"""The active and delayed job indexes, kept beside the job hashes in a separate, idempotent step.

On Redis Cluster a script may only touch keys of one slot. A job's own keys share the ``{<id>}``
hash tag, but the indexes (``reelay:jobs:active``, ``reelay:jobs:delayed``) live in their own
slots, so the job store changes a job with one script on the job's keys and then brings the
indexes in line here. A crash (or a lost connection) between the two steps, or two processes'
steps landing out of order, leaves an index that is briefly wrong in a way these rules heal. (On one
node the job store writes the indexes in the same script as the job, and only :meth:`JobIndexes.heal`
is used there, for entries whose job has vanished.)

* **Revisions.** Every job hash carries ``rev``, raised by each change to
  ``max(previous + 1, now in ms)``: strictly increasing per job, and close to the time of the
  change. An active-index entry is scored by the revision that wrote it.
* **Add before the hash, re-add after.** ``create`` puts the id in the active index (score: now
  in ms) *before* writing the hash, then re-adds it with the hash's revision. A crash in between
  leaves an id without a hash, never a job nobody can find.
* **Non-terminal means present.** Every change to a non-terminal status re-adds the id with
  ``ZADD GT`` (a late delivery, ``failed -> delivering``, comes back this way), then re-reads the
  job: if it ended meanwhile, the removal of the process that ended it may have landed before
  this add, so the add takes itself back. Two processes' steps interleaving thus leave the
  indexes right; only a crash (or lost connection) between the steps leaves work for healing.
* **Removal never beats a newer add.** An entry is removed only if its score is at most the
  revision the remover saw (a Lua compare-and-remove on the index key alone): a terminal change
  at revision ``r`` cannot remove the entry that a later change (``rev > r``) re-added.
* **Missing hashes are dropped only when old.** An id whose hash is gone is removed only if its
  score is unchanged and older than ``grace_s`` (so a ``create`` between its two steps is never
  cut off; its re-add raises the score, which makes the removal refuse).
* **Delayed.** Entering ``delayed`` adds the id (score: when it became delayed); reaching a status
  from which ``delayed`` can no longer be reached (per ``ALLOWED_TRANSITIONS``) removes it.

:meth:`JobIndexes.heal` applies the rules to one job from what is stored now; readers call it for
ids that look stale (a missing hash, a terminal status, a delayed entry that is not delayed).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from redis.exceptions import RedisClusterException, RedisError

from poller.jobs import ALLOWED_TRANSITIONS, Job, JobStatus
from storage.keys import RedisKeys
from storage.redis_support import RedisClient, text_optionals

log = structlog.get_logger(__name__)

REV_FIELD = "rev"

# Closes the race between a remover that saw an old state and a writer that re-added the id since:
# the removal only happens if the entry's score is still at most what the remover saw.
# KEYS: index.  ARGV: member, bound.
_REMOVE_IF_NOT_NEWER = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) <= tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
"""

# A cluster keeps the status counts in this separate step too, idempotently: the counts hash remembers, per
# active job, the revision and status it last counted (``c:<id>`` -> ``rev|status``); a step for an older or the
# same revision changes nothing, a newer one moves the job's count from its old status to its new one, and an
# ended job's entry goes. (One node counts in the change's own script and needs none of this.)
# KEYS: counts.  ARGV: id, rev, status, terminal (1/0).
_COUNT = """
local field = 'c:' .. ARGV[1]
local seen = redis.call('HGET', KEYS[1], field)
if seen then
  local bar = string.find(seen, '|', 1, true)
  if tonumber(string.sub(seen, 1, bar - 1)) >= tonumber(ARGV[2]) then return 0 end
  redis.call('HINCRBY', KEYS[1], string.sub(seen, bar + 1), -1)
end
if ARGV[4] == '1' then
  redis.call('HDEL', KEYS[1], field)
else
  redis.call('HINCRBY', KEYS[1], ARGV[3], 1)
  redis.call('HSET', KEYS[1], field, ARGV[2] .. '|' .. ARGV[3])
end
return 1
"""

_UPKEEP_RETRIES = (0.05, 0.2, 0.5)
# What can fail an index step after the job step succeeded (network, restart, cluster failover).
UPKEEP_ERRORS = (RedisError, RedisClusterException, OSError)


def now_ms() -> int:
    """The current time in whole milliseconds (revisions and index scores)."""
    return int(time.time() * 1000)


def _can_reach(target: JobStatus) -> frozenset[JobStatus]:
    """Statuses from which some chain of allowed transitions leads to ``target``."""
    found: set[JobStatus] = set()
    frontier = {target}
    while frontier:
        step = {source for status in frontier for source in ALLOWED_TRANSITIONS[status]} - found
        found |= step
        frontier = step
    return frozenset(found)


# A job in any other status will never be delayed again, so its delayed entry can always go.
MAY_BECOME_DELAYED = _can_reach(JobStatus.DELAYED) - {JobStatus.DELAYED}


def delayed_since(job: Job) -> float:
    """When the job became delayed (the delayed index score)."""
    return job.transitions.get(JobStatus.DELAYED.value, job.updated_at)


class JobIndexes:
    """Upkeep and healing of the active and delayed indexes (the rules are in the module docstring)."""

    def __init__(self, redis: RedisClient, keys: RedisKeys, *, grace_s: float, counts: bool = False) -> None:
        """``counts``: also keep the status counts and the ended outbox here (a cluster; one node does both in
        the change's own script)."""
        if grace_s <= 0:
            raise ValueError("grace_s must be positive")
        self._redis = redis
        self._keys = keys
        self._grace_s = grace_s
        self._counts = counts
        self._remove_if_not_newer = redis.register_script(_REMOVE_IF_NOT_NEWER)
        self._count = redis.register_script(_COUNT)

    async def reserve(self, job_id: str, placeholder: int) -> bool:
        """Index a job about to be created (before its hash exists); True if the id was not indexed."""
        added = await self._redis.zadd(self._keys.active_jobs(), {job_id: placeholder}, nx=True)
        return bool(added)

    async def unreserve(self, job_id: str, placeholder: int) -> None:
        """Undo :meth:`reserve` after a refused create, then index the existing job as it is."""
        await self._remove_active(job_id, placeholder)
        await self.heal(job_id)

    async def after_change(self, job_id: str, status: JobStatus, rev: int, since: float | None) -> None:
        """Bring both indexes in line with a change just made; retried briefly, never raised.

        The change itself is durable: a failure here is logged and left to :meth:`heal` and to the
        job's next change. Shielded, so a caller cancelled right after the change still finishes it.
        """
        await asyncio.shield(self._upkeep(job_id, lambda: self._apply_and_check(job_id, status, rev, since)))

    async def heal(self, job_id: str) -> None:
        """Make both indexes agree with what is stored for ``job_id`` now (idempotent)."""
        fields, score = await asyncio.gather(
            self._redis.hmget(self._keys.job(job_id), ["status", REV_FIELD, "at_delayed", "updated_at"]),
            self._redis.zscore(self._keys.active_jobs(), job_id),
        )
        status, rev, at_delayed, updated_at = text_optionals(fields)
        if status is None:
            await self._forget_missing(job_id, score)
            return
        since = float(at_delayed or updated_at or 0) if status == JobStatus.DELAYED.value else None
        await self._apply(job_id, JobStatus(status), int(rev or 0), since)

    async def _apply_and_check(self, job_id: str, status: JobStatus, rev: int, since: float | None) -> None:
        await self._apply(job_id, status, rev, since)
        if not status.terminal:
            await self.heal(job_id)  # the re-read that undoes an add landing after a removal

    async def _apply(self, job_id: str, status: JobStatus, rev: int, since: float | None) -> None:
        steps: list[Awaitable[Any]] = []
        if status.terminal:
            steps.append(self._remove_active(job_id, rev))
        else:
            steps.append(self._redis.zadd(self._keys.active_jobs(), {job_id: rev}, gt=True))
        if status is JobStatus.DELAYED:
            steps.append(self._redis.zadd(self._keys.delayed_jobs(), {job_id: since or time.time()}))
        elif status not in MAY_BECOME_DELAYED:
            steps.append(self._redis.zrem(self._keys.delayed_jobs(), job_id))
        if self._counts:
            terminal = "1" if status.terminal else "0"
            steps.append(self._count(keys=[self._keys.job_counts()], args=[job_id, rev, status.value, terminal]))
            if status.terminal:  # NX: a repeated step leaves the time it first ended
                steps.append(self._redis.zadd(self._keys.ended_jobs(), {job_id: time.time()}, nx=True))
        await asyncio.gather(*steps)

    async def _forget_missing(self, job_id: str, score: float | None) -> None:
        cutoff_s = time.time() - self._grace_s
        steps: list[Awaitable[Any]] = [
            # Delayed entries are written after the hash, so an old one without a hash is dead.
            self._remove_if_not_newer(keys=[self._keys.delayed_jobs()], args=[job_id, repr(cutoff_s)])
        ]
        if score is not None and score <= cutoff_s * 1000:
            steps.append(self._remove_active(job_id, score))
        await asyncio.gather(*steps)

    async def _remove_active(self, job_id: str, bound: float) -> None:
        await self._remove_if_not_newer(keys=[self._keys.active_jobs()], args=[job_id, repr(bound)])

    async def _upkeep(self, job_id: str, step: Callable[[], Awaitable[None]]) -> None:
        for pause in (*_UPKEEP_RETRIES, None):
            try:
                await step()
                return
            except UPKEEP_ERRORS as exc:
                if pause is None:
                    log.error("job_index.upkeep_failed", job_id=job_id, error=type(exc).__name__)
                    return
                await asyncio.sleep(pause)
