"""The HTTP client for provider API calls (submit and status), on aiohttp.

Status polls are the engine's hot path: thousands per second at scale. httpx's connection pool spent
~85 % of the loop on pool bookkeeping at 5,000 jobs and collapsed there, while the same engine over
aiohttp held twice the load at half the CPU (docs/performance.md). Video downloads are on aiohttp too,
with their own pool (``providers/download.py``). This module turns aiohttp's exceptions into three
plain outcomes, so adapters never see aiohttp: a bad URL, a request that certainly never left, and one
that may have arrived.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from providers.aiohttp_pool import AiohttpPool

# Provider API answers are small JSON envelopes; a bigger body is a fault, not a result to buffer.
MAX_BODY_BYTES = 1024 * 1024


class ApiTransportError(Exception):
    """The call failed before a complete answer; ``sent`` says whether the provider may have acted on it."""

    def __init__(self, detail: str, *, sent: bool) -> None:
        super().__init__(detail)
        self.sent = sent


class ApiUrlError(Exception):
    """The URL cannot be used at all (a configuration mistake: no retry will fix it)."""


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """A complete answer: status, the one header we read, and the raw body."""

    status: int
    retry_after: str | None
    body: bytes

    @property
    def ok(self) -> bool:
        """A 2xx status."""
        return 200 <= self.status < 300

    def text(self, limit: int = 500) -> str:
        """The start of the body as text, for logs and error messages."""
        return self.body[:limit].decode("utf-8", "replace")


class ApiClient(AiohttpPool):
    """A bounded keep-alive pool for provider API calls (see :class:`AiohttpPool` for the timeouts)."""

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> ApiResponse:
        """Send one request and read the whole answer; raise :class:`ApiTransportError` or :class:`ApiUrlError`."""
        session = self._session_for_use()
        try:
            async with session.request(method, url, headers=headers, json=json_body, params=params) as response:
                if response.content_length is not None and response.content_length > MAX_BODY_BYTES:
                    raise ApiTransportError(f"answer too large: {response.content_length} bytes", sent=True)
                body = await response.read()
                return ApiResponse(response.status, response.headers.get("Retry-After"), body)
        except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError, ValueError) as exc:
            raise ApiUrlError(f"{type(exc).__name__}: {exc}") from exc
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # Refused, unreachable, or no connection within the timeout: the request never left.
            raise ApiTransportError(_describe(exc), sent=False) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Dropped mid-answer, read timeouts: the provider may have acted on the request.
            raise ApiTransportError(_describe(exc), sent=True) from exc

    def _session_for_use(self) -> aiohttp.ClientSession:
        session = self._open_session()
        if session is None:
            raise ApiTransportError("client is closed", sent=False)
        return session


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
