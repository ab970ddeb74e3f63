"""A bounded aiohttp connection pool, opened on first use.

aiohttp needs a running event loop to create its session, so the session is made at the first request
and the owner (the provider API client) can be built anywhere, at wiring time. The session itself comes from
:func:`outbound.client_session`, which knows the egress proxy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Self

import aiohttp

from outbound import Proxy, client_session
from providers.http import USER_AGENT


class AiohttpPool:
    """Up to ``max_connections`` connections, a User-Agent, the shared timeout policy, and the route out.

    ``timeout_s`` bounds each socket read and the wait for a pooled connection plus connecting (nothing
    was sent if that runs out); connecting itself gets at most 5 s, since a server that does not accept
    a connection quickly is down, not slow. A subclass may give its requests a stricter timeout.
    ``proxy``: the egress proxy for every call, chosen where the pool is built (None: direct).
    ``force_close``: one request per connection.
    """

    def __init__(
        self,
        timeout_s: float,
        max_connections: int,
        headers: Mapping[str, str] | None = None,
        *,
        proxy: Proxy | None = None,
        force_close: bool = False,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
    ) -> None:
        if timeout_s <= 0 or max_connections <= 0:
            raise ValueError("timeout_s and max_connections must be positive")
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=timeout_s, sock_connect=min(5.0, timeout_s), sock_read=timeout_s
        )
        self._max_connections = max_connections
        self._headers = {"User-Agent": USER_AGENT, **(headers or {})}
        self._proxy = proxy
        self._force_close = force_close
        self._trace_configs = tuple(trace_configs)
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
            self._session = client_session(
                self._proxy,
                timeout=self._timeout,
                max_connections=self._max_connections,
                headers=self._headers,
                force_close=self._force_close,
                trace_configs=self._trace_configs,
            )
        return self._session
