"""Durable analytics in Redis: per model and UTC hour, what the jobs that ended came to.

One hash per model and hour (``reelay:stats:{<model>:<hour>}``) holds sums a summary needs: jobs by status and error
code, generation time (sum, count and a fixed-bucket histogram, so percentiles can be computed over any range of
hours), attempts, the provider's cost, credits captured and refunded. Each key lives ``retention_days``.

**Counted once.** A job is recorded by one script that first adds its id to the hour's ``seen`` set (same hash tag,
same slot): a job finished twice by two processes, a retried step, or the outbox sweep that follows a crash all find
it there and change nothing. The ``seen`` sets live :data:`SEEN_TTL_S`: a record repeated later than that would count
again. Jobs are recorded from the ended-jobs outbox (``reelay:jobs:ended``) that every status change into a terminal
state feeds, so a process that dies between ending a job and recording it leaves the job for the next sweep.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from poller.errors import JobNotFound
from poller.events import NoEvents
from poller.jobs import Job, JobStatus, TaskKind
from poller.ports import JobStore
from storage.keys import DEFAULT_PREFIX, RedisKeys, hour_of
from storage.redis_support import RedisClient, require_text_responses, text_list

log = structlog.get_logger(__name__)

# Upper bounds of the generation-time buckets, in seconds (the last bucket is everything above 3600 s).
GENERATION_BUCKETS_S: tuple[float, ...] = (
    10, 20, 30, 45, 60, 90, 120, 180, 240, 300, 420, 600, 900, 1200, 1800, 3600,
)  # fmt: skip
SEEN_TTL_S = 7 * 86400
SWEEP_AFTER_S = 60.0  # an ended job not recorded by then was left by a process that stopped
SWEEP_BATCH = 200
PriceOf = Callable[[str, int, TaskKind], int | None]  # model, duration, what the job made

# KEYS: the hour's stats hash, its seen set.  ARGV: job id, seen ttl, stats ttl, then field/increment pairs.
# Returns 1 when recorded, 0 when the job was counted before.
_RECORD = """
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('EXPIRE', KEYS[2], ARGV[2])
for i = 4, #ARGV, 2 do redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


def job_increments(job: Job, price_of: PriceOf | None = None) -> dict[str, float]:
    """What one ended job adds to its hour's stats. A video delivered late, after its job had timed out (and been
    counted as a timeout then), adds only to ``late_delivered``: the job was counted when it first ended."""
    if job.late and job.status is JobStatus.SUCCEEDED:
        return {"late_delivered": 1}
    fields: dict[str, float] = {"jobs": 1, job.status.value: 1, "attempts_sum": job.attempts}
    fields["total_sum_s"] = round(job.elapsed_s(), 3)
    if job.error_code is not None and job.status is JobStatus.FAILED:
        fields[f"err:{job.error_code.value}"] = 1
    generation = job.generation_s()
    if generation is not None:
        fields["gen_count"] = 1
        fields["gen_sum_s"] = round(generation, 3)
        fields[f"gen_b{bucket_of(generation)}"] = 1
    if job.status is JobStatus.SUCCEEDED:
        cost = job.provider_cost
        if cost is None and price_of is not None:
            configured = price_of(job.model, job.options.duration_s, job.kind)
            cost = float(configured) if configured is not None else None
        if cost is not None:
            fields["cost_sum"] = cost
            fields["cost_count"] = 1
    if job.billing_state == "reserved" and job.cost > 0:
        # A delivery after a timeout (late) was refunded at the timeout and is never captured.
        moved = "credits_captured" if job.status is JobStatus.SUCCEEDED else "credits_refunded"
        fields[moved] = job.cost
    return fields


def bucket_of(seconds: float) -> int:
    """The index of the generation-time bucket ``seconds`` falls in."""
    for index, bound in enumerate(GENERATION_BUCKETS_S):
        if seconds <= bound:
            return index
    return len(GENERATION_BUCKETS_S)


