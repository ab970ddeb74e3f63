"""The HTTP client for provider API calls: submits on aiohttp, status polls on a leaner keep-alive path.

Status polls are the engine's hot path: thousands per second at scale. httpx's connection pool spent
~85 % of the loop on pool bookkeeping at 5,000 jobs and collapsed there, while the same engine over
aiohttp held twice the load at half the CPU; the GETs now go over :mod:`providers.keepalive_get`, at
less than half of aiohttp's CPU per call (docs/performance.md §1.5). That path has no proxy support: when
an egress proxy applies to the provider, the GETs go over aiohttp too (the route is chosen where the client is
built). Video downloads are on aiohttp, with their own pools (``providers/download.py``). This module turns both
paths' failures into three plain outcomes, so adapters never see an HTTP library: a bad URL, a request that
certainly never left, and one that may have arrived.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import aiohttp

from outbound import HeadersTooLarge, Proxy, check_header_size, without_credentials
from providers.aiohttp_pool import AiohttpPool
from providers.api_types import MAX_BODY_BYTES, ApiResponse, ApiTransportError, ApiUrlError
from providers.keepalive_get import KeepAliveGets

__all__ = ["MAX_BODY_BYTES", "ApiClient", "ApiResponse", "ApiTransportError", "ApiUrlError"]


class ApiClient(AiohttpPool):
    """Bounded pools for provider API calls. Waiting for a connection and connecting are bounded by ``timeout_s``
    (nothing was sent if that runs out); then the whole answer must arrive within ``timeout_s``, however slowly
    its bytes trickle in.

    GETs without a body (the status polls) go over :class:`KeepAliveGets` unless ``proxy`` is given; everything
    else over aiohttp, one request per connection: an answer followed by stray bytes can never leave them to be
    read as the answer to the next call (aiohttp would hand a complete stray answer that arrived on an idle
    connection to the next request), and submits are few. Each path keeps at most ``max_connections``
    connections; headers over 64 KiB and bodies over 1 MiB are refused.
    """

    def __init__(
        self,
        timeout_s: float,
        max_connections: int,
        headers: Mapping[str, str] | None = None,
        *,
        proxy: Proxy | None = None,
    ) -> None:
        super().__init__(
            timeout_s, max_connections, headers, proxy=proxy, force_close=True, trace_configs=[_connection_trace()]
        )
        self._timeout_s = timeout_s
        # aiohttp bounds getting a connection (ConnectionTimeoutError: never sent); the answer's deadline is ours,
        # armed once the connection is held (see _Progress).
        self._request_timeout = aiohttp.ClientTimeout(
            total=None, connect=timeout_s, sock_connect=min(5.0, timeout_s), sock_read=None
        )
        self._gets = KeepAliveGets(timeout_s, max_connections, self._headers) if proxy is None else None

    async def aclose(self) -> None:
        """Close both pools (idempotent)."""
        await super().aclose()
        if self._gets is not None:
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
        if self._gets is not None and method == "GET" and json_body is None:
            return await self._gets.get(url, headers=headers, params=params)  # refuses once closed, too
        session = self._session_for_use()
        try:
            async with asyncio.timeout(None) as deadline:
                progress = _Progress(deadline, self._timeout_s)
                return await self._exchange(session, method, url, headers, json_body, params, progress)
        except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError, ValueError) as exc:
            raise ApiUrlError(f"{type(exc).__name__}: {_describe(exc)}") from exc
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # Refused, unreachable, or no connection within the timeout: the request never left.
            raise ApiTransportError(_describe(exc), sent=False) from exc
        except (aiohttp.ClientError, HeadersTooLarge) as exc:
            # Dropped mid-answer, a malformed or oversized answer: the provider may have acted on the request.
            raise ApiTransportError(_describe(exc), sent=True) from exc
        except TimeoutError as exc:
            # Our deadline, armed only once a connection was held: aiohttp writes the request at once.
            raise ApiTransportError(f"no complete answer within {self._timeout_s:g} s", sent=True) from exc

    async def _exchange(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: str,
        headers: Mapping[str, str],
        json_body: Mapping[str, Any] | None,
        params: Mapping[str, str] | None,
        progress: _Progress,
    ) -> ApiResponse:
        async with session.request(
            method,
            url,
            headers=headers,
            json=json_body,
            params=params,
            timeout=self._request_timeout,
            trace_request_ctx=progress,
        ) as response:
            check_header_size(response)
            if response.content_length is not None and response.content_length > MAX_BODY_BYTES:
                raise ApiTransportError(f"answer too large: {response.content_length} bytes", sent=True)
            body = await response.read()
            return ApiResponse(response.status, response.headers.get("Retry-After"), body)

    def _session_for_use(self) -> aiohttp.ClientSession:
        session = self._open_session()
        if session is None:
            raise ApiTransportError("client is closed", sent=False)
        return session


class _Progress:
    """One call's deadline, armed when the call holds a connection (and so is about to be sent)."""

    __slots__ = ("_deadline", "_timeout_s")

    def __init__(self, deadline: asyncio.Timeout, timeout_s: float) -> None:
        self._deadline = deadline
        self._timeout_s = timeout_s

    def connected(self) -> None:
        """Start the answer's ``timeout_s``."""
        self._deadline.reschedule(asyncio.get_running_loop().time() + self._timeout_s)


async def _on_connection(session: aiohttp.ClientSession, context: SimpleNamespace, params: object) -> None:
    progress = context.trace_request_ctx
    if isinstance(progress, _Progress):
        progress.connected()


def _connection_trace() -> aiohttp.TraceConfig:
    """Arms a call's :class:`_Progress` once it holds a connection, new or pooled."""
    trace = aiohttp.TraceConfig()
    trace.on_connection_create_end.append(_on_connection)
    trace.on_connection_reuseconn.append(_on_connection)
    return trace


def _describe(exc: BaseException) -> str:
    return without_credentials(str(exc)) or type(exc).__name__  # aiohttp may quote the proxy's URL
