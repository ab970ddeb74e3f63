"""The input preparer: a job's photos fetched, checked on their bytes, stored under inputs/<job id>.<ext> and linked
for the provider (a presigned link here; KIE's upload in tests/providers/test_kie_upload.py)."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from poller.errors import ErrorCode, JobError
from poller.images import ImageType
from poller.inputs import PhotoInputs, PresignedLinks, input_key
from poller.jobs import Job, JobOptions, new_job_id
from poller.ports import Session
from sandbox import images
from storage.redis_jobs import RedisJobStore
from tests.poller.fakes import MemoryBlobStore

MB = 1024 * 1024


class Files:
    """Photos by source; counts fetches."""

    def __init__(self, **by_source: bytes) -> None:
        self.by_source = by_source
        self.fetches: list[str] = []

    async def fetch(self, source: str, max_bytes: int) -> bytes:
        self.fetches.append(source)
        return self.by_source[source]


async def stored_job(jobs: RedisJobStore, options: JobOptions) -> Job:
    job = Job(id=new_job_id(), user_id=7, chat_id=7, model="veo3_fast", prompt="p", options=options)
    await jobs.create(job, Session(chat_id=7, user_id=7))
    return job


@pytest.fixture
def jobs(fake_redis: aioredis.Redis) -> RedisJobStore:
    return RedisJobStore(fake_redis)


def preparer(jobs: RedisJobStore, files: Files, blobs: MemoryBlobStore, max_bytes: int = MB) -> PhotoInputs:
    return PhotoInputs(jobs=jobs, fetcher=files, blobs=blobs, links=PresignedLinks(blobs, 3600), max_bytes=max_bytes)


async def test_photos_are_stored_under_the_job_id_and_linked_on_the_stored_job(jobs: RedisJobStore) -> None:
    first, last = images.jpeg(1280, 720), images.png(1280, 720)
    files, blobs = Files(**{"telegram:A": first, "telegram:B": last}), MemoryBlobStore()
    job = await stored_job(jobs, JobOptions(image_source="telegram:A", last_image_source="telegram:B"))

    prepared = await preparer(jobs, files, blobs).prepare(job)

    assert blobs.blobs == {f"inputs/{job.id}.jpg": first, f"inputs/{job.id}-last.png": last}
    assert prepared.options.image_url == f"https://blobs.example/inputs/{job.id}.jpg?expires=3600"
    assert prepared.options.last_image_url == f"https://blobs.example/inputs/{job.id}-last.png?expires=3600"
    assert (await jobs.get(job.id)).options == prepared.options  # a restart finds the links recorded


async def test_a_prepared_job_is_not_fetched_again(jobs: RedisJobStore) -> None:
    files, blobs = Files(**{"telegram:A": images.webp(640, 640)}), MemoryBlobStore()
    job = await stored_job(jobs, JobOptions(image_source="telegram:A"))
    inputs = preparer(jobs, files, blobs)

    prepared = await inputs.prepare(job)
    again = await inputs.prepare(prepared)

    assert again == prepared
    assert files.fetches == ["telegram:A"]
    assert blobs.writes == 1


@pytest.mark.parametrize(
    ("data", "words"),
    [(images.pdf(), "PDF"), (images.png(320, 200), "200"), (images.jpeg(800, 800)[:22], "cannot be read")],
)
async def test_a_file_that_is_no_usable_photo_fails_for_good_and_is_not_stored(
    jobs: RedisJobStore, data: bytes, words: str
) -> None:
    files, blobs = Files(**{"telegram:A": data}), MemoryBlobStore()
    job = await stored_job(jobs, JobOptions(image_source="telegram:A"))

    with pytest.raises(JobError) as raised:
        await preparer(jobs, files, blobs).prepare(job)

    assert raised.value.code is ErrorCode.INVALID_INPUT
    assert not raised.value.retryable
    assert raised.value.raw.startswith("photo:")
    assert words in raised.value.raw
    assert blobs.blobs == {}


async def test_the_size_limit_holds_on_the_bytes(jobs: RedisJobStore) -> None:
    photo = images.png(1000, 1000)
    job = await stored_job(jobs, JobOptions(image_source="telegram:A"))
    with pytest.raises(JobError, match="over the"):
        await preparer(jobs, Files(**{"telegram:A": photo}), MemoryBlobStore(), max_bytes=len(photo) - 1).prepare(job)


def test_input_keys() -> None:
    assert input_key("abc", last=False, kind=ImageType.JPEG) == "inputs/abc.jpg"
    assert input_key("abc", last=True, kind=ImageType.WEBP) == "inputs/abc-last.webp"
