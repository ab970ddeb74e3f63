"""Jobs newest first, for operators: read from the per-hour lists of created jobs, filtered in Python, bounded.

Each job's id is pushed, when it is created, onto the list of its UTC creation hour (``reelay:jobs:hour:<hour>``,
``storage.keys``), which lives as long as finished jobs do. A listing walks those lists from the newest hour back,
each from its end, loads the jobs in pipelined reads and keeps those the caller's predicate accepts. A request looks
at no more than ``max_scan`` ids: when a rare filter meets many jobs the page says the scan stopped early and hands
back a cursor to scan further, rather than reading every job in Redis.

A *position* names a place in the lists: an hour and how many of its entries lie before the place
(``"2025013112.40"``). Lists only grow at their end and expire whole, so a position stays valid: a cursor (where an
older page starts) and a head (where the newest entry was, for :meth:`RedisJobListing.created_after`) are both
positions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from poller.jobs import Job
from storage.keys import DEFAULT_PREFIX, RedisKeys, hour_of, hour_start
from storage.redis_jobs import RedisJobStore
from storage.redis_support import RedisClient, require_text_responses, text_list

CHUNK = 200  # ids read and jobs loaded per round trip
HOURS_PER_ROUND = 168  # list lengths read per round trip (a week)
NEW_JOBS_PER_CALL = 200
STALE_HEAD_HOURS = 48  # a head older than this is not caught up on: the listing starts again from now


@dataclass(frozen=True, slots=True)
class ListedJobs:
    """One page of a listing: the jobs kept, how many ids were looked at, and where to go on."""

    jobs: list[Job]
    scanned: int
    next_cursor: str | None  # where the next, older page starts; None when the time range is exhausted
    stopped_early: bool  # the scan bound was reached before the page filled


def position(hour: int, index: int) -> str:
    """A place in the hour lists: ``index`` entries of ``hour``'s list lie before it."""
    return f"{hour}.{index}"


def parse_position(text: str) -> tuple[int, int] | None:
    """The hour and index of a :func:`position`, or None when ``text`` is not one."""
    hour_text, dot, index_text = text.partition(".")
    if not dot or len(hour_text) != 10 or not hour_text.isdigit() or not index_text.isdigit():
        return None
    hour, index = int(hour_text), int(index_text)
    try:
        hour_start(hour)
    except (ValueError, OverflowError):
        return None
    return (hour, index) if hour_of(hour_start(hour)) == hour else None


def _hour_before(hour: int) -> int:
    return hour_of(hour_start(hour) - 3600)


def _hour_after(hour: int) -> int:
    return hour_of(hour_start(hour) + 3600)


