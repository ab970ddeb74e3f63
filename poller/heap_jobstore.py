"""An APScheduler job store on a heap: O(log n) per add, update and due-job pass, whatever the count.

APScheduler's ``MemoryJobStore`` keeps a sorted list, so every add and every removal shifts it: at
90,000 held jobs (the 60 s default interval) and 1,500 polls/s that is a ~700 KB memmove per
operation, and the engine fell behind (lag p99 3.4 s, docs/performance.md) where the same poll rate
over 15,000 jobs was fine. Here a dict holds the jobs and a heap their run times; a removed or
rescheduled job leaves its old heap entry behind, skipped when it surfaces and swept out when the
heap grows to twice the live entries.

Per job the store adds no object the garbage collector tracks (the heap entries and sequence numbers
hold only floats, ints and strings): each tracked object held per job lengthens every full
collection, and those pauses were the engine's lag tail at 90,000 jobs (``poller/gc_policy.py``).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.job import Job
from apscheduler.jobstores.base import BaseJobStore, ConflictingIdError, JobLookupError

# A heap entry: (run timestamp, sequence number, job id). The sequence number tells a live entry
# from a stale one and orders jobs due at the same instant by when they were scheduled.
HeapEntry = tuple[float, int, str]
SWEEP_SLACK = 1024
_EPOCH = datetime.fromtimestamp(0, UTC)


class HeapJobStore(BaseJobStore):  # type: ignore[misc]  # APScheduler 3 ships no type hints
    """Jobs in RAM, ordered by a heap (no persistence: Redis is where Reelay keeps the truth)."""

    def __init__(self) -> None:
        super().__init__()
        self._jobs: dict[str, Job] = {}
        self._sequences: dict[str, int] = {}  # id -> sequence number of its live heap entry
        self._heap: list[HeapEntry] = []
        self._sequence = itertools.count()

    def lookup_job(self, job_id: str) -> Job | None:
        """The job with this id, or None."""
        return self._jobs.get(job_id)

    def get_due_jobs(self, now: datetime) -> list[Job]:
        """Jobs due at ``now``, earliest first (they stay stored: the scheduler updates or removes them)."""
        now_ts = now.timestamp()
        due: list[HeapEntry] = []
        while self._heap and self._heap[0][0] <= now_ts:
            entry = heapq.heappop(self._heap)
            if self._live(entry):
                due.append(entry)
        for entry in due:
            heapq.heappush(self._heap, entry)
        return [self._jobs[job_id] for _, _, job_id in due]

    def park_due(self, now_ts: float, parkable: Callable[[Job], bool]) -> list[Job]:
        """Take the parkable jobs due at ``now_ts`` (Unix time) out of the heap, paused (no next run
        time), and return them earliest first; other due jobs stay due for the scheduler's own pass."""
        parked: list[Job] = []
        others: list[HeapEntry] = []
        heap = self._heap
        while heap and heap[0][0] <= now_ts:
            entry = heapq.heappop(heap)
            if not self._live(entry):
                continue
            job = self._jobs[entry[2]]
            if parkable(job):
                job.next_run_time = None
                self._sequences[job.id] = next(self._sequence)
                parked.append(job)
            else:
                others.append(entry)
        for entry in others:
            heapq.heappush(heap, entry)
        return parked

    def next_run_timestamp(self) -> float | None:
        """When the earliest job is due, as Unix time (None when nothing is scheduled)."""
        while self._heap and not self._live(self._heap[0]):
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def get_next_run_time(self) -> datetime | None:
        """When the earliest job is due (None when nothing is scheduled)."""
        if self.next_run_timestamp() is None:
            return None
        next_run: datetime | None = self._jobs[self._heap[0][2]].next_run_time
        return next_run

    def get_all_jobs(self) -> list[Job]:
        """Every job, earliest first, paused ones (no next run) last."""
        return sorted(
            self._jobs.values(),
            key=lambda job: (job.next_run_time is None, job.next_run_time or _EPOCH, self._sequences[job.id]),
        )

    def add_job(self, job: Job) -> None:
        """Store a new job; ``ConflictingIdError`` if its id is taken."""
        if job.id in self._jobs:
            raise ConflictingIdError(job.id)
        self._put(job)

    def update_job(self, job: Job) -> None:
        """Replace a stored job (its run time may have changed); ``JobLookupError`` if unknown."""
        if job.id not in self._jobs:
            raise JobLookupError(job.id)
        self._put(job)

    def remove_job(self, job_id: str) -> None:
        """Forget a job; its heap entry is skipped later. ``JobLookupError`` if unknown."""
        if self._jobs.pop(job_id, None) is None:
            raise JobLookupError(job_id)
        del self._sequences[job_id]

    def remove_all_jobs(self) -> None:
        """Forget every job."""
        self._jobs.clear()
        self._sequences.clear()
        self._heap.clear()

    def shutdown(self) -> None:
        """Nothing to close; forget the jobs like ``MemoryJobStore`` does."""
        self.remove_all_jobs()

    def _put(self, job: Job) -> None:
        # datetime.timestamp(), not APScheduler's datetime_to_utc_timestamp (timegm over a time tuple): a
        # few times faster, and this runs on every poll. Jobs' times are always timezone-aware here.
        timestamp = None if job.next_run_time is None else job.next_run_time.timestamp()
        sequence = next(self._sequence)
        self._jobs[job.id] = job
        self._sequences[job.id] = sequence
        if timestamp is not None:  # a paused job has no run time and waits outside the heap
            heapq.heappush(self._heap, (timestamp, sequence, job.id))
        if len(self._heap) > 2 * len(self._jobs) + SWEEP_SLACK:
            self._sweep()

    def _live(self, entry: HeapEntry) -> bool:
        return self._sequences.get(entry[2]) == entry[1]

    def _sweep(self) -> None:
        self._heap = [entry for entry in self._heap if self._live(entry)]
        heapq.heapify(self._heap)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} ({len(self._jobs)} jobs)>"
