"""Image-to-video inputs: a job's photos fetched, checked, stored under ``inputs/<job id>.<ext>`` and handed to the
provider as a URL it can fetch, before the submit (the engine's :class:`~poller.ports.InputPreparer`).

The job keeps where each photo comes from (``image_source``: a Telegram file, an integrator's URL) until the URL is
recorded on it (``image_url``), so a restart before the submit prepares it again and still submits it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

import structlog

from poller.errors import ErrorCode, JobError
from poller.images import ImageType, check_bytes, problem_summary
from poller.jobs import Job
from poller.ports import BlobStore, JobStore

log = structlog.get_logger(__name__)


class PhotoFetcher(Protocol):
    """Reads a photo from where the user left it (``telegram:<file id>``, an https URL)."""

    async def fetch(self, source: str, max_bytes: int) -> bytes:
        """The file's bytes, at most ``max_bytes``; :class:`JobError` otherwise (``INVALID_INPUT`` for a file that
        can never be read, a retryable code for a failure that may pass)."""
        ...


class InputLinks(Protocol):
    """Makes a stored photo fetchable by the provider: a presigned link, or the provider's own upload."""

    async def link_for(self, key: str, data: bytes, kind: ImageType) -> str:
        """A URL the provider can fetch the photo (stored under ``key``) from."""
        ...


def input_key(job_id: str, *, last: bool, kind: ImageType) -> str:
    """Where a job's photo is stored: ``inputs/<job id>.<ext>`` (the last frame: ``inputs/<job id>-last.<ext>``)."""
    return f"inputs/{job_id}{'-last' if last else ''}.{kind.extension}"


class PhotoInputs:
    """Implements :class:`~poller.ports.InputPreparer`: fetch, check again on the bytes, store, link, record."""

    def __init__(
        self, *, jobs: JobStore, fetcher: PhotoFetcher, blobs: BlobStore, links: InputLinks, max_bytes: int
    ) -> None:
        self._jobs, self._fetcher, self._blobs, self._links = jobs, fetcher, blobs, links
        self._max_bytes = max_bytes

    async def prepare(self, job: Job) -> Job:
        """Record a provider-fetchable URL for each photo the job has a source but no URL for; return the job."""
        options = job.options
        fields: dict[str, str] = {}
        if options.image_source and not options.image_url:
            fields["image_url"] = await self._publish(job, options.image_source, last=False)
        if options.last_image_source and not options.last_image_url:
            fields["last_image_url"] = await self._publish(job, options.last_image_source, last=True)
        if not fields:
            return job
        await self._jobs.update_fields(job.id, fields)
        return job.replace(options=options.replace(**fields))

    async def _publish(self, job: Job, source: str, *, last: bool) -> str:
        data = await self._fetcher.fetch(source, self._max_bytes)
        kind, problem = check_bytes(data, self._max_bytes)
        if problem is not None:
            summary = problem_summary(problem)
            log.warning("inputs.refused", job_id=job.id, problem=summary)
            raise JobError(ErrorCode.INVALID_INPUT, summary, request_sent=False)
        key = input_key(job.id, last=last, kind=kind)
        await self._blobs.put_stream(key, _once(data), kind.content_type)
        url = await self._links.link_for(key, data, kind)
        log.info("inputs.stored", job_id=job.id, key=key, size_bytes=len(data), last_frame=last)
        return url


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


class PresignedLinks:
    """Hands the provider a time-limited link to the blob store (``storage.input_link_ttl_s``)."""

    def __init__(self, blobs: BlobStore, ttl_s: int) -> None:
        self._blobs, self._ttl_s = blobs, ttl_s

    async def link_for(self, key: str, data: bytes, kind: ImageType) -> str:
        """The store's presigned GET link for ``key``."""
        return await self._blobs.url_for(key, self._ttl_s)
