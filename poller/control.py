"""Commands on a job from outside the engine: the bot's /cancel and Cancel button, and the operator console's
cancel, re-run delivery and refund."""

from __future__ import annotations

import structlog

from poller.errors import ErrorCode, JobError, ReelayError
from poller.finish import JobFinisher
from poller.jobs import Job, JobStatus
from poller.ports import CancelOutcome, EventBus, JobStore, ProviderLookup, TaskRef
from poller.worker import NEW_JOB, POKE

log = structlog.get_logger(__name__)

# Failures of our own delivery steps: the provider made the video, so delivering it again needs no new task.
DELIVERY_ERRORS = frozenset({ErrorCode.DOWNLOAD_FAILED, ErrorCode.UPLOAD_FAILED, ErrorCode.DELIVERY_FAILED})


class RerunRefused(ReelayError):
    """A job whose delivery cannot be run again; ``reason`` says why, for the operator."""

    def __init__(self, job_id: str, reason: str) -> None:
        super().__init__(f"job {job_id}: {reason}")
        self.job_id = job_id
        self.reason = reason


class AlreadyFinished(ReelayError):
    """A cancel came too late: the provider had finished the video, so it is delivered instead."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id}: the provider already finished it")
        self.job_id = job_id


async def cancel_job(
    job_id: str,
    *,
    jobs: JobStore,
    finisher: JobFinisher,
    events: EventBus,
    providers: ProviderLookup | None = None,
) -> Job:
    """Cancel an active job; raise :class:`InvalidTransition` when it can no longer be cancelled.

    With ``providers``, a task the job follows is stopped at its provider first (fal; KIE cannot stop tasks). When
    the provider says it already finished, the job is not cancelled: its holder is told to poll now, which delivers
    it, and :class:`AlreadyFinished` is raised. Whatever process holds a cancelled job sees ``cancelled`` at its next
    step and drops it; the notice makes that immediate instead of waiting for the next poll.
    """
    stopped = await _stop_at_provider(await jobs.get(job_id), providers) if providers is not None else None
    if stopped is CancelOutcome.ALREADY_DONE:
        await events.publish(POKE, job_id)
        log.info("job.cancel_too_late", job_id=job_id)
        raise AlreadyFinished(job_id)
    job = await jobs.transition(job_id, JobStatus.CANCELLED, fields={"error_code": ErrorCode.CANCELLED.value})
    log.info("job.cancelled", job_id=job_id)
    await finisher.ended(job)
    await events.publish(POKE, job_id)
    return job


async def _stop_at_provider(job: Job, providers: ProviderLookup) -> CancelOutcome:
    """Ask the job's provider to stop its task; a failure to ask leaves the task running, unseen (as KIE's do)."""
    if job.provider_task_id is None or job.status not in (JobStatus.RUNNING, JobStatus.DELAYED):
        return CancelOutcome.NOT_SUPPORTED
    try:
        outcome = await providers.for_model(job.model).cancel(TaskRef.of(job))
    except JobError as exc:
        log.warning("job.provider_cancel_failed", job_id=job.id, task_id=job.provider_task_id, error=exc.code)
        return CancelOutcome.NOT_SUPPORTED
    log.info("job.provider_cancel", job_id=job.id, task_id=job.provider_task_id, outcome=outcome.value)
    return outcome


def can_rerun_delivery(job: Job) -> bool:
    """Whether :func:`rerun_delivery` would take ``job``: it failed in our delivery, after the provider made it."""
    return job.status is JobStatus.FAILED and job.error_code in DELIVERY_ERRORS and bool(job.result_url)


async def rerun_delivery(job_id: str, *, jobs: JobStore, events: EventBus) -> Job:
    """Deliver again a job that failed with ``download_failed``, ``upload_failed`` or ``delivery_failed``.

    The job moves back to ``delivering`` with its delivery attempts reset and no holder, and is announced so that a
    poller adopts it at once (the adoption scan finds it otherwise). The refund given at the failure stands: the
    delivery's capture finds the credits refunded and charges nothing. The job is marked late, as a video delivered
    after its job ended: the analytics counted it when it failed. The ``send`` claim is kept, so a send whose
    outcome was unknown becomes a link, never a second video. Raise :class:`RerunRefused` for any other job and
    :class:`InvalidTransition` when another actor moved it first.
    """
    job = await jobs.get(job_id)
    if not can_rerun_delivery(job):
        raise RerunRefused(job_id, _why_not_rerun(job))
    job = await jobs.transition(
        job_id,
        JobStatus.DELIVERING,
        expected=frozenset({JobStatus.FAILED}),
        fields={"delivery_attempts": "0", "owner": "", "late": "1"},
    )
    log.info("job.delivery_rerun", job_id=job_id, error=job.error_code)
    await events.publish(NEW_JOB, job_id)
    return job


def _why_not_rerun(job: Job) -> str:
    if job.status is not JobStatus.FAILED:
        return f"only a failed job's delivery can be run again; this one is {job.status.value}"
    if job.error_code not in DELIVERY_ERRORS:
        code = job.error_code.value if job.error_code else "no error code"
        return f"it failed before delivery ({code}): there is no video to deliver"
    return "the provider's video link was never recorded"


async def refund_credits(job_id: str, *, jobs: JobStore, finisher: JobFinisher) -> bool:
    """Give a job's credits back (once, never after they were captured); False when there was nothing to refund.

    A job refunded while it runs is never charged: its capture finds the credits refunded."""
    job = await jobs.get(job_id)
    refunded = await finisher.refund(job)
    log.info("job.refunded_by_operator", job_id=job_id, refunded=refunded)
    return refunded


__all__ = [
    "DELIVERY_ERRORS",
    "AlreadyFinished",
    "RerunRefused",
    "can_rerun_delivery",
    "cancel_job",
    "refund_credits",
    "rerun_delivery",
]
