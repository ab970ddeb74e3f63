"""The webhooks' listener on the core's reports (``poller.events.JobEvents``): a job created or ended becomes
job events in the outbox, and a finished video a Discord/Slack notice. The engine knows nothing of webhooks.

The job JSON and a job's callback come from the caller (the API defines both), so this module holds no view of a
job. Each moment is stored once per job and target (``once_key``: the job id), however many times it is reported.
Moments the core does not report yet (``job.running``, ``job.published``) are published by whoever sees them, with
:meth:`WebhookPublisher.job_event`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from poller.events import JobSource, NoEvents
from poller.jobs import Job, JobStatus
from webhooks.formats import NoticeKind
from webhooks.publisher import Callback, WebhookPublisher

_ENDED = {JobStatus.SUCCEEDED: "job.succeeded", JobStatus.FAILED: "job.failed", JobStatus.CANCELLED: "job.cancelled"}


def _no_callback(job: Job) -> Callback | None:
    return None


class WebhookListener(NoEvents):
    """Stores ``job.created`` and ``job.succeeded`` / ``job.failed`` / ``job.cancelled`` for every target, and the
    "video ready" notice (the per-poll reports are :class:`NoEvents`' no-ops, so the engine's hot path skips it)."""

    def __init__(
        self,
        publisher: WebhookPublisher,
        job_json: Callable[[Job], dict[str, Any]],
        callback_of: Callable[[Job], Callback | None] = _no_callback,
    ) -> None:
        self._publisher = publisher
        self._job_json = job_json
        self._callback_of = callback_of

    async def job_created(self, job: Job, source: JobSource) -> None:
        """``job.created``."""
        await self._publisher.job_event("job.created", self._job_json(job), self._callback_of(job), once_key=job.id)

    async def job_ended(self, job: Job) -> None:
        """The terminal event, and the chat notice when a video was made."""
        event_type = _ENDED.get(job.status)
        if event_type is None:
            return
        data = self._job_json(job)
        await self._publisher.job_event(event_type, data, self._callback_of(job), once_key=job.id)
        if job.status is JobStatus.SUCCEEDED and (data.get("video") or {}).get("url"):
            await self._publisher.video_notice(NoticeKind.READY, data, once_key=job.id)
