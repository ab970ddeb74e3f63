"""The delivery pipeline: stream the finished video down, store it, probe it, and send it once.

One download feeds both the blob store (multipart upload) and a temporary file (for probing and for the
chat upload), so memory stays flat however large the video is. A download in which the probe finds no video
stream is not a video, whatever it was labelled: it is never sent, its stored copy is deleted, and the job fails.
The ``send`` side effect is claimed in Redis before it happens, so a retry or a second process can never send the
same video twice.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import BinaryIO

import structlog

from poller.errors import ErrorCode, InvalidTransition, JobError
from poller.events import CreditMove, JobEvents, NoEvents, ProviderOperation
from poller.finish import log_completion
from poller.jobs import COST_CONFIGURED, Job, JobStatus, VideoOutput
from poller.ports import (
    Billing,
    BlobStore,
    JobStore,
    LocalVideo,
    MediaProbe,
    Notifier,
    PriceList,
    Session,
    SessionStore,
    VideoDownloader,
)

log = structlog.get_logger(__name__)

SEND_EFFECT = "send"


class DeliveryPipeline:
    """Turns a job in ``delivering`` into a video in the user's chat and a ``succeeded`` job."""

    def __init__(
        self,
        *,
        jobs: JobStore,
        sessions: SessionStore,
        downloader: VideoDownloader,
        blobs: BlobStore,
        probe: MediaProbe,
        notifier: Notifier,
        billing: Billing,
        key_prefix: str = "videos/",
        link_ttl_s: int = 7 * 86400,
        temp_dir: Path | None = None,
        events: JobEvents | None = None,
        prices: PriceList | None = None,
    ) -> None:
        self._jobs = jobs
        self._sessions = sessions
        self._downloader = downloader
        self._blobs = blobs
        self._probe = probe
        self._notifier = notifier
        self._billing = billing
        self._key_prefix = key_prefix
        self._link_ttl_s = link_ttl_s
        self._temp_dir = temp_dir
        self._events: JobEvents = events or NoEvents()
        self._prices = prices  # what a video costs when its provider does not say (credits.prices)

    async def deliver(self, job: Job) -> Job:
        """Run the remaining delivery steps of ``job``; raise :class:`JobError` for a retry."""
        if job.result_url is None:
            raise JobError(ErrorCode.DOWNLOAD_FAILED, "no result URL recorded")
        session = await self._sessions.get(job.id) or Session(chat_id=job.chat_id, user_id=job.user_id)
        if job.delivered_ref is None:
            with tempfile.TemporaryDirectory(prefix="reelay-", dir=self._temp_dir) as tmp:
                path = Path(tmp) / f"{job.id}.mp4"
                output = await self._fetch(job, path)
                job = job.replace(output=output)
                ref = await self._send_once(job, session, LocalVideo(path=path, output=output))
                job = job.replace(delivered_ref=ref)
        # Captured once the video is in the chat and before the job is marked done, so a crash in between
        # is repaired by the next attempt (capture is idempotent). Never charged twice: a late delivery
        # after a timeout finds the credits already refunded and charges nothing.
        if await self._billing.capture(job):
            self._events.credits_moved(CreditMove.CAPTURED, job.cost)
        job = await self._jobs.transition(
            job.id,
            JobStatus.SUCCEEDED,
            expected=frozenset({JobStatus.DELIVERING}),
            fields={"delivered_ref": job.delivered_ref or "", **self._configured_cost(job)},
        )
        await self._sessions.delete(job.id)
        log_completion(job)
        await self._events.job_ended(job)
        return job

    def _configured_cost(self, job: Job) -> dict[str, str]:
        """The operator's price as the job's cost when the provider reported none, so analytics and metrics read
        one recorded figure per video (a report arriving later, a 4K callback, replaces it)."""
        if job.provider_cost is not None or self._prices is None:
            return {}
        price = self._prices.price(job.model, job.options.duration_s, job.kind)
        if price is None:
            return {}
        return {"provider_cost": repr(float(price)), "cost_source": COST_CONFIGURED}

    async def _fetch(self, job: Job, path: Path) -> VideoOutput:
        """Download to ``path``; upload to the blob store too unless an earlier attempt already did."""
        assert job.result_url is not None
        key = f"{self._key_prefix}{job.id}.mp4"
        started = time.perf_counter()
        try:
            size = await self._download(job, job.result_url, key, path)
        except JobError as exc:
            # An upload that failed is the store's fault, not the provider's: reported without an error.
            error = exc if exc.code is ErrorCode.DOWNLOAD_FAILED else None
            self._events.provider_called(job.provider, ProviderOperation.DOWNLOAD, time.perf_counter() - started, error)
            raise
        self._events.provider_called(job.provider, ProviderOperation.DOWNLOAD, time.perf_counter() - started, None)
        info = await self._probe.probe(path)
        if not info.has_video:
            await self._discard(key)
            # Permanent: another attempt would download the same bytes.
            raise JobError(ErrorCode.DOWNLOAD_FAILED, f"no video stream in the {size}-byte download", permanent=True)
        url = await self._blobs.url_for(key, self._link_ttl_s)
        output = VideoOutput(
            storage_key=key,
            url=url,
            size_bytes=size,
            duration_s=info.duration_s,
            width=info.width,
            height=info.height,
        )
        await self._jobs.update_fields(job.id, output.to_fields())
        log.info("job.stored", key=key, size_bytes=size, duration_s=info.duration_s)
        return output

    async def _discard(self, key: str) -> None:
        """Delete a stored download that is not a video; a failure only leaves an object nobody links to."""
        log.warning("delivery.not_a_video", key=key)
        try:
            await self._blobs.delete(key)
        except JobError as exc:
            log.error("delivery.discard_failed", key=key, error=exc.raw)

    async def _download(self, job: Job, url: str, key: str, path: Path) -> int:
        """Stream the video to ``path`` and, unless an earlier attempt stored it, to the blob store; its size."""
        with path.open("wb") as file:
            async with self._downloader.open(url) as chunks:
                teed = _tee_to_file(chunks, file)
                if job.output is not None:
                    size = 0
                    async for chunk in teed:
                        size += len(chunk)
                    return size
                stored = await self._blobs.put_stream(key, teed, "video/mp4")
        self._events.video_stored(stored.size_bytes)
        return stored.size_bytes

    async def _send_once(self, job: Job, session: Session, video: LocalVideo) -> str:
        if await self._jobs.claimed(job.id, SEND_EFFECT):
            # An earlier attempt committed to the send and never recorded its result (the process died
            # mid-request, or the request timed out). The video may be in the chat already: send the
            # link, never the video a second time.
            log.error("delivery.outcome_unknown_sending_link")
            ref = await self._notifier.deliver(job, session, video, link_only=True)
        else:

            async def commit() -> bool:
                return await self._jobs.claim(job.id, SEND_EFFECT)

            try:
                ref = await self._notifier.deliver(job, session, video, commit=commit)
            except JobError as exc:
                if not exc.outcome_unknown:
                    await self._jobs.release(job.id, SEND_EFFECT)  # certainly not sent: a retry may send
                raise
        if ref is None:
            # Another process won the send at the last moment; it records the result and finishes.
            raise InvalidTransition(job.id, "delivering", "send claimed by another process")
        await self._jobs.update_fields(job.id, {"delivered_ref": ref})
        return ref


async def _tee_to_file(chunks: AsyncIterable[bytes], file: BinaryIO) -> AsyncIterator[bytes]:
    """Pass chunks through while writing each to ``file`` (off the event loop)."""
    async for chunk in chunks:
        await asyncio.to_thread(file.write, chunk)
        yield chunk
