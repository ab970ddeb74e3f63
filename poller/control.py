"""Commands on a job from outside the engine (the bot's /cancel and Cancel button)."""

from __future__ import annotations

import structlog

from poller.errors import ErrorCode
from poller.finish import JobFinisher
from poller.jobs import Job, JobStatus
from poller.ports import EventBus, JobStore

log = structlog.get_logger(__name__)


async def cancel_job(job_id: str, *, jobs: JobStore, finisher: JobFinisher, events: EventBus) -> Job:
    """Cancel an active job; raise :class:`InvalidTransition` when it can no longer be cancelled.

    Whatever process holds the job sees ``cancelled`` at its next step and drops it; the notice makes
    that immediate instead of waiting for the next poll.
    """
    job = await jobs.transition(job_id, JobStatus.CANCELLED, fields={"error_code": ErrorCode.CANCELLED.value})
    log.info("job.cancelled", job_id=job_id)
    await finisher.ended(job)
    await events.publish("poke", job_id)
    return job
