"""Stream a finished video from the provider's URL, with a hard size limit and flat memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import httpx
import structlog

from poller.errors import ErrorCode, JobError

log = structlog.get_logger(__name__)


class HttpVideoDownloader:
    """Implements ``poller.ports.VideoDownloader`` over a shared ``httpx.AsyncClient``.

    Never holds the whole body: chunks are handed on as they arrive. Every failure (network,
    non-2xx, over ``max_bytes``, empty body) is ``JobError(DOWNLOAD_FAILED)``.
    """

    def __init__(self, client: httpx.AsyncClient, max_bytes: int, chunk_size: int = 1 << 20) -> None:
        if max_bytes <= 0 or chunk_size <= 0:
            raise ValueError("max_bytes and chunk_size must be positive")
        self._client = client
        self._max_bytes = max_bytes
        self._chunk_size = chunk_size

    @asynccontextmanager
    async def open(self, url: str) -> AsyncIterator[AsyncIterator[bytes]]:
        """Open ``url`` and yield an async iterator over its body."""
        if _scheme(url) not in ("http", "https"):
            raise JobError(ErrorCode.DOWNLOAD_FAILED, f"not an http(s) URL: {url[:200]}", request_sent=False)
        try:
            response = await self._client.send(self._client.build_request("GET", url), stream=True)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            log.warning("download.request_failed", url=_loggable(url), error=type(exc).__name__)
            raise JobError(ErrorCode.DOWNLOAD_FAILED, f"{type(exc).__name__}: {exc}") from exc
        try:
            self._check_headers(response, url)
            yield self._chunks(response, url)
        finally:
            await response.aclose()

    def _check_headers(self, response: httpx.Response, url: str) -> None:
        if not response.is_success:
            raise JobError(ErrorCode.DOWNLOAD_FAILED, f"HTTP {response.status_code} from {_loggable(url)}")
        length = response.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > self._max_bytes:
            raise JobError(
                ErrorCode.DOWNLOAD_FAILED,
                f"video is {int(length)} bytes, over the {self._max_bytes}-byte limit",
            )

    async def _chunks(self, response: httpx.Response, url: str) -> AsyncIterator[bytes]:
        total = 0
        try:
            async for chunk in response.aiter_bytes(self._chunk_size):
                total += len(chunk)
                if total > self._max_bytes:
                    raise JobError(ErrorCode.DOWNLOAD_FAILED, f"video is over the {self._max_bytes}-byte limit")
                yield chunk
        except httpx.HTTPError as exc:
            log.warning("download.stream_failed", url=_loggable(url), received=total, error=type(exc).__name__)
            raise JobError(ErrorCode.DOWNLOAD_FAILED, f"{type(exc).__name__} after {total} bytes") from exc
        if total == 0:
            raise JobError(ErrorCode.DOWNLOAD_FAILED, f"empty body from {_loggable(url)}")


def _scheme(url: str) -> str:
    try:
        return urlsplit(url).scheme
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return ""


def _loggable(url: str) -> str:
    """The URL without its query string: signed CDN links carry credentials there."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    return f"{parts.scheme}://{parts.netloc}{parts.path}"[:300]
