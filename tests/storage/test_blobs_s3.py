"""S3BlobStore against moto's S3 server on 127.0.0.1: real aioboto3 HTTP, real multipart uploads."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from poller.errors import ErrorCode, JobError
from storage.blobs_s3 import MIB, S3BlobStore
from tests.fixtures.s3_server import S3Server

pytestmark = pytest.mark.integration


def make_store(server: S3Server, bucket: str, **changes: Any) -> S3BlobStore:
    options: dict[str, Any] = {
        "bucket": bucket,
        "prefix": "videos",
        "region": server.region,
        "endpoint_url": server.endpoint_url,
        "access_key_id": server.access_key_id,
        "secret_access_key": server.secret_access_key,
        "part_size": 5 * MIB,
    }
    options.update(changes)
    return S3BlobStore(**options)


@pytest.fixture
async def store(s3_server: S3Server, s3_bucket: str) -> AsyncIterator[S3BlobStore]:
    async with make_store(s3_server, s3_bucket) as opened:
        yield opened


def pattern(size: int, seed: int = 0) -> bytes:
    """Deterministic, non-repeating bytes (a misplaced part changes the content)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest() * 128
        counter += 1
    return bytes(out[:size])


async def stream(data: bytes, chunk_size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), chunk_size):
        yield data[start : start + chunk_size]


def stored(server: S3Server, bucket: str, key: str) -> tuple[bytes, dict[str, Any]]:
    """The object's content and its HEAD metadata, fetched with boto3."""
    client = server.client()
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body, client.head_object(Bucket=bucket, Key=key)


def open_uploads(server: S3Server, bucket: str) -> list[Any]:
    return list(server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []))


async def test_small_object_is_stored_with_one_put(store: S3BlobStore, s3_server: S3Server, s3_bucket: str) -> None:
    data = pattern(300_000)

    blob = await store.put_stream("a/small.mp4", stream(data, 64 * 1024), "video/mp4")

    assert (blob.key, blob.size_bytes) == ("a/small.mp4", len(data))
    body, head = stored(s3_server, s3_bucket, "videos/a/small.mp4")
    assert body == data
    assert head["ContentType"] == "video/mp4"
    assert "-" not in head["ETag"]  # multipart ETags end in -<parts>


async def test_empty_stream_stores_an_empty_object(store: S3BlobStore, s3_server: S3Server, s3_bucket: str) -> None:
    blob = await store.put_stream("empty.mp4", stream(b"", 1), "video/mp4")
    assert blob.size_bytes == 0
    assert stored(s3_server, s3_bucket, "videos/empty.mp4")[0] == b""


@pytest.mark.parametrize(
    ("size", "chunk_size", "parts"),
    [
        (20 * MIB, 1 * MIB, 4),  # the whole parts
        (11 * MIB + 5, 777_777, 3),  # chunks straddle part boundaries, short last part
        (10 * MIB, 3 * MIB, 2),  # ends exactly on a boundary: no empty last part
        (6 * MIB, 6 * MIB, 2),  # one chunk bigger than a part
    ],
)
async def test_large_stream_is_uploaded_in_parts_with_exact_content(
    store: S3BlobStore, s3_server: S3Server, s3_bucket: str, size: int, chunk_size: int, parts: int
) -> None:
    data = pattern(size, seed=size)

    blob = await store.put_stream("big.mp4", stream(data, chunk_size), "video/mp4")

    assert blob.size_bytes == size
    body, head = stored(s3_server, s3_bucket, "videos/big.mp4")
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(data).hexdigest()
    assert head["ETag"].strip('"').endswith(f"-{parts}")
    assert head["ContentType"] == "video/mp4"
    assert open_uploads(s3_server, s3_bucket) == []


