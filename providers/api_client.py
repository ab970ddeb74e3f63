"""The HTTP client for provider API calls: submits on aiohttp, status polls on a leaner keep-alive path.

Status polls are the engine's hot path: thousands per second at scale. httpx's connection pool spent
~85 % of the loop on pool bookkeeping at 5,000 jobs and collapsed there, while the same engine over
aiohttp held twice the load at half the CPU; the GETs now go over :mod:`providers.keepalive_get`, at
less than half of aiohttp's CPU per call (docs/performance.md §1.5). Video downloads are on aiohttp too, with
their own pool (``providers/download.py``). This module turns both paths' failures into three plain
outcomes, so adapters never see an HTTP library: a bad URL, a request that certainly never left, and one
that may have arrived.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from providers.aiohttp_pool import AiohttpPool
from providers.api_types import MAX_BODY_BYTES, ApiResponse, ApiTransportError, ApiUrlError
from providers.keepalive_get import KeepAliveGets

__all__ = ["MAX_BODY_BYTES", "ApiClient", "ApiResponse", "ApiTransportError", "ApiUrlError"]


class ApiClient(AiohttpPool):
    """Bounded keep-alive pools for provider API calls (see :class:`AiohttpPool` for the timeouts).

    GETs without a body (the status polls) go over :class:`KeepAliveGets`, everything else over aiohttp;
    each path keeps at most ``max_connections`` connections.
    """

    def __init__(self, timeout_s: float, max_connections: int, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(timeout_s, max_connections, headers)
        self._gets = KeepAliveGets(timeout_s, max_connections, self._headers)

    async def aclose(self) -> None:
        """Close both pools (idempotent)."""
        await super().aclose()
        await self._gets.aclose()

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
        if method == "GET" and json_body is None:
            return await self._gets.get(url, headers=headers, params=params)  # refuses once closed, too
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
