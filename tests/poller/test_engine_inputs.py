"""The engine with photo inputs: prepared before the submit, the link on the submit and on the job; an unusable
photo fails the job with a refund and no submit; a fetch that fails for a moment is tried again."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from poller.engine import Engine
from poller.errors import ErrorCode, JobError
from poller.inputs import PhotoInputs, PresignedLinks
from poller.jobs import Job, JobOptions, JobStatus
from sandbox import images
from storage.redis_jobs import RedisJobStore
from tests.poller.fakes import (
    BytesDownloader,
    MemoryBlobStore,
    RecordingBilling,
    RecordingNotifier,
    ScriptedProvider,
    success,
)
from tests.poller.test_engine import build_engine, create_and_adopt

PHOTO = images.jpeg(1280, 720)


class Photos:
    """Serves PHOTO for every source, after failing with the scripted errors."""

    def __init__(self) -> None:
        self.errors: deque[JobError] = deque()
        self.fetches = 0

    async def fetch(self, source: str, max_bytes: int) -> bytes:
        self.fetches += 1
        if self.errors:
            raise self.errors.popleft()
        return PHOTO


@dataclass
class PhotoRig:
    engine: Engine
    jobs: RedisJobStore
    provider: ScriptedProvider
    photos: Photos
    blobs: MemoryBlobStore
    billing: RecordingBilling

    async def new_job(self) -> Job:
        return await create_and_adopt(self.engine, self.jobs, options=JobOptions(image_source="telegram:A"))

    async def wait_for(self, job_id: str, status: JobStatus) -> Job:
        for _ in range(500):
            job = await self.jobs.get(job_id)
            if job.status is status:
                return job
            await asyncio.sleep(0.01)
        raise AssertionError(f"job {job_id} never reached {status}")


@pytest.fixture
async def rig(fake_redis: aioredis.Redis) -> AsyncIterator[PhotoRig]:
    provider, photos, blobs, billing = ScriptedProvider(), Photos(), MemoryBlobStore(), RecordingBilling()
    provider.default = success()

    def inputs(jobs: RedisJobStore) -> PhotoInputs:
        return PhotoInputs(jobs=jobs, fetcher=photos, blobs=blobs, links=PresignedLinks(blobs, 60), max_bytes=10**7)

    engine, jobs, _ = build_engine(
        fake_redis, provider, RecordingNotifier(), BytesDownloader(), blobs, billing=billing, inputs=inputs
    )
    await engine.start()
    yield PhotoRig(engine, jobs, provider, photos, blobs, billing)
    await engine.stop()


async def test_the_submit_carries_the_stored_photos_link(rig: PhotoRig) -> None:
    job = await rig.new_job()
    await rig.wait_for(job.id, JobStatus.SUCCEEDED)

    [request] = rig.provider.submits
    link = f"https://blobs.example/inputs/{job.id}.jpg?expires=60"
    assert request.options.image_url == link
    assert rig.blobs.blobs[f"inputs/{job.id}.jpg"] == PHOTO
    assert (await rig.jobs.get(job.id)).options.image_url == link


async def test_an_unusable_photo_fails_the_job_refunded_and_unsubmitted(rig: PhotoRig) -> None:
    rig.photos.errors.append(JobError(ErrorCode.INVALID_INPUT, "photo: not a JPEG, PNG or WebP (PDF)"))
    job = await rig.new_job()
    failed = await rig.wait_for(job.id, JobStatus.FAILED)

    assert (failed.error_code, failed.error_raw) == (ErrorCode.INVALID_INPUT, "photo: not a JPEG, PNG or WebP (PDF)")
    assert rig.provider.submits == []
    assert rig.billing.refunded == [job.id]
    assert rig.photos.fetches == 1


async def test_a_fetch_that_fails_for_a_moment_is_tried_again(rig: PhotoRig) -> None:
    rig.photos.errors.append(JobError(ErrorCode.DOWNLOAD_FAILED, "photo from Telegram: ServerDisconnectedError"))
    job = await rig.new_job()
    await rig.wait_for(job.id, JobStatus.SUCCEEDED)

    assert rig.photos.fetches == 2
    assert len(rig.provider.submits) == 1
