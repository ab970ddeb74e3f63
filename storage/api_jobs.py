"""What the job API keeps besides the jobs: each key's list of jobs, its Idempotency-Key records, and a job's
revision (the SSE event id).

- ``reelay:apijobs:<key name>``: a sorted set of the key's job ids scored by creation time (ms), written when the
  job is created; ``GET /v1/jobs`` pages it newest first. Entries older than the job history's TTL are trimmed on
  write, so the set never outgrows the jobs it names.
- ``reelay:idem:<key name>:<idempotency key>``: ``<sha256 of the body>|<job id>`` for 24 hours. The first request
  reserves it with SET NX *before* creating the job under that id, so two simultaneous retries make one job.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from storage.keys import DEFAULT_PREFIX, RedisKeys
from storage.redis_support import RedisClient, require_text_responses

IDEMPOTENCY_TTL_S = 24 * 3600
REV_FIELD = "rev"
# Deletes a reservation only if it still names the refused job (a later retry's must stay).
# KEYS: the record.  ARGV: its value.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""  # the job hash's revision: bumped by every status change (storage.redis_jobs)


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """What an Idempotency-Key stands for: the body it came with (its hash) and the job it made."""

    body_hash: str
    job_id: str
    reserved: bool  # True: this call reserved it and must make the job (or give the key back)


class RedisApiJobs:
    """The per-key job index, Idempotency-Key records and job revisions (see the module docstring)."""

    def __init__(self, redis: RedisClient, *, history_ttl_s: int, prefix: str = DEFAULT_PREFIX) -> None:
        require_text_responses(redis)
        self._redis = redis
        self._keys = RedisKeys(prefix)
        self._history_ttl_s = history_ttl_s
        self._release = redis.register_script(_RELEASE)

    async def add(self, key_name: str, job_id: str, created_at: float) -> None:
        """File a new job under its key; trims entries older than the job history."""
        index = self._keys.api_jobs(key_name)
        now_ms = int(time.time() * 1000)
        pipe = self._redis.pipeline(transaction=False)
        pipe.zadd(index, {job_id: int(created_at * 1000)})
        pipe.zremrangebyscore(index, "-inf", now_ms - self._history_ttl_s * 1000)
        pipe.expire(index, self._history_ttl_s)
        await pipe.execute()

    async def page(self, key_name: str, *, before: tuple[int, str] | None, limit: int) -> list[tuple[str, int]]:
        """Up to ``limit`` ``(job id, created ms)`` newest first, strictly older than ``before`` (a cursor's
        ``(score, id)``; ties on the score are broken by id, descending)."""
        index = self._keys.api_jobs(key_name)
        top: str | int = "+inf" if before is None else before[0]
        rows: list[tuple[str, int]] = []
        offset = 0
        # Entries that share the cursor's score and do not sort before it are skipped: read a little more.
        while len(rows) < limit:
            batch = await self._redis.zrevrangebyscore(index, top, "-inf", start=offset, num=limit + 1, withscores=True)
            if not batch:
                break
            offset += len(batch)
            for item in batch:
                entry = (str(item[0]), int(item[1]))
                if before is not None and entry[1] == before[0] and entry[0] >= before[1]:
                    continue
                rows.append(entry)
                if len(rows) == limit:
                    break
        return rows

    async def reserve(self, key_name: str, idempotency_key: str, body_hash: str, job_id: str) -> IdempotencyRecord:
        """Reserve ``idempotency_key`` for a new job ``job_id`` made from a body hashing to ``body_hash``, or the
        record an earlier request left (``reserved`` False)."""
        key = self._keys.idempotency(key_name, idempotency_key)
        value = f"{body_hash}|{job_id}"
        if await self._redis.set(key, value, nx=True, ex=IDEMPOTENCY_TTL_S):
            return IdempotencyRecord(body_hash, job_id, reserved=True)
        existing = await self._redis.get(key)
        if existing is None:  # expired between the two calls: try once more
            if await self._redis.set(key, value, nx=True, ex=IDEMPOTENCY_TTL_S):
                return IdempotencyRecord(body_hash, job_id, reserved=True)
            existing = await self._redis.get(key) or value
        stored_hash, _, stored_job = str(existing).partition("|")
        return IdempotencyRecord(stored_hash, stored_job, reserved=False)

    async def release(self, key_name: str, idempotency_key: str, record: IdempotencyRecord) -> None:
        """Give back a reservation whose job was refused (only if it is still this one), so a retry may try again."""
        key = self._keys.idempotency(key_name, idempotency_key)
        await self._release(keys=[key], args=[f"{record.body_hash}|{record.job_id}"])

    async def revision(self, job_id: str) -> int:
        """The job's revision (0 when it has none yet): increases with every status change, in every process."""
        value = await self._redis.hget(self._keys.job(job_id), REV_FIELD)
        try:
            return int(value) if value else 0
        except ValueError:
            return 0
