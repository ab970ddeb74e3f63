"""The webhooks' listener on the core's reports (``poller.events.JobEvents``): a job created, running, ended or
published becomes job events in the outbox, and a finished or published video a Discord/Slack notice. The engine
knows nothing of webhooks.

The job JSON and a job's callback come from the caller (the API defines both), so this module holds no view of a
job. Each moment is stored once per job and target (``once_key``: the job id), however many times it is reported.
A moment nobody is to hear of (no endpoint asks for it, the job has no callback) costs no Redis call.
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


def job_callback(job: Job) -> Callback | None:
    """A job's ``callback_url``, signed with its API key's secret, or for a poll-video job (no key) with
    ``webhooks.poll_video_secret``."""
    if not job.callback_url:
        return None
    if job.api_key:
        return Callback.for_api_key(job.callback_url, job.api_key)
    return Callback.for_poll_video(job.callback_url)


class WebhookListener(NoEvents):
    """Stores ``job.created``, ``job.running``, ``job.succeeded`` / ``job.failed`` / ``job.cancelled`` and
    ``job.published`` for every target, and the "video ready" and "video published" notices (the per-poll reports
    are :class:`NoEvents`' no-ops, so the engine's hot path skips it)."""

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
        await self._event("job.created", job)

    async def job_running(self, job: Job) -> None:
        """``job.running``: the provider accepted the task."""
        await self._event("job.running", job)

    async def job_ended(self, job: Job) -> None:
        """The terminal event, and the chat notice when a video was made."""
        event_type = _ENDED.get(job.status)
        if event_type is not None:
            await self._event(event_type, job, NoticeKind.READY if job.status is JobStatus.SUCCEEDED else None)

    async def job_published(self, job: Job) -> None:
        """``job.published``, and the "video published" notice."""
        await self._event("job.published", job, NoticeKind.PUBLISHED)

    async def _event(self, event_type: str, job: Job, notice: NoticeKind | None = None) -> None:
        callback = self._callback_of(job)
        wants_notice = notice is not None and self._publisher.notifies
        if callback is None and not wants_notice and not self._publisher.wants(event_type):
            return  # nobody to tell: no view built, no Redis call
        data = self._job_json(job)
        await self._publisher.job_event(event_type, data, callback, once_key=job.id)
        if notice is not None and wants_notice and (data.get("video") or {}).get("url"):
            await self._publisher.video_notice(notice, data, once_key=job.id)
