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

from providers.http import USER_AGENT

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


class ApiClient:
    """A bounded keep-alive pool for provider API calls; the aiohttp session is created on first use,
    inside the running event loop (aiohttp requires it), so the client can be built anywhere."""

    def __init__(self, timeout_s: float, max_connections: int) -> None:
        if timeout_s <= 0 or max_connections <= 0:
            raise ValueError("timeout_s and max_connections must be positive")
        self._timeout = aiohttp.ClientTimeout(
            total=None,
            # The wait for a pooled connection plus connecting: nothing was sent if this runs out.
            connect=timeout_s,
            # A provider that does not accept a connection quickly is down, not slow.
            sock_connect=min(5.0, timeout_s),
            sock_read=timeout_s,
        )
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

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

    async def aclose(self) -> None:
        """Close the pool (idempotent)."""
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _session_for_use(self) -> aiohttp.ClientSession:
        if self._closed:
            raise ApiTransportError("client is closed", sent=False)
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                limit_per_host=self._max_connections,
                # Polling reuses connections; churn costs a TLS handshake each.
                keepalive_timeout=30.0,
            )
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, headers={"User-Agent": USER_AGENT}
            )
        return self._session


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
