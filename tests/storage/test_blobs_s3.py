"""S3BlobStore against moto's S3 server on 127.0.0.1: real aioboto3 HTTP, real multipart uploads."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from aiobotocore.client import AioBaseClient
from aiobotocore.endpoint import AioEndpoint
from starlette.requests import Request

from poller.errors import ErrorCode, JobError
from sandbox.fault_proxy import FaultProxy, create_app
from sandbox.serve import ThreadedServer
from storage.blobs_s3 import MAX_PART_SIZE, MIB, S3BlobStore, part_size_for
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


class UploadPartSpy:
    """Wraps every aiobotocore client's API calls: counts UploadPart calls in flight, records the
    order parts finish in, and holds part 1 back until ``hold_first_for`` other parts finished."""

    def __init__(self, hold_first_for: int = 0) -> None:
        self.in_flight = 0
        self.most_in_flight = 0
        self.finished: list[int] = []
        self._hold_first_for = hold_first_for
        self._others_done = asyncio.Event()
        if hold_first_for == 0:
            self._others_done.set()

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        original = AioBaseClient._make_api_call

        async def make_api_call(client: AioBaseClient, operation: str, params: dict[str, Any]) -> Any:
            if operation != "UploadPart":
                return await original(client, operation, params)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                if params["PartNumber"] == 1:
                    await self._others_done.wait()
                return await original(client, operation, params)
            finally:
                self.in_flight -= 1
                self.finished.append(params["PartNumber"])
                if len(self.finished) >= self._hold_first_for:
                    self._others_done.set()

        monkeypatch.setattr(AioBaseClient, "_make_api_call", make_api_call)


@pytest.fixture
def s3_proxy(s3_server: S3Server) -> Iterator[tuple[FaultProxy, str]]:
    """A fault-injecting proxy in front of moto, and its URL."""
    proxy = FaultProxy(s3_server.endpoint_url)
    with ThreadedServer(create_app(proxy)) as server:
        yield proxy, server.url


def upload_part(number: int) -> Any:
    """A fault-proxy matcher for UploadPart of part ``number``."""

    def matches(request: Request) -> bool:
        return request.method == "PUT" and request.query_params.get("partNumber") == str(number)

    return matches


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


async def test_multipart_objects_carry_a_composite_crc32_checked_part_by_part(
    store: S3BlobStore, s3_server: S3Server, s3_bucket: str
) -> None:
    # As boto3's transfer manager does: without a named algorithm, an S3 may fall back to a whole-object
    # CRC64NVME computed at completion (moto does, in pure Python, which doubled its CPU per byte).
    # The object's checksum is then the CRC32 of its parts' CRC32s.
    data = pattern(12 * MIB, seed=7)

    await store.put_stream("crc.mp4", stream(data, MIB), "video/mp4")

    head = s3_server.client().head_object(Bucket=s3_bucket, Key="videos/crc.mp4", ChecksumMode="ENABLED")
    part_crcs = b"".join(zlib.crc32(data[at : at + 5 * MIB]).to_bytes(4, "big") for at in range(0, len(data), 5 * MIB))
    assert head["ChecksumCRC32"] == base64.b64encode(zlib.crc32(part_crcs).to_bytes(4, "big")).decode()


async def test_parts_are_checked_by_their_crc32_not_hashed_into_the_signature(
    monkeypatch: pytest.MonkeyPatch, s3_server: S3Server, s3_bucket: str
) -> None:
    # moto is plain http, where botocore would otherwise put each part's SHA-256 in the signature.
    headers: list[tuple[str, str]] = []
    original = AioEndpoint._send

    async def record(endpoint: AioEndpoint, request: Any) -> Any:
        if request.method == "PUT" and "partNumber=" in request.url:
            found = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
            headers.append((found["x-amz-content-sha256"], found["x-amz-checksum-crc32"]))
        return await original(endpoint, request)

    monkeypatch.setattr(AioEndpoint, "_send", record)
    data = pattern(11 * MIB, seed=4)
    async with make_store(s3_server, s3_bucket) as store:
        await store.put_stream("unsigned.mp4", stream(data, MIB), "video/mp4")

    assert stored(s3_server, s3_bucket, "videos/unsigned.mp4")[0] == data
    parts = [data[at : at + 5 * MIB] for at in range(0, len(data), 5 * MIB)]
    crcs = [base64.b64encode(zlib.crc32(part).to_bytes(4, "big")).decode() for part in parts]
    assert sorted(headers, key=lambda sent: crcs.index(sent[1])) == [("UNSIGNED-PAYLOAD", crc) for crc in crcs]


@pytest.mark.parametrize("parts_in_flight", [1, 3])
async def test_store_never_holds_more_than_parts_in_flight_parts_of_the_stream(
    s3_server: S3Server, s3_bucket: str, parts_in_flight: int
) -> None:
    """Flat memory, observed from outside: whenever the stream hands over a chunk, what was read
    but is not yet on S3 is at most ``parts_in_flight`` parts plus one chunk, however long the stream."""
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

    async with make_store(s3_server, s3_bucket, parts_in_flight=parts_in_flight) as store:
        await store.put_stream("flat.mp4", forty_mib(), "video/mp4")

    assert max(backlog) <= parts_in_flight * 5 * MIB + chunk_size
    assert bytes_on_s3() == 0  # completed: no upload left open


async def test_parts_go_up_concurrently_up_to_the_bound_and_are_assembled_in_order(
    s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = UploadPartSpy(hold_first_for=2)  # part 1 finishes only after two later parts
    spy.install(monkeypatch)
    data = pattern(16 * 5 * MIB + 123, seed=7)

    async with make_store(s3_server, s3_bucket, parts_in_flight=3) as store:
        blob = await store.put_stream("ordered.mp4", stream(data, 700_001), "video/mp4")

    assert spy.most_in_flight == 3
    assert spy.finished.index(1) >= 2  # part 1 finished after two later parts
    assert sorted(spy.finished) == list(range(1, 18))
    body, head = stored(s3_server, s3_bucket, "videos/ordered.mp4")
    assert blob.size_bytes == len(data)
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(data).hexdigest()
    assert head["ETag"].strip('"').endswith("-17")


async def test_parts_go_up_one_at_a_time_when_parts_in_flight_is_one(
    s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = UploadPartSpy()
    spy.install(monkeypatch)
    data = pattern(4 * 5 * MIB, seed=1)

    async with make_store(s3_server, s3_bucket, parts_in_flight=1) as store:
        await store.put_stream("serial.mp4", stream(data, MIB), "video/mp4")

    assert spy.most_in_flight == 1
    assert spy.finished == [1, 2, 3, 4]
    assert stored(s3_server, s3_bucket, "videos/serial.mp4")[0] == data


async def test_a_failed_part_aborts_the_upload_while_other_parts_are_in_flight(
    s3_server: S3Server, s3_bucket: str, s3_proxy: tuple[FaultProxy, str]
) -> None:
    proxy, proxy_url = s3_proxy
    proxy.inject(403, match=upload_part(2))  # AccessDenied: not retried

    async with make_store(s3_server, s3_bucket, endpoint_url=proxy_url, parts_in_flight=3) as store:
        with pytest.raises(JobError) as failed:
            await store.put_stream("part-fails.mp4", stream(pattern(30 * MIB), MIB), "video/mp4")

    assert failed.value.code is ErrorCode.UPLOAD_FAILED
    assert "AccessDenied" in failed.value.raw
    assert open_uploads(s3_server, s3_bucket) == []
    assert s3_server.client().list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0
    methods = [seen.method for seen in proxy.requests]
    assert methods.count("POST") == 1  # CreateMultipartUpload only: never completed
    assert "DELETE" in methods  # AbortMultipartUpload


async def test_a_part_retried_after_a_server_error_is_sent_whole_again(
    s3_server: S3Server, s3_bucket: str, s3_proxy: tuple[FaultProxy, str]
) -> None:
    proxy, proxy_url = s3_proxy
    proxy.inject(500, match=upload_part(2))  # botocore retries it: the part body must rewind
    data = pattern(17 * MIB, seed=3)

    async with make_store(s3_server, s3_bucket, endpoint_url=proxy_url, parts_in_flight=3) as store:
        await store.put_stream("retried.mp4", stream(data, MIB), "video/mp4")

    assert stored(s3_server, s3_bucket, "videos/retried.mp4")[0] == data
    assert [seen.status for seen in proxy.requests if seen.method == "PUT"].count(500) == 1


async def test_cancelled_upload_is_aborted(s3_server: S3Server, s3_bucket: str) -> None:
    stalled = asyncio.Event()

    async def stalls_after_three_parts() -> AsyncIterator[bytes]:
        for index in range(16):
            yield pattern(MIB, seed=index)
        stalled.set()
        await asyncio.Event().wait()  # a download that hangs: only cancellation ends it
        yield b""

    async with make_store(s3_server, s3_bucket, parts_in_flight=2) as store:
        upload = asyncio.create_task(store.put_stream("cancelled.mp4", stalls_after_three_parts(), "video/mp4"))
        await stalled.wait()
        assert len(open_uploads(s3_server, s3_bucket)) == 1
        upload.cancel()
        with pytest.raises(asyncio.CancelledError):
            await upload

    assert open_uploads(s3_server, s3_bucket) == []
    assert s3_server.client().list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0


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


def test_parts_smaller_or_larger_than_s3_allows_are_refused(s3_server: S3Server) -> None:
    with pytest.raises(ValueError, match="part_size"):
        make_store(s3_server, "b", part_size=MIB)
    with pytest.raises(ValueError, match="part_size"):
        make_store(s3_server, "b", part_size=MAX_PART_SIZE + 1)


def test_at_least_one_part_must_be_in_flight(s3_server: S3Server) -> None:
    with pytest.raises(ValueError, match="parts_in_flight"):
        make_store(s3_server, "b", parts_in_flight=0)


def test_part_size_grows_so_ten_thousand_parts_hold_s3s_largest_object() -> None:
    base = 8 * MIB
    sizes = [part_size_for(number, base) for number in range(1, 10_001)]

    assert sizes[0] == sizes[999] == base  # every video up to 8 GB: the configured size
    assert sizes[1000] == 2 * base
    assert sizes == sorted(sizes)
    assert sum(sizes) >= 5 * 1024**4  # S3's largest object, within S3's 10,000 parts
    assert part_size_for(10_000, 512 * MIB) == MAX_PART_SIZE  # never above S3's largest part
