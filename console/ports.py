"""What the console reads, as small protocols of its own (the core's ports cover what it changes).

The composition root (``bot/app.py``) hands it the Redis stores, which fit these shapes; tests may hand it anything
that does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from poller.jobs import Job, JobStatus
from poller.ports import LiveProcess


class JobReads(Protocol):
    """Jobs by id, and how many are in each active state."""

    async def get(self, job_id: str) -> Job:
        """One job; raise :class:`poller.errors.JobNotFound`."""
        ...

    async def get_many(self, job_ids: Sequence[str]) -> list[Job]:
        """Several jobs in one round trip, in the given order; missing ones left out."""
        ...

    async def active_counts(self) -> dict[JobStatus, int]:
        """How many jobs are in each non-terminal status."""
        ...


class JobPage(Protocol):
    """One page of a listing."""

    @property
    def jobs(self) -> Sequence[Job]:
        """The jobs kept, newest first."""
        ...

    @property
    def scanned(self) -> int:
        """How many job ids were looked at."""
        ...

    @property
    def next_cursor(self) -> str | None:
        """Where the next, older page starts; None when nothing older is left."""
        ...

    @property
    def stopped_early(self) -> bool:
        """Whether the scan bound was reached before the page filled."""
        ...


class JobListing(Protocol):
    """Jobs newest first, filtered by a predicate over a bounded scan, and the jobs created since a position."""

    async def head(self) -> str:
        """The position after the newest job created so far."""
        ...

    async def newest(
        self,
        keep: Callable[[Job], bool],
        *,
        since: float | None = None,
        until: float | None = None,
        cursor: str | None = None,
        limit: int = 50,
        max_scan: int = 2000,
    ) -> JobPage:
        """Up to ``limit`` jobs created in ``[since, until)`` that ``keep`` accepts, from ``cursor``."""
        ...

    async def created_after(self, after: str) -> tuple[list[Job], str]:
        """The jobs created since position ``after`` (oldest first) and the position after them."""
        ...


class TaskLookup(Protocol):
    """Provider task -> the job that follows it."""

    async def job_for(self, provider: str, task_id: str) -> str | None:
        """The job bound to the task, or None."""
        ...


class CreditStates(Protocol):
    """Where a job's credits are in the ledger."""

    async def state(self, user_id: int, job_id: str) -> str | None:
        """``reserved``, ``captured`` or ``refunded``; None when the job never reserved any."""
        ...


class ModelStatsView(Protocol):
    """One model's numbers over the last hours (``storage.analytics.ModelStats``)."""

    model: str
    jobs: int
    succeeded: int
    failed: int
    cancelled: int
    errors: dict[str, int]
    credits_captured: float
    credits_refunded: float
    late_delivered: int

    @property
    def success_rate(self) -> float | None:
        """Succeeded over ended."""
        ...

    @property
    def attempts_mean(self) -> float | None:
        """Polls per job."""
        ...

    @property
    def cost_per_video(self) -> float | None:
        """The provider's cost per delivered video."""
        ...

    def generation_percentile(self, quantile: float) -> float | None:
        """Generation time under which ``quantile`` of the jobs finished."""
        ...


class SummaryView(Protocol):
    """Per model and in total (``storage.analytics.Summary``)."""

    @property
    def models(self) -> Sequence[ModelStatsView]:
        """One entry per model that had jobs."""
        ...

    @property
    def totals(self) -> ModelStatsView:
        """Every model added up."""
        ...


class AnalyticsReads(Protocol):
    """The per-model, per-hour analytics."""

    async def summary(self, since: float) -> SummaryView:
        """What the jobs that ended since ``since`` came to."""
        ...


class ProcessDirectory(Protocol):
    """The live processes, from their heartbeats."""

    async def processes(self) -> list[LiveProcess]:
        """Every process whose heartbeat has not lapsed, with what it reported."""
        ...


class SignInAttempts(Protocol):
    """Wrong sign-in tokens per client address, shared by every process."""

    async def locked(self, address: str) -> bool:
        """Whether the address used up its tries."""
        ...

    async def failed(self, address: str) -> int:
        """Count a wrong token; the count so far."""
        ...

    async def succeeded(self, address: str) -> None:
        """Forget the address's wrong tries."""
        ...


# The provider account's balance, or None when it cannot be read now.
BalanceReader = Callable[[], Awaitable[float | None]]