@dataclass
class ModelStats:
    """One model's numbers over a range of hours (or all models', for the totals)."""

    model: str
    jobs: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    attempts_sum: float = 0.0
    total_sum_s: float = 0.0
    gen_count: int = 0
    gen_sum_s: float = 0.0
    gen_buckets: list[int] = field(default_factory=lambda: [0] * (len(GENERATION_BUCKETS_S) + 1))
    cost_sum: float = 0.0
    cost_count: int = 0
    credits_captured: float = 0.0
    credits_refunded: float = 0.0
    late_delivered: int = 0

    def add(self, raw: Mapping[str, str]) -> None:
        """Add one hour's hash (as Redis returns it)."""
        for name, value in raw.items():
            number = float(value)
            if name.startswith("err:"):
                self.errors[name[4:]] = self.errors.get(name[4:], 0) + round(number)
            elif name.startswith("gen_b"):
                self.gen_buckets[int(name[5:])] += round(number)
            elif name in _INT_FIELDS:
                setattr(self, name, getattr(self, name) + round(number))
            elif name in _FLOAT_FIELDS:
                setattr(self, name, getattr(self, name) + number)

    def merge(self, other: ModelStats) -> None:
        """Add another model's numbers (for the totals)."""
        for name in (*_INT_FIELDS, *_FLOAT_FIELDS):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for code, count in other.errors.items():
            self.errors[code] = self.errors.get(code, 0) + count
        self.gen_buckets = [a + b for a, b in zip(self.gen_buckets, other.gen_buckets, strict=True)]

    @property
    def success_rate(self) -> float | None:
        """Succeeded jobs over all that ended (None before any)."""
        return self.succeeded / self.jobs if self.jobs else None

    @property
    def attempts_mean(self) -> float | None:
        """Polls per job, on average."""
        return self.attempts_sum / self.jobs if self.jobs else None

    @property
    def cost_per_video(self) -> float | None:
        """The provider's cost per delivered video (its own credits, or the configured price where it says none)."""
        return self.cost_sum / self.cost_count if self.cost_count else None

    def generation_percentile(self, quantile: float) -> float | None:
        """The generation time under which ``quantile`` of the jobs finished (interpolated within a bucket)."""
        return percentile_from_buckets(self.gen_buckets, quantile)

    def as_json(self) -> dict[str, Any]:
        """The numbers ``reelay stats --json`` prints for one model."""
        return {
            "model": self.model,
            "jobs": self.jobs,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "success_rate": _rounded(self.success_rate, 4),
            "generation_p50_s": _rounded(self.generation_percentile(0.5), 1),
            "generation_p95_s": _rounded(self.generation_percentile(0.95), 1),
            "attempts_mean": _rounded(self.attempts_mean, 2),
            "errors": dict(sorted(self.errors.items())),
            "cost_per_video": _rounded(self.cost_per_video, 4),
            "credits_captured": self.credits_captured,
            "credits_refunded": self.credits_refunded,
            "late_delivered": self.late_delivered,
        }


_INT_FIELDS = ("jobs", "succeeded", "failed", "cancelled", "gen_count", "cost_count", "late_delivered")
_FLOAT_FIELDS = ("attempts_sum", "total_sum_s", "gen_sum_s", "cost_sum", "credits_captured", "credits_refunded")


def percentile_from_buckets(buckets: Sequence[int], quantile: float) -> float | None:
    """A quantile from bucket counts (bounds :data:`GENERATION_BUCKETS_S`), interpolated linearly in its bucket;
    the open last bucket answers its lower bound."""
    total = sum(buckets)
    if total == 0:
        return None
    rank = quantile * total
    seen = 0
    for index, count in enumerate(buckets):
        if count and seen + count >= rank:
            lower = GENERATION_BUCKETS_S[index - 1] if index > 0 else 0.0
            if index >= len(GENERATION_BUCKETS_S):
                return float(lower)
            upper = GENERATION_BUCKETS_S[index]
            return float(lower + (upper - lower) * max(0.0, rank - seen) / count)
        seen += count
    return float(GENERATION_BUCKETS_S[-1])


@dataclass(frozen=True)
class Summary:
    """Per model, and in total, over the hours from ``since`` (Unix time) to now."""

    since: float
    models: list[ModelStats]
    totals: ModelStats

    def as_json(self) -> dict[str, Any]:
        """The whole summary as ``reelay stats --json`` prints it."""
        return {
            "since": self.since,
            "models": [model.as_json() for model in self.models],
            "totals": self.totals.as_json(),
        }


