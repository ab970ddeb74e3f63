"""Stream a finished video from a URL that came from outside, with hard limits and flat memory.

The URL comes from the provider's answer, a callback or an integrator, so it is fetched as untrusted
(:class:`outbound.UntrustedGets`): only globally routable addresses, on the first request and on every redirect
hop (at most five), through the egress proxy when one applies. What comes back must look like a video
(``Content-Type``), stay under ``max_bytes``, and keep arriving at ``min_bytes_per_s`` averaged over each
``rate_window_s``; the delivery pipeline then probes the file for a video stream.

On aiohttp: streaming a body costs ~0.28 CPU-s per GiB in ``iter_chunked`` against ~2.1 in httpx's
``aiter_bytes``, and the delivery pipeline (download, tee to a temp file, S3 multipart upload) is CPU-bound on it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing, asynccontextmanager
from typing import Self

import aiohttp
import structlog

from outbound import (
    AddressRefused,
    Network,
    OutboundError,
    UntrustedGets,
    UntrustedUrl,
    without_credentials,
    without_query,
)
from outbound.untrusted import MAX_REDIRECTS
from poller.errors import ErrorCode, JobError
from providers.http import USER_AGENT

log = structlog.get_logger(__name__)

_QUERY_IN_URL = re.compile(r"(https?://[^\s?#'\"<>]*)[?#][^\s'\"<>]*", re.IGNORECASE)
# What a video may be served as: S3 and many CDNs label any object they were not told about as octet-stream.
_VIDEO_TYPES = ("application/octet-stream", "binary/octet-stream")
RATE_WINDOW_S = 30.0


class HttpVideoDownloader:
    """Implements ``poller.ports.VideoDownloader`` over aiohttp, one pool per route (direct, or a proxy).

    Never holds the whole body: chunks of at most ``chunk_size`` bytes are handed on as they arrive. Every failure
    is ``JobError(DOWNLOAD_FAILED)``; an address that may not be reached, or a URL that is not http(s), is a
    permanent one (another attempt would meet it again). ``timeout_s`` bounds connecting (with the wait for a pooled
    connection) and each silence in the answer; there is no total, since a 1 GB video may take minutes, but a body
    slower than ``min_bytes_per_s`` over ``rate_window_s`` is stopped (0: no minimum).
    """

    def __init__(
        self,
        max_bytes: int,
        *,
        timeout_s: float,
        network: Network | None = None,
        max_connections: int = 16,
        chunk_size: int = 1 << 20,
        max_redirects: int = MAX_REDIRECTS,
        min_bytes_per_s: int = 0,
        rate_window_s: float = RATE_WINDOW_S,
    ) -> None:
        if max_bytes <= 0 or chunk_size <= 0 or timeout_s <= 0 or max_connections <= 0 or rate_window_s <= 0:
            raise ValueError("max_bytes, chunk_size, timeout_s, max_connections and rate_window_s must be positive")
        if min_bytes_per_s < 0:
            raise ValueError("min_bytes_per_s must not be negative")
        self._max_bytes = max_bytes
        self._chunk_size = chunk_size
        self._min_bytes_per_s = min_bytes_per_s
        self._rate_window_s = rate_window_s
        timeout = aiohttp.ClientTimeout(
            total=None, connect=timeout_s, sock_connect=min(5.0, timeout_s), sock_read=timeout_s
        )
        # Videos do not compress: ask for the bytes as stored rather than pay to inflate them.
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        network = network or Network()
        self._gets = UntrustedGets(
            network.proxies,
            network.addresses,
            timeout=timeout,
            max_connections=max_connections,
            headers=headers,
            max_redirects=max_redirects,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._gets.closed

    async def aclose(self) -> None:
        """Close every pool (idempotent)."""
        await self._gets.aclose()

    @asynccontextmanager
    async def open(self, url: str) -> AsyncIterator[AsyncIterator[bytes]]:
        """Open ``url`` and yield an async iterator over its body; the response is released on exit."""
        response = await self._request(url)
        try:
            self._check_headers(response)
            async with aclosing(self._chunks(response)) as chunks:
                yield chunks
        except BaseException:
            response.close()  # failed, cancelled or abandoned mid-body: drop the connection
            raise
        else:
            response.release()  # back to the pool when read to the end, else closed by aiohttp

    async def _request(self, url: str) -> aiohttp.ClientResponse:
        if self._gets.closed:
            raise JobError(ErrorCode.DOWNLOAD_FAILED, "downloader is closed", request_sent=False)
        try:
            return await self._gets.get(url)
        except AddressRefused as exc:
            # Never shown to the user (their message is the usual download_failed one); kept for operators.
            log.warning("download.refused", url=exc.url or without_query(url), reason=str(exc))
            raise JobError(
                ErrorCode.DOWNLOAD_FAILED,
                f"address refused: {exc.url or without_query(url)}: {exc}",
                request_sent=False,
                permanent=True,
            ) from exc
        except UntrustedUrl as exc:
            raise JobError(ErrorCode.DOWNLOAD_FAILED, str(exc), request_sent=False, permanent=True) from exc
        except (OutboundError, aiohttp.ClientError, OSError, ValueError) as exc:
            # ValueError: a URL yarl refuses; OSError: a name that did not resolve (through a proxy); TimeoutError
            # is an OSError. The rest: refused, unreachable, timed out, too many redirects, oversized headers.
            log.warning("download.request_failed", url=without_query(url), error=type(exc).__name__)
            raise JobError(ErrorCode.DOWNLOAD_FAILED, _describe(exc)) from exc

    def _check_headers(self, response: aiohttp.ClientResponse) -> None:
        url = without_query(str(response.url))
        if not 200 <= response.status < 300:
            raise JobError(ErrorCode.DOWNLOAD_FAILED, f"HTTP {response.status} from {url}")
        media_type = response.headers.get("Content-Type", "").partition(";")[0].strip().lower()
        if media_type and not (media_type.startswith("video/") or media_type in _VIDEO_TYPES):
            raise JobError(ErrorCode.DOWNLOAD_FAILED, f"not a video: Content-Type {media_type[:100]!r} from {url}")
        length = response.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > self._max_bytes:
            raise JobError(
                ErrorCode.DOWNLOAD_FAILED,
                f"video is {int(length)} bytes, over the {self._max_bytes}-byte limit",
            )

    async def _chunks(self, response: aiohttp.ClientResponse) -> AsyncGenerator[bytes, None]:
        url = without_query(str(response.url))
        watch = _RateWatch(response, self._min_bytes_per_s, self._rate_window_s)
        try:
            async for chunk in response.content.iter_chunked(self._chunk_size):
                watch.received += len(chunk)
                if watch.received > self._max_bytes:
                    raise JobError(ErrorCode.DOWNLOAD_FAILED, f"video is over the {self._max_bytes}-byte limit")
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            # ClientPayloadError: the body ended before its Content-Length, or broken chunked framing.
            if watch.too_slow:
                log.warning("download.too_slow", url=url, received=watch.received)
                raise JobError(ErrorCode.DOWNLOAD_FAILED, f"{watch.too_slow} after {watch.received} bytes") from exc
            log.warning("download.stream_failed", url=url, received=watch.received, error=type(exc).__name__)
            raise JobError(ErrorCode.DOWNLOAD_FAILED, f"{_describe(exc)} after {watch.received} bytes") from exc
        finally:
            watch.cancel()
        if watch.received == 0:
            raise JobError(ErrorCode.DOWNLOAD_FAILED, f"empty body from {url}")


class _RateWatch:
    """Closes ``response`` when fewer than ``min_bytes_per_s`` × ``window_s`` bytes arrived in a window.

    One timer per window, not per chunk: the body loop only adds to :attr:`received`. Closing the response wakes
    the pending read with a connection error, which the loop reports as :attr:`too_slow`.
    """

    def __init__(self, response: aiohttp.ClientResponse, min_bytes_per_s: int, window_s: float) -> None:
        self.received = 0
        self.too_slow = ""
        self._response = response
        self._needed = min_bytes_per_s * window_s
        self._window_s = window_s
        self._mark = 0
        self._timer: asyncio.TimerHandle | None = None
        if min_bytes_per_s > 0:
            self._timer = asyncio.get_running_loop().call_later(window_s, self._check)

    def _check(self) -> None:
        got = self.received - self._mark
        if got < self._needed:
            self._timer = None
            self.too_slow = (
                f"slower than {self._needed / self._window_s:g} bytes/s over {self._window_s:g} s ({got} bytes)"
            )
            self._response.close()
            return
        self._mark = self.received
        self._timer = asyncio.get_running_loop().call_later(self._window_s, self._check)

    def cancel(self) -> None:
        """Stop watching (the body ended, failed or was abandoned)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _describe(exc: BaseException) -> str:
    """The exception for the job record, with any URL's query string and credentials cut off (aiohttp's messages
    quote URLs: redirect targets, the proxy's)."""
    text = _QUERY_IN_URL.sub(r"\1?…", without_credentials(str(exc)))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
