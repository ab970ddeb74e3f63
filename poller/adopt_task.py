"""Adopting a provider task started elsewhere (the original workflow's ``/webhook/poll-video`` contract).

The task becomes a job like any other (polled, delivered, kept with a TTL) that is never charged: it was
started, and paid for, elsewhere. The same task handed over twice, even at the same instant, is one job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from poller.errors import InvalidTransition, JobNotFound
from poller.events import JobEvents, JobSource, NoEvents
from poller.jobs import Job, JobStatus, new_job_id
from poller.ports import EventBus, JobStore, Session, TaskBindings
from poller.worker import NEW_JOB

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ExternalTask:
    """A provider task someone else started: whose provider, which model, and the chat to deliver to.
    ``attempts`` is how many polls the caller says it has spent already; ``callback_url``, where the job's events
    are also sent (checked by the caller)."""

    provider: str
    model: str
    task_id: str
    chat_id: int
    attempts: int = 0
    callback_url: str | None = None


async def adopt_task(
    task: ExternalTask,
    *,
    jobs: JobStore,
    events: EventBus,
    tasks: TaskBindings,
    new_id: Callable[[], str] = new_job_id,
    clock: Callable[[], float] = time.time,
    listeners: JobEvents | None = None,
) -> Job:
    """The job that follows ``task``: the one already bound to it, or a new running job, announced."""
    job_id = await tasks.bind(task.provider, task.task_id, new_id())
    existing = await _find(jobs, job_id)
    if existing is not None:
        return existing  # the same task posted again: one job, polled once
    now = clock()
    job = Job(
        id=job_id,
        user_id=task.chat_id,
        chat_id=task.chat_id,
        model=task.model,
        prompt="",
        provider=task.provider,
        provider_task_id=task.task_id,
        status=JobStatus.RUNNING,
        attempts=task.attempts,
        created_at=now,
        updated_at=now,
        transitions={JobStatus.RUNNING.value: now},
        next_poll_at=now,
        billing_state="external",  # started and paid for elsewhere
        callback_url=task.callback_url,
    )
    try:
        await jobs.create(job, Session(chat_id=task.chat_id, user_id=task.chat_id))
    except InvalidTransition:
        # The same task posted twice at the same instant: both bound it to this id, the other stored it first.
        return await jobs.get(job_id)
    listening = listeners or NoEvents()
    await listening.job_created(job, JobSource.POLL_VIDEO)
    await listening.job_running(job)  # the task runs at its provider already
    await events.publish(NEW_JOB, job.id)
    log.info("job.adopted_external", job_id=job.id, task_id=task.task_id, model=task.model, chat_id=task.chat_id)
    return job


async def _find(jobs: JobStore, job_id: str) -> Job | None:
    try:
        return await jobs.get(job_id)
    except JobNotFound:
        return None
