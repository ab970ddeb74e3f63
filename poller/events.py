"""What happens to jobs, reported by the core to whoever listens: Prometheus, the analytics store, webhooks.

The core calls a :class:`JobEvents` at the moments that matter (a job created, its task accepted by the provider, a
provider called, a poll answered, a step started late, a video stored, credits moved, a job ended, a video
published) and knows nothing of what listens. The per-poll reports are plain calls (the engine's hot path: a
listener must only count); the once-per-job ones are awaited, so a listener may write to Redis (webhooks store
their events then). :class:`Listeners` fans out to several and keeps a failing listener from ever failing the job.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Any, Protocol

import structlog

from poller.errors import JobError
from poller.jobs import Job

log = structlog.get_logger(__name__)


class JobSource(StrEnum):
    """Which entry point created a job."""

    TELEGRAM = "telegram"
    API = "api"
    POLL_VIDEO = "poll_video"


class PollOutcome(StrEnum):
    """What one status poll learned."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TRANSIENT_ERROR = "transient_error"


class ProviderOperation(StrEnum):
    """The calls Reelay makes to a provider."""

    SUBMIT = "submit"
    POLL = "poll"
    EXTEND = "extend"
    UPSCALE = "upscale"
    CANCEL = "cancel"
    DOWNLOAD = "download"


class CreditMove(StrEnum):
    """How a job's credits moved."""

    RESERVED = "reserved"
    CAPTURED = "captured"
    REFUNDED = "refunded"


class JobEvents(Protocol):
    """A listener to what happens to jobs. Plain calls must be cheap and never raise."""

    async def job_created(self, job: Job, source: JobSource) -> None:
        """A job was stored (once per job)."""
        ...

    async def job_running(self, job: Job) -> None:
        """The provider accepted the job's task: the job is ``running`` (once per job)."""
        ...

    async def job_ended(self, job: Job) -> None:
        """A job reached ``succeeded``, ``failed`` or ``cancelled`` here (``job`` as stored by that change)."""
        ...

    async def job_published(self, job: Job) -> None:
        """The job's video was published (the Publish button; once per job)."""
        ...

    def provider_called(
        self, provider: str, operation: ProviderOperation, seconds: float, error: JobError | None
    ) -> None:
        """A call to a provider finished (``error``: its normalized failure)."""
        ...

    def polled(self, provider: str, outcome: PollOutcome, seconds: float, error: JobError | None) -> None:
        """A status poll finished: what it learned, how long the call took."""
        ...

    def step_started(self, lateness_s: float) -> None:
        """A job's step started ``lateness_s`` after the time planned for it."""
        ...

    def video_stored(self, size_bytes: int) -> None:
        """A finished video was written to the blob store."""
        ...

    def credits_moved(self, move: CreditMove, amount: int) -> None:
        """A job's credits were reserved, captured or refunded (each once per job)."""
        ...


class NoEvents:
    """Nobody listens."""

    async def job_created(self, job: Job, source: JobSource) -> None:
        """Nothing."""

    async def job_running(self, job: Job) -> None:
        """Nothing."""

    async def job_ended(self, job: Job) -> None:
        """Nothing."""

    async def job_published(self, job: Job) -> None:
        """Nothing."""

    def provider_called(
        self, provider: str, operation: ProviderOperation, seconds: float, error: JobError | None
    ) -> None:
        """Nothing."""

    def polled(self, provider: str, outcome: PollOutcome, seconds: float, error: JobError | None) -> None:
        """Nothing."""

    def step_started(self, lateness_s: float) -> None:
        """Nothing."""

    def video_stored(self, size_bytes: int) -> None:
        """Nothing."""

    def credits_moved(self, move: CreditMove, amount: int) -> None:
        """Nothing."""


class Listeners:
    """Several listeners as one. A listener that raises is logged and skipped: a report never fails a job.

    Every report but ``job_created`` and ``job_ended`` goes only to the listeners that do something with it (not
    those that keep :class:`NoEvents`' empty methods): a poll should not pay for a call that does nothing, and a
    listener written before a report existed need not know of it.
    """

    def __init__(self, listeners: Iterable[JobEvents] = ()) -> None:
        self._listeners = tuple(listeners)
        self._job_running = _hearing(self._listeners, "job_running")
        self._job_published = _hearing(self._listeners, "job_published")
        self._provider_called = _hearing(self._listeners, "provider_called")
        self._polled = _hearing(self._listeners, "polled")
        self._step_started = _hearing(self._listeners, "step_started")
        self._video_stored = _hearing(self._listeners, "video_stored")
        self._credits_moved = _hearing(self._listeners, "credits_moved")

    def __iter__(self) -> Iterator[JobEvents]:
        return iter(self._listeners)

    async def job_created(self, job: Job, source: JobSource) -> None:
        """Tell every listener, in order."""
        for listener in self._listeners:
            try:
                await listener.job_created(job, source)
            except Exception as exc:
                log.error("events.listener_failed", report="job_created", job_id=job.id, error=type(exc).__name__)

    async def job_running(self, job: Job) -> None:
        """Tell every listener that hears it, in order."""
        await _tell(self._job_running, "job_running", job)

    async def job_ended(self, job: Job) -> None:
        """Tell every listener, in order."""
        for listener in self._listeners:
            try:
                await listener.job_ended(job)
            except Exception as exc:
                log.error("events.listener_failed", report="job_ended", job_id=job.id, error=type(exc).__name__)

    async def job_published(self, job: Job) -> None:
        """Tell every listener that hears it, in order."""
        await _tell(self._job_published, "job_published", job)

    def provider_called(
        self, provider: str, operation: ProviderOperation, seconds: float, error: JobError | None
    ) -> None:
        """Tell every listener that counts provider calls."""
        for provider_called in self._provider_called:
            provider_called(provider, operation, seconds, error)

    def polled(self, provider: str, outcome: PollOutcome, seconds: float, error: JobError | None) -> None:
        """Tell every listener that counts polls."""
        for polled in self._polled:
            polled(provider, outcome, seconds, error)

    def step_started(self, lateness_s: float) -> None:
        """Tell every listener that counts lateness."""
        for step_started in self._step_started:
            step_started(lateness_s)

    def video_stored(self, size_bytes: int) -> None:
        """Tell every listener that counts stored videos."""
        for video_stored in self._video_stored:
            video_stored(size_bytes)

    def credits_moved(self, move: CreditMove, amount: int) -> None:
        """Tell every listener that counts credits."""
        for credits_moved in self._credits_moved:
            credits_moved(move, amount)


async def _tell(hearing: tuple[Any, ...], event: str, job: Job) -> None:
    for report in hearing:
        try:
            await report(job)
        except Exception as exc:
            log.error("events.listener_failed", report=event, job_id=job.id, error=type(exc).__name__)


def _hearing(listeners: tuple[JobEvents, ...], method: str) -> tuple[Any, ...]:
    """The bound ``method`` of each listener whose class does more with it than :class:`NoEvents` does."""
    empty = getattr(NoEvents, method)
    return tuple(
        getattr(listener, method)
        for listener in listeners
        if getattr(type(listener), method, empty) is not empty  # absent: a listener older than the report
    )