class RedisAnalytics:
    """Records each ended job once into its model's hour, and sums hours back into a :class:`Summary`."""

    def __init__(
        self,
        redis: RedisClient,
        *,
        prefix: str = DEFAULT_PREFIX,
        retention_days: int = 90,
        price_of: PriceOf | None = None,
    ) -> None:
        require_text_responses(redis)
        if retention_days <= 0:
            raise ValueError("retention_days must be positive")
        self._redis = redis
        self._keys = RedisKeys(prefix)
        self._ttl_s = retention_days * 86400
        self._price_of = price_of
        self._record = redis.register_script(_RECORD)

    async def record(self, job: Job) -> bool:
        """Count an ended job in the hour it ended; True the first time, False when it was counted before."""
        if not job.status.terminal:
            raise ValueError(f"job {job.id} has not ended ({job.status.value})")
        hour = hour_of(job.updated_at)
        increments = job_increments(job, self._price_of)
        late = job.late and job.status is JobStatus.SUCCEEDED  # a second end of its own, counted once too
        args: list[str | int] = [f"{job.id}:late" if late else job.id, SEEN_TTL_S, self._ttl_s]
        for name, amount in increments.items():
            args += [name, repr(float(amount))]
        keys = [self._keys.stats(job.model, hour), self._keys.stats_seen(job.model, hour)]
        recorded = int(await self._record(keys=keys, args=args)) == 1
        if recorded:
            await self._redis.sadd(self._keys.stats_models(), job.model)  # its own slot; adding twice is harmless
        await self._redis.zrem(self._keys.ended_jobs(), job.id)
        return recorded

    async def sweep(self, jobs: JobStore, *, older_than_s: float = SWEEP_AFTER_S, limit: int = SWEEP_BATCH) -> int:
        """Record the ended jobs that nobody recorded (their process stopped first); how many were recorded."""
        cutoff = time.time() - older_than_s
        ids = text_list(await self._redis.zrangebyscore(self._keys.ended_jobs(), "-inf", cutoff, start=0, num=limit))
        recorded = 0
        for job_id in ids:
            try:
                job = await jobs.get(job_id)
            except JobNotFound:
                await self._redis.zrem(self._keys.ended_jobs(), job_id)  # expired before anyone looked
                continue
            if job.status.terminal:
                recorded += await self.record(job)
            else:
                await self._redis.zrem(self._keys.ended_jobs(), job_id)  # delivered late: it will end again
        if recorded:
            log.info("analytics.swept", recorded=recorded)
        return recorded

    async def summary(self, since: float, now: float | None = None) -> Summary:
        """Per model and in total, the jobs that ended in the hours from ``since`` to ``now``."""
        until = time.time() if now is None else now
        models = sorted(text_list(await self._redis.smembers(self._keys.stats_models())))
        hours = hours_between(since, until)
        async with self._redis.pipeline(transaction=False) as pipe:
            for model in models:
                for hour in hours:
                    pipe.hgetall(self._keys.stats(model, hour))
            replies: list[dict[str, str]] = await pipe.execute()
        per_model: list[ModelStats] = []
        for index, model in enumerate(models):
            stats = ModelStats(model)
            for raw in replies[index * len(hours) : (index + 1) * len(hours)]:
                stats.add(raw)
            if stats.jobs or stats.late_delivered:
                per_model.append(stats)
        return Summary(since=since, models=per_model, totals=total_of(per_model))


def total_of(models: Iterable[ModelStats]) -> ModelStats:
    """Every model's numbers added up."""
    totals = ModelStats("total")
    for stats in models:
        totals.merge(stats)
    return totals


def hours_between(since: float, until: float) -> list[int]:
    """Every UTC hour (:func:`storage.keys.hour_of`) from the one ``since`` falls in to the one ``until`` does."""
    hours: list[int] = []
    moment = since - since % 3600
    while moment <= until:
        hours.append(hour_of(moment))
        moment += 3600
    return hours


def _rounded(value: float | None, digits: int) -> float | None:
    return round(value, digits) if value is not None else None


class AnalyticsListener(NoEvents):
    """Hears jobs end (:class:`poller.events.JobEvents`) and records each in the analytics."""

    def __init__(self, analytics: RedisAnalytics) -> None:
        self._analytics = analytics

    async def job_ended(self, job: Job) -> None:
        """Count the job; a failure leaves it in the outbox for the next sweep."""
        await self._analytics.record(job)