class RedisJobListing:
    """Newest-first listings over the per-hour lists, and the jobs created since a position."""

    def __init__(
        self, redis: RedisClient, jobs: RedisJobStore, *, prefix: str = DEFAULT_PREFIX, horizon_s: float = 30 * 86400
    ) -> None:
        require_text_responses(redis)
        if horizon_s <= 0:
            raise ValueError("horizon_s must be positive")
        self._redis = redis
        self._jobs = jobs
        self._keys = RedisKeys(prefix)
        self._horizon_s = horizon_s  # how far back jobs can still exist (redis.job_ttl_s)

    async def head(self, now: float | None = None) -> str:
        """The position after the newest job created so far."""
        hour = hour_of(time.time() if now is None else now)
        length: int = await self._redis.llen(self._keys.jobs_created_in(hour))
        return position(hour, length)

    async def newest(
        self,
        keep: Callable[[Job], bool],
        *,
        since: float | None = None,
        until: float | None = None,
        cursor: str | None = None,
        limit: int = 50,
        max_scan: int = 2000,
    ) -> ListedJobs:
        """Up to ``limit`` jobs created in ``[since, until)`` that ``keep`` accepts, newest first, from ``cursor``
        (None: the newest); at most ``max_scan`` ids are looked at."""
        if limit <= 0 or max_scan <= 0:
            raise ValueError("limit and max_scan must be positive")
        now = time.time()
        top = hour_of(min(until, now) if until is not None else now)
        bottom = hour_of(max(since, now - self._horizon_s) if since is not None else now - self._horizon_s)
        start = parse_position(cursor) if cursor else None
        if start is not None and start[0] > top:
            start = None
        scan = _Scan(keep, since, until, limit, max_scan)
        hour, index = start if start is not None else (top, None)
        while hour >= bottom:
            hours = [hour]
            while len(hours) < HOURS_PER_ROUND and hours[-1] > bottom:
                hours.append(_hour_before(hours[-1]))
            lengths = await self._lengths(hours)
            for each, length in zip(hours, lengths, strict=True):
                end = min(length, index) if each == hour and index is not None else length
                stop = await self._scan_hour(scan, each, end)
                if stop is not None:
                    return scan.page(position(each, stop))
            hour, index = _hour_before(hours[-1]), None
        return scan.page(None)

    async def _lengths(self, hours: Sequence[int]) -> list[int]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for hour in hours:
                pipe.llen(self._keys.jobs_created_in(hour))
            lengths: list[int] = await pipe.execute()
        return lengths

    async def _scan_hour(self, scan: _Scan, hour: int, end: int) -> int | None:
        """Scan one hour's list backwards from ``end``; the index to go on from when the page is done, else None."""
        key = self._keys.jobs_created_in(hour)
        while end > 0:
            if scan.exhausted:
                scan.stopped_early = True
                return end
            take = min(CHUNK, end, scan.room)
            ids = text_list(await self._redis.lrange(key, end - take, end - 1))
            ids.reverse()  # newest first
            loaded = {job.id: job for job in await self._jobs.get_many(ids)}
            for offset, job_id in enumerate(ids, start=1):
                if scan.look_at(loaded.get(job_id)):
                    return end - offset
            end -= take
        return None

    async def created_after(self, after: str, now: float | None = None) -> tuple[list[Job], str]:
        """The jobs created since position ``after``, oldest first (at most :data:`NEW_JOBS_PER_CALL`), and the
        position after the last one read. A head too old to catch up on starts again from the newest."""
        at = time.time() if now is None else now
        current = hour_of(at)
        parsed = parse_position(after)
        stale = parsed is None or hour_start(current) - hour_start(parsed[0]) > STALE_HEAD_HOURS * 3600
        if parsed is None or stale or parsed[0] > current:
            return [], await self.head(at)
        hour, index = parsed
        ids: list[str] = []
        while True:
            budget = NEW_JOBS_PER_CALL - len(ids)
            got = text_list(await self._redis.lrange(self._keys.jobs_created_in(hour), index, index + budget - 1))
            ids += got
            index += len(got)
            if len(got) == budget or hour >= current:
                break
            hour, index = _hour_after(hour), 0
        jobs = await self._jobs.get_many(ids)
        return jobs, position(hour, index)


class _Scan:
    """What one listing request has found and looked at so far."""

    def __init__(
        self, keep: Callable[[Job], bool], since: float | None, until: float | None, limit: int, max_scan: int
    ) -> None:
        self._keep = keep
        self._since = since
        self._until = until
        self._limit = limit
        self._max_scan = max_scan
        self.found: list[Job] = []
        self.scanned = 0
        self.stopped_early = False

    @property
    def room(self) -> int:
        """Ids this request may still look at."""
        return self._max_scan - self.scanned

    @property
    def exhausted(self) -> bool:
        """Whether the scan bound is reached."""
        return self.scanned >= self._max_scan

    def look_at(self, job: Job | None) -> bool:
        """Count one id (``job`` None: it expired) and keep the job if it matches; True once the page is full."""
        self.scanned += 1
        if job is not None and self._in_range(job) and self._keep(job):
            self.found.append(job)
        return len(self.found) >= self._limit

    def _in_range(self, job: Job) -> bool:
        if self._since is not None and job.created_at < self._since:
            return False
        return self._until is None or job.created_at < self._until

    def page(self, next_cursor: str | None) -> ListedJobs:
        """The page as found."""
        return ListedJobs(self.found, self.scanned, next_cursor, self.stopped_early)
