"""The blob store on local disk (development, the sandbox, single-host deployments)."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterable
from pathlib import Path
from typing import IO
from urllib.parse import quote

import structlog

from poller.errors import ErrorCode, JobError
from poller.ports import StoredBlob

log = structlog.get_logger(__name__)


class LocalBlobStore:
    """Files under ``root``; written to a temp file beside the target, then renamed into place,
    so a reader never sees half a video."""

    def __init__(self, root: Path, public_base_url: str | None = None) -> None:
        self._root = root.resolve()
        self._public_base_url = public_base_url.rstrip("/") if public_base_url else None

    def path_for(self, key: str) -> Path:
        """The file a key maps to; refuses keys that would leave the root (``..``, absolute paths)."""
        if not key or key.startswith("/") or "\\" in key or "\x00" in key:
            raise ValueError(f"invalid blob key {key!r}")
        path = (self._root / key).resolve()
        if path == self._root or not path.is_relative_to(self._root):
            raise ValueError(f"blob key {key!r} escapes the store root")
        return path

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes], content_type: str) -> StoredBlob:
        """Write a stream chunk by chunk (disk I/O off the event loop); raise ``JobError(UPLOAD_FAILED)``.
        A JobError from ``chunks`` (a failed download) passes through unchanged."""
        target = self.path_for(key)
        temp: Path | None = None
        size = 0
        try:
            file = await asyncio.to_thread(_open_temp_beside, target)
            temp = Path(file.name)
            try:
                async for chunk in chunks:
                    await asyncio.to_thread(file.write, chunk)
                    size += len(chunk)
                await asyncio.to_thread(_sync_and_close, file)
            finally:
                file.close()
            await asyncio.to_thread(os.replace, temp, target)
        except BaseException as exc:
            if temp is not None:
                temp.unlink(missing_ok=True)
            if isinstance(exc, JobError) or not isinstance(exc, Exception):
                raise
            raise JobError(ErrorCode.UPLOAD_FAILED, f"writing {key}: {type(exc).__name__}: {exc}") from exc
        log.info("blob.stored", key=key, size_bytes=size, content_type=content_type)
        return StoredBlob(key=key, size_bytes=size)

    async def url_for(self, key: str, expires_s: int) -> str:
        """``<public_base_url>/<key>`` when configured, else a ``file://`` URL (no expiry on disk)."""
        path = self.path_for(key)
        if self._public_base_url:
            return f"{self._public_base_url}/{quote(key)}"
        return path.as_uri()

    async def delete(self, key: str) -> None:
        """Remove a file (a missing file is not an error)."""
        path = self.path_for(key)
        await asyncio.to_thread(path.unlink, missing_ok=True)


def _open_temp_beside(target: Path) -> IO[bytes]:
    # Same folder as the target: os.replace is atomic only within one file system.
    target.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.NamedTemporaryFile(  # closed by the caller
        dir=target.parent, prefix=f".{target.name}.", suffix=".part", delete=False
    )


def _sync_and_close(file: IO[bytes]) -> None:
    file.flush()
    os.fsync(file.fileno())
    file.close()
