"""A bounded aiohttp connection pool, opened on first use.

aiohttp needs a running event loop to create its session, so the session is made at the first request
and the owner (the provider API client, the video downloader) can be built anywhere, at wiring time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Self

import aiohttp

from providers.http import USER_AGENT


class AiohttpPool:
    """Up to ``max_connections`` kept-alive connections, a User-Agent, and the shared timeout policy.

    ``timeout_s`` bounds each socket read and the wait for a pooled connection plus connecting (nothing
    was sent if that runs out); connecting itself gets at most 5 s, since a server that does not accept
    a connection quickly is down, not slow. There is no total timeout: a 1 GB video may take minutes.
    """

    def __init__(self, timeout_s: float, max_connections: int, headers: Mapping[str, str] | None = None) -> None:
        if timeout_s <= 0 or max_connections <= 0:
            raise ValueError("timeout_s and max_connections must be positive")
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=timeout_s, sock_connect=min(5.0, timeout_s), sock_read=timeout_s
        )
        self._max_connections = max_connections
        self._headers = {"User-Agent": USER_AGENT, **(headers or {})}
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    async def aclose(self) -> None:
        """Close the pool (idempotent)."""
        self._closed = True
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _open_session(self) -> aiohttp.ClientSession | None:
        """The session, created on first use; None once closed (the owner raises its own error)."""
        if self._closed:
            return None
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                limit_per_host=self._max_connections,
                # Reused connections: churn costs a TLS handshake each.
                keepalive_timeout=30.0,
            )
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout, headers=self._headers)
        return self._session
