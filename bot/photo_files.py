"""Reading a user's photo: a Telegram file (``getFile``, then the file download URL) or an integrator's https URL,
bounded in size and time. Implements :class:`poller.inputs.PhotoFetcher`; the handlers read a document's first
bytes through it too (its type and dimensions, before a job exists).

Telegram's file URL holds the bot token (``…/file/bot<token>/<path>``): it is never logged nor put in an error.
Telegram's base URL is operator configuration (a proxy may apply, the address check does not); an integrator's
URL comes from outside and goes through :class:`outbound.UntrustedGets`.
"""

from __future__ import annotations

import asyncio

import aiohttp
import structlog
from telegram import Bot
from telegram.error import BadRequest, RetryAfter, TelegramError

from outbound import Network, OutboundError, UntrustedGets, client_session, without_query
from outbound.proxies import Proxy
from poller.errors import ErrorCode, JobError
from poller.images import TooLarge, problem_summary
from providers.http import USER_AGENT

log = structlog.get_logger(__name__)

TELEGRAM_SOURCE = "telegram:"
_CHUNK = 64 * 1024


def telegram_source(file_id: str) -> str:
    """The job's ``image_source`` for a Telegram file."""
    return TELEGRAM_SOURCE + file_id


class PhotoFiles:
    """Fetches photos with every read bounded: at most ``max_bytes`` (the caller's), within ``timeout_s``."""

    def __init__(self, bot: Bot, network: Network, *, timeout_s: float = 30.0) -> None:
        self._bot = bot
        self._network = network
        self._timeout_s = timeout_s
        self._client_timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(10.0, timeout_s))
        self._sessions: dict[Proxy | None, aiohttp.ClientSession] = {}
        self._untrusted = UntrustedGets(
            network.proxies,
            network.addresses,
            timeout=self._client_timeout,
            max_connections=8,
            headers={"User-Agent": USER_AGENT},
        )

    async def fetch(self, source: str, max_bytes: int) -> bytes:
        """The whole file behind ``source`` (``telegram:<file id>`` or an http(s) URL)."""
        return await self._read(source, max_bytes, head_only=None)

    async def head(self, source: str, max_bytes: int, head_bytes: int) -> bytes:
        """The file's first ``head_bytes`` (its header), refusing a file over ``max_bytes`` when its size is known."""
        return await self._read(source, max_bytes, head_only=head_bytes)

    async def aclose(self) -> None:
        """Close the connection pools."""
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()
        await self._untrusted.aclose()

    async def _read(self, source: str, max_bytes: int, *, head_only: int | None) -> bytes:
        try:
            async with asyncio.timeout(self._timeout_s):
                if source.startswith(TELEGRAM_SOURCE):
                    response = await self._telegram_response(source.removeprefix(TELEGRAM_SOURCE), max_bytes)
                else:
                    response = await self._untrusted.get(source)
                try:
                    return await _body(response, max_bytes, head_only)
                finally:
                    response.close()
        except JobError:
            raise
        except OutboundError as exc:  # a refused address, too many redirects: it would fail again
            raise JobError(ErrorCode.INVALID_INPUT, f"photo: {exc}", request_sent=False) from exc
        except (aiohttp.ClientError, OSError, ValueError) as exc:  # TimeoutError is an OSError
            where = "Telegram" if source.startswith(TELEGRAM_SOURCE) else without_query(source)
            log.warning("photo.fetch_failed", source=where, error=type(exc).__name__)
            raise JobError(ErrorCode.DOWNLOAD_FAILED, f"photo from {where}: {type(exc).__name__}") from exc

    async def _telegram_response(self, file_id: str, max_bytes: int) -> aiohttp.ClientResponse:
        try:
            file = await self._bot.get_file(file_id)
        except RetryAfter as exc:
            retry_after = exc.retry_after
            seconds = retry_after.total_seconds() if not isinstance(retry_after, int) else float(retry_after)
            raise JobError(ErrorCode.DOWNLOAD_FAILED, "photo: getFile flood control", retry_after=seconds) from exc
        except BadRequest as exc:  # a wrong file id, a file over Telegram's 20 MB download limit
            refused = f"photo: getFile refused: {exc.message}"
            raise JobError(ErrorCode.INVALID_INPUT, refused, request_sent=False) from exc
        except TelegramError as exc:
            raise JobError(ErrorCode.DOWNLOAD_FAILED, f"photo: getFile failed: {type(exc).__name__}") from exc
        if file.file_size is not None and file.file_size > max_bytes:
            raise _too_large(file.file_size, max_bytes)
        if not file.file_path:
            raise JobError(ErrorCode.INVALID_INPUT, "photo: Telegram gave no file path", request_sent=False)
        url = file.file_path  # holds the token: never logged
        proxy = self._network.proxy_for(url)
        session = self._sessions.get(proxy)
        if session is None:
            session = self._sessions[proxy] = client_session(
                proxy, timeout=self._client_timeout, max_connections=8, headers={"User-Agent": USER_AGENT}
            )
        return await session.get(url, allow_redirects=False)


async def _body(response: aiohttp.ClientResponse, max_bytes: int, head_only: int | None) -> bytes:
    if response.status != 200:
        code = ErrorCode.INVALID_INPUT if response.status in (403, 404) else ErrorCode.DOWNLOAD_FAILED
        raise JobError(code, f"photo: HTTP {response.status}", request_sent=False)
    length = response.content_length
    if length is not None and length > max_bytes:
        raise _too_large(length, max_bytes)
    data = bytearray()
    async for chunk in response.content.iter_chunked(_CHUNK):
        data += chunk
        if len(data) > max_bytes:
            raise _too_large(len(data), max_bytes)
        if head_only is not None and len(data) >= head_only:
            return bytes(data[:head_only])
    return bytes(data)


def _too_large(size: int, limit: int) -> JobError:
    return JobError(ErrorCode.INVALID_INPUT, problem_summary(TooLarge(size, limit)), request_sent=False)
