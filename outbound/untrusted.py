"""GETs of URLs that came from outside (a provider's video link, a callback, an integrator).

Redirects are followed here, one hop at a time (at most five), so that every hop is checked the same way as the
first: its scheme, its address (:mod:`outbound.addresses`; through a proxy, resolved and checked before sending)
and the size of the answer's headers. Sessions are opened on first use, one per route (direct, or a proxy).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urljoin

import aiohttp

from outbound.addresses import AddressPolicy
from outbound.checked_routes import CheckedRoutes, UntrustedUrl, refusals_unwrapped, without_query
from outbound.errors import AddressRefused, TooManyRedirects
from outbound.proxies import Proxies
from outbound.sessions import check_header_size

__all__ = ["MAX_REDIRECTS", "UntrustedGets", "UntrustedUrl", "without_query"]

# Result URLs redirect to a CDN, sometimes through a signer; a longer chain is a loop or a trick.
MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class UntrustedGets:
    """GETs with every hop checked; see the module docstring. The caller releases each answer it is given."""

    def __init__(
        self,
        proxies: Proxies,
        addresses: AddressPolicy,
        *,
        timeout: aiohttp.ClientTimeout,
        max_connections: int,
        headers: Mapping[str, str] | None = None,
        max_redirects: int = MAX_REDIRECTS,
    ) -> None:
        if max_redirects < 0:
            raise ValueError("max_redirects must not be negative")
        self._routes = CheckedRoutes(
            proxies, addresses, timeout=timeout, max_connections=max_connections, headers=headers
        )
        self._max_redirects = max_redirects

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._routes.closed

    async def aclose(self) -> None:
        """Close every session (idempotent)."""
        await self._routes.aclose()

    async def get(self, url: str) -> aiohttp.ClientResponse:
        """The final answer to a GET of ``url`` after at most ``max_redirects`` redirects.

        Raises :class:`AddressRefused`, :class:`TooManyRedirects`, :class:`UntrustedUrl`, ``HeadersTooLarge``, or
        aiohttp's own errors (refused, unreachable, timed out).
        """
        for _ in range(self._max_redirects + 1):
            response = await self._hop(url)
            location = response.headers.get("Location") if response.status in _REDIRECT_STATUSES else None
            if location is None:
                return response
            response.release()
            url = urljoin(url, location)
        raise TooManyRedirects(f"more than {self._max_redirects} redirects (the next to {without_query(url)})")

    async def _hop(self, url: str) -> aiohttp.ClientResponse:
        try:
            response = await self._send(url)
        except AddressRefused as exc:
            exc.url = without_query(url)
            raise
        try:
            check_header_size(response)
        except BaseException:
            response.close()
            raise
        return response

    async def _send(self, url: str) -> aiohttp.ClientResponse:
        session = await self._routes.session_for(url)
        with refusals_unwrapped():
            return await session.get(url, allow_redirects=False)
