"""The blob store on S3 (or any S3-compatible endpoint) through aioboto3.

``put_stream`` turns a stream of chunks into a multipart upload that sends a few parts at once and
holds only those in memory, so a 1 GB video costs the same memory as a 50 MB one.
"""

from __future__ import annotations

import asyncio
import io
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import quote

import aioboto3
import structlog
from aiobotocore.config import AioConfig
from botocore.exceptions import BotoCoreError, ClientError

from poller.errors import ErrorCode, JobError
from poller.ports import StoredBlob

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Mapping

    from types_aiobotocore_s3 import S3Client

log = structlog.get_logger(__name__)

MIB = 1024 * 1024
MIN_PART_SIZE = 5 * MIB  # S3 refuses smaller parts, except the last
MAX_PART_SIZE = 5 * 1024 * MIB  # S3's largest part
MAX_PARTS = 10_000  # S3's limit per multipart upload
PART_SIZE_DOUBLES_EVERY = 1_000  # parts; see part_size_for
DEFAULT_PARTS_IN_FLIGHT = 4
CHECKSUM: Final = "CRC32"  # what boto3's transfer manager uses for multipart uploads


class S3BlobStore:
    """Videos in an S3 bucket under a key prefix; links are presigned GETs (or a public base URL).

    One aioboto3 client is opened by :meth:`start` (or ``async with``) and reused by every call.
    An upload holds at most ``parts_in_flight`` parts of ``part_size`` in memory (those being sent
    and the one being filled), plus one chunk of the stream. ``proxies`` is botocore's setting
    (``{"http": url, "https": url}``; ``{}``: direct; None: botocore reads the proxy variables itself).
    """

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str,
        region: str,
        endpoint_url: str | None,
        access_key_id: str | None,
        secret_access_key: str | None,
        part_size: int = 8 * MIB,
        parts_in_flight: int = DEFAULT_PARTS_IN_FLIGHT,
        public_base_url: str | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> None:
        if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise ValueError(f"part_size must be {MIN_PART_SIZE}..{MAX_PART_SIZE} bytes (S3's part limits)")
        if parts_in_flight < 1:
            raise ValueError("parts_in_flight must be at least 1")
        self._parts_in_flight = parts_in_flight
        self._bucket = bucket
        self._prefix = prefix.strip("/")
        self._part_size = part_size
        self._public_base_url = public_base_url.rstrip("/") if public_base_url else None
        # None leaves credentials to the default chain (environment, instance role…).
        self._session = aioboto3.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=region,
        )
        self._endpoint_url = endpoint_url
        self._proxies = dict(proxies) if proxies is not None else None
        self._stack: AsyncExitStack | None = None
        self._client: S3Client | None = None

    async def start(self) -> None:
        """Open the S3 client (idempotent)."""
        if self._client is not None:
            return
        config = AioConfig(
            signature_version="s3v4",
            connect_timeout=10,
            read_timeout=60,
            retries={"max_attempts": 3, "mode": "standard"},
            # Enough connections for every part in flight plus the calls beside them.
            max_pool_connections=max(10, self._parts_in_flight + 2),
            # Given by the composition root, which knows network.proxy_url and NO_PROXY.
            proxies=self._proxies,
            s3={
                # Self-hosted endpoints (MinIO, moto, …) rarely have wildcard DNS for virtual hosts.
                "addressing_style": "path" if self._endpoint_url else "auto",
                # Each part carries its CRC32 in a signed header, which S3 checks. Over http botocore would
                # also hash every part (SHA-256) into the signature, on the event loop: ~5 ms per 8 MiB part,
                # ~0.2 CPU-s per 200 MB (measured). https endpoints skip that hash anyway.
                "payload_signing_enabled": False,
            },
        )
        stack = AsyncExitStack()
        client = self._session.client("s3", endpoint_url=self._endpoint_url, config=config)
        self._client = await stack.enter_async_context(client)
        self._stack = stack

    async def aclose(self) -> None:
        """Close the S3 client."""
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    async def __aenter__(self) -> S3BlobStore:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes], content_type: str) -> StoredBlob:
        """Upload a stream: one PUT when it fits in a part, else a multipart upload with up to
        ``parts_in_flight`` parts held at once, aborted on any failure or cancellation. Raise
        ``JobError(UPLOAD_FAILED)``; a JobError from ``chunks`` (a failed download) passes through."""
        upload = _MultipartUpload(
            self._require_client(),
            self._bucket,
            self.object_key(key),
            content_type,
            base_part_size=self._part_size,
            parts_in_flight=self._parts_in_flight,
        )
        part = io.BytesIO()
        size = 0
        try:
            async for chunk in chunks:
                size += len(chunk)
                rest = memoryview(chunk)
                while rest:
                    # Fill the part up to its size; the rest of the chunk starts the next part.
                    room = upload.next_part_size - part.tell()
                    part.write(rest[:room])
                    rest = rest[room:]
                    if part.tell() == upload.next_part_size:
                        await upload.add_part(part)
                        part = io.BytesIO()
            if upload.started:
                if part.tell():
                    await upload.add_part(part)
                await upload.complete()
            else:
                await upload.put_whole(part)
        except BaseException as exc:
            # Shielded: a second cancellation while aborting must not leave the upload open.
            await asyncio.shield(upload.abort())
            if isinstance(exc, JobError) or not isinstance(exc, Exception):
                raise
            raise JobError(ErrorCode.UPLOAD_FAILED, f"S3 upload of {key}: {_describe(exc)}") from exc
        log.info("blob.stored", key=key, size_bytes=size, parts=upload.part_count or 1)
        return StoredBlob(key=key, size_bytes=size)

    async def url_for(self, key: str, expires_s: int) -> str:
        """A presigned GET link valid for ``expires_s`` (or a plain link under ``public_base_url``)."""
        object_key = self.object_key(key)
        if self._public_base_url:
            return f"{self._public_base_url}/{quote(object_key)}"
        try:
            return await self._require_client().generate_presigned_url(
                "get_object", Params={"Bucket": self._bucket, "Key": object_key}, ExpiresIn=expires_s
            )
        except (BotoCoreError, ClientError) as exc:
            raise JobError(ErrorCode.UPLOAD_FAILED, f"presigning {key}: {_describe(exc)}") from exc

    async def delete(self, key: str) -> None:
        """Remove an object (a missing object is not an error)."""
        try:
            await self._require_client().delete_object(Bucket=self._bucket, Key=self.object_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise JobError(ErrorCode.UPLOAD_FAILED, f"deleting {key}: {_describe(exc)}") from exc

    async def ensure_bucket(self) -> None:
        """Create the bucket if it is missing (tests and the sandbox; production buckets exist)."""
        client = self._require_client()
        try:
            await client.head_bucket(Bucket=self._bucket)
            return
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                raise
        region = client.meta.region_name
        if region and region != "us-east-1":
            location: Any = {"LocationConstraint": region}
            await client.create_bucket(Bucket=self._bucket, CreateBucketConfiguration=location)
        else:
            await client.create_bucket(Bucket=self._bucket)

    def object_key(self, key: str) -> str:
        """The full object key in the bucket for a store key (the prefix joined in front)."""
        return f"{self._prefix}/{key}" if self._prefix else key

    def _require_client(self) -> S3Client:
        if self._client is None:
            raise RuntimeError("S3BlobStore is not started: await start() or use 'async with'")
        return self._client


def part_size_for(number: int, base: int) -> int:
    """The size of part ``number`` (from 1): ``base`` for the first 1,000 parts, then doubling every
    1,000, so S3's 10,000 parts hold S3's largest object (5 TiB; 7.8 TiB at an 8 MiB base, 4.9 TiB
    at the 5 MiB minimum) where a fixed size would stop at 78 GiB."""
    return min(base << ((number - 1) // PART_SIZE_DOUBLES_EVERY), MAX_PART_SIZE)


class _MultipartUpload:
    """One object's upload: started lazily at the first full part; parts go up concurrently
    (bounded) and are listed in order at completion; aborted on failure."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        key: str,
        content_type: str,
        *,
        base_part_size: int,
        parts_in_flight: int,
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._key = key
        self._content_type = content_type
        self._base_part_size = base_part_size
        # The memory budget: this many base-size parts, counting the one being filled.
        self._budget = base_part_size * parts_in_flight
        self._upload_id: str | None = None
        self._submitted = 0
        self._sending: set[asyncio.Task[dict[str, Any]]] = set()
        self._parts: list[dict[str, Any]] = []

    @property
    def started(self) -> bool:
        """Whether a multipart upload was created."""
        return self._upload_id is not None

    @property
    def part_count(self) -> int:
        """How many parts were uploaded."""
        return len(self._parts)

    @property
    def next_part_size(self) -> int:
        """How many bytes the next part must hold (every part but the last)."""
        return part_size_for(self._submitted + 1, self._base_part_size)

    async def put_whole(self, body: io.BytesIO) -> None:
        """Store a small object with a single PUT."""
        body.seek(0)
        await self._client.put_object(Bucket=self._bucket, Key=self._key, Body=body, ContentType=self._content_type)

    async def add_part(self, body: io.BytesIO) -> None:
        """Start uploading the next part (creating the multipart upload first if needed), then
        wait until the budget has room to fill the part after it."""
        if self._upload_id is None:
            # Named, as boto3's transfer manager does: S3 then checks every part's CRC32 and keeps a
            # composite checksum. Unnamed, an S3 may default to a whole-object CRC64NVME computed at
            # completion (moto does, in pure Python: it doubled its CPU per byte).
            created = await self._client.create_multipart_upload(
                Bucket=self._bucket, Key=self._key, ContentType=self._content_type, ChecksumAlgorithm=CHECKSUM
            )
            self._upload_id = created["UploadId"]
        number = self._submitted + 1
        if number > MAX_PARTS:
            raise JobError(ErrorCode.UPLOAD_FAILED, f"more than {MAX_PARTS} parts: raise part_size")
        self._submitted = number
        self._sending.add(asyncio.create_task(self._upload_part(self._upload_id, number, body)))
        # Parts in memory = parts being sent + the one about to be filled; at least one is sent
        # at a time even when a single (grown) part exceeds the budget.
        held = max(1, self._budget // self.next_part_size)
        while len(self._sending) >= held:
            await self._collect(asyncio.FIRST_COMPLETED)

    async def complete(self) -> None:
        """Wait for every part, then assemble them into the object, in part-number order."""
        assert self._upload_id is not None
        while self._sending:
            await self._collect(asyncio.FIRST_EXCEPTION)
        parts = sorted(self._parts, key=lambda part: int(part["PartNumber"]))
        await self._client.complete_multipart_upload(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": cast("Any", parts)},
        )

    async def abort(self) -> None:
        """Stop the parts still being sent and drop those uploaded, so a failed upload leaves
        nothing billable behind."""
        sending, self._sending = self._sending, set()
        for task in sending:
            task.cancel()
        # Wait for them to stop, so none lands after the abort; their errors only repeat the failure.
        await asyncio.gather(*sending, return_exceptions=True)
        upload_id, self._upload_id = self._upload_id, None
        if upload_id is None:
            return
        try:
            await self._client.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=upload_id)
        except (BotoCoreError, ClientError) as exc:
            # A bucket lifecycle rule for incomplete uploads is the backstop for this case.
            log.warning("blob.abort_failed", key=self._key, upload_id=upload_id, error=_describe(exc))

    async def _upload_part(self, upload_id: str, number: int, body: io.BytesIO) -> dict[str, Any]:
        # A part is an in-memory file, not bytes: botocore reads it in blocks (signature, checksum)
        # and aiohttp streams it in 256 KiB reads on the loop, where bytes would be copied whole
        # twice more (a slice, then the socket's write buffer), tripling each part's memory.
        body.seek(0)
        sent = await self._client.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
            ChecksumAlgorithm=CHECKSUM,
        )
        part: dict[str, Any] = {"PartNumber": number, "ETag": sent["ETag"]}
        # S3 wants each part's checksum in the completion when the upload named an algorithm (an
        # S3-compatible store that keeps none returns none, and wants none).
        if checksum := sent.get("ChecksumCRC32"):
            part["ChecksumCRC32"] = checksum
        return part

    async def _collect(self, return_when: str) -> None:
        """Wait for parts to finish and record them; the first failure is raised (the rest are
        left to :meth:`abort`)."""
        done, self._sending = await asyncio.wait(self._sending, return_when=return_when)
        failure: BaseException | None = None
        for task in done:
            error = task.exception()  # read every one, so none is reported as never retrieved
            if error is None:
                self._parts.append(task.result())
            elif failure is None:
                failure = error
        if failure is not None:
            raise failure


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'ClientError')}: {error.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"