async def test_store_never_holds_more_than_one_part_of_the_stream(
    store: S3BlobStore, s3_server: S3Server, s3_bucket: str
) -> None:
    """Flat memory, observed from outside: whenever the stream hands over a chunk, what was read
    but is not yet on S3 is at most one part plus one chunk, however long the stream."""
    client = s3_server.client()
    chunk_size, backlog = MIB, []

    def bytes_on_s3() -> int:
        uploads = client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", [])
        if not uploads:
            return 0
        upload = uploads[0]
        parts = client.list_parts(Bucket=s3_bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        return sum(part["Size"] for part in parts.get("Parts", []))

    async def forty_mib() -> AsyncIterator[bytes]:
        for index in range(40):
            backlog.append(index * chunk_size - bytes_on_s3())
            yield pattern(chunk_size, seed=index)

    await store.put_stream("flat.mp4", forty_mib(), "video/mp4")

    assert max(backlog) <= 5 * MIB + chunk_size
    assert bytes_on_s3() == 0  # completed: no upload left open


async def test_failing_stream_aborts_the_multipart_upload(
    store: S3BlobStore, s3_server: S3Server, s3_bucket: str
) -> None:
    async def breaks_after_two_parts() -> AsyncIterator[bytes]:
        for _ in range(12):
            yield pattern(MIB)
        raise OSError("connection reset by peer")

    with pytest.raises(JobError) as failed:
        await store.put_stream("broken.mp4", breaks_after_two_parts(), "video/mp4")

    assert failed.value.code is ErrorCode.UPLOAD_FAILED
    assert "connection reset" in failed.value.raw
    assert open_uploads(s3_server, s3_bucket) == []
    assert s3_server.client().list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0


async def test_download_error_passes_through_unchanged_and_aborts(
    store: S3BlobStore, s3_server: S3Server, s3_bucket: str
) -> None:
    too_big = JobError(ErrorCode.DOWNLOAD_FAILED, "video larger than limits.max_video_bytes")

    async def oversized() -> AsyncIterator[bytes]:
        yield pattern(6 * MIB)
        raise too_big

    with pytest.raises(JobError) as failed:
        await store.put_stream("oversized.mp4", oversized(), "video/mp4")

    assert failed.value is too_big
    assert open_uploads(s3_server, s3_bucket) == []


async def test_s3_errors_become_upload_failed(s3_server: S3Server) -> None:
    async with make_store(s3_server, "no-such-bucket-here") as store:
        with pytest.raises(JobError) as failed:
            await store.put_stream("x.mp4", stream(b"data", 2), "video/mp4")
    assert failed.value.code is ErrorCode.UPLOAD_FAILED
    assert "NoSuchBucket" in failed.value.raw


async def test_presigned_url_downloads_the_object_until_it_expires(store: S3BlobStore) -> None:
    data = pattern(10_000)
    await store.put_stream("clip.mp4", stream(data, 4096), "video/mp4")

    url = await store.url_for("clip.mp4", expires_s=120)

    assert "X-Amz-Expires=120" in url
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
    assert response.status_code == 200
    assert response.content == data


async def test_public_base_url_gives_plain_links(s3_server: S3Server, s3_bucket: str) -> None:
    async with make_store(s3_server, s3_bucket, public_base_url="https://cdn.example/") as store:
        assert await store.url_for("a b.mp4", 60) == "https://cdn.example/videos/a%20b.mp4"


async def test_delete_removes_the_object_and_ignores_missing_ones(
    store: S3BlobStore, s3_server: S3Server, s3_bucket: str
) -> None:
    await store.put_stream("gone.mp4", stream(b"x", 1), "video/mp4")

    await store.delete("gone.mp4")
    await store.delete("gone.mp4")

    assert s3_server.client().list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0


async def test_ensure_bucket_creates_a_missing_bucket_once(s3_server: S3Server) -> None:
    async with make_store(s3_server, "reelay-ensure-bucket", prefix="") as store:
        await store.ensure_bucket()
        await store.ensure_bucket()
        await store.put_stream("top.mp4", stream(b"abc", 3), "video/mp4")
    assert stored(s3_server, "reelay-ensure-bucket", "top.mp4")[0] == b"abc"


async def test_store_must_be_started_before_use(s3_server: S3Server, s3_bucket: str) -> None:
    store = make_store(s3_server, s3_bucket)
    with pytest.raises(RuntimeError, match="start"):
        await store.url_for("x", 60)


def test_parts_smaller_than_s3_allows_are_refused(s3_server: S3Server) -> None:
    with pytest.raises(ValueError, match="part_size"):
        make_store(s3_server, "b", part_size=MIB)
