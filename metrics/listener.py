"""Prometheus as a listener of the core's events (:class:`poller.events.JobEvents`).

The per-poll reports are the engine's hot path (thousands a second): their labelled children are looked up once
and kept, so a poll costs a dict lookup and a few increments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from metrics.registry import Metrics
from poller.errors import JobError
from poller.events import CreditMove, JobSource, NoEvents, PollOutcome, ProviderOperation
from poller.jobs import Job, JobStatus, TaskKind

PriceOf = Callable[[str, int, TaskKind], int | None]  # model, duration, what the job made


class PrometheusListener(NoEvents):
    """Counts what the core reports into :class:`metrics.registry.Metrics` (the reports it does not count are
    :class:`NoEvents`' no-ops, which the fan-out skips)."""

    def __init__(self, metrics: Metrics, *, store: str, price_of: PriceOf | None = None) -> None:
        """``store``: the video store's label (``s3`` or ``local``); ``price_of``: the configured price of a
        video (model, seconds), counted as its cost when the provider reports none."""
        self._m = metrics
        self._hot = metrics.hot
        self._stored_bytes = metrics.delivery_bytes.labels(store=store)
        self._price_of = price_of
        self._children: dict[tuple[Any, ...], Any] = {}

    async def job_created(self, job: Job, source: JobSource) -> None:
        """Count the new job."""
        self._m.jobs_created.labels(model=job.model, source=source.value).inc()

    async def job_ended(self, job: Job) -> None:
        """Count the ended job and observe its times, attempts and cost."""
        m, model, status = self._m, job.model, job.status.value
        error = job.error_code.value if job.error_code is not None and job.status is JobStatus.FAILED else "none"
        m.jobs_finished.labels(model=model, status=status, error=error).inc()
        m.total_seconds.labels(model=model, status=status).observe(job.elapsed_s())
        m.poll_attempts.labels(model=model, status=status).observe(job.attempts)
        generation = job.generation_s()
        if generation is not None:
            m.generation_seconds.labels(model=model).observe(generation)
        if job.status is JobStatus.SUCCEEDED and not job.late:
            cost = job.provider_cost
            if cost is None and self._price_of is not None:
                price = self._price_of(model, job.options.duration_s, job.kind)
                cost = float(price) if price is not None else None
            if cost is not None:
                m.provider_cost_credits.labels(provider=job.provider, model=model).inc(cost)

    def provider_called(
        self, provider: str, operation: ProviderOperation, seconds: float, error: JobError | None
    ) -> None:
        """Observe the call's time; count its error."""
        self._hot.request(provider, operation, seconds)
        if error is not None:
            self._child("error", provider, error.code).inc()

    def polled(self, provider: str, outcome: PollOutcome, seconds: float, error: JobError | None) -> None:
        """Count the poll by outcome, observe its time, count its error."""
        self._hot.polled(provider, outcome, seconds)
        if error is not None:
            self._child("error", provider, error.code).inc()

    def step_started(self, lateness_s: float) -> None:
        """Observe how late the step started."""
        self._hot.lateness.observe(lateness_s)

    def video_stored(self, size_bytes: int) -> None:
        """Count the bytes stored."""
        self._stored_bytes.inc(size_bytes)

    def credits_moved(self, move: CreditMove, amount: int) -> None:
        """Count the credits moved."""
        self._child("credits", move).inc(amount)

    def _child(self, kind: str, *labels: str) -> Any:
        """The labelled child for ``kind`` and ``labels``, made once (``labels()`` costs a lock and a tuple)."""
        key = (kind, *labels)
        child = self._children.get(key)
        if child is None:
            m = self._m
            if kind == "error":
                child = m.provider_errors.labels(provider=labels[0], error=labels[1])
            else:
                child = m.credits.labels(operation=labels[0])
            self._children[key] = child
        return child


def telegram_request_counter(metrics: Metrics) -> Callable[[str, int | None], None]:
    """What the Bot API client calls after each request: its method and HTTP status (None: no answer)."""
    counted: dict[tuple[str, str], Any] = {}

    def count(method: str, status: int | None) -> None:
        outcome = "ok" if status == 200 else "retry_after" if status == 429 else "error"
        child = counted.get((method, outcome))
        if child is None:
            child = counted[method, outcome] = metrics.telegram_requests.labels(method=method, outcome=outcome)
        child.inc()

    return count
