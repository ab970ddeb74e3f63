"""GETs of URLs that came from outside (a provider's video link, a callback, an integrator).

Redirects are followed here, one hop at a time (at most five), so that every hop is checked the same way as the
first: its scheme, its address (:mod:`outbound.addresses`; through a proxy, resolved and checked before sending)
and the size of the answer's headers. Sessions are opened on first use, one per route (direct, or a proxy).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urljoin, urlsplit

import aiohttp

from outbound.addresses import AddressPolicy
from outbound.errors import AddressRefused, OutboundError, TooManyRedirects
from outbound.proxies import Proxies, Proxy
from outbound.sessions import check_header_size, client_session

# Result URLs redirect to a CDN, sometimes through a signer; a longer chain is a loop or a trick.
MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class UntrustedUrl(OutboundError):
    """A URL that cannot be fetched at all: not http(s), no host, unparseable."""


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
        self._proxies = proxies
        self._addresses = addresses
        self._timeout = timeout
        self._max_connections = max_connections
        self._headers = dict(headers or {})
        self._max_redirects = max_redirects
        self._sessions: dict[Proxy | None, aiohttp.ClientSession] = {}
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    async def aclose(self) -> None:
        """Close every session (idempotent)."""
        self._closed = True
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()

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
        host, port = _host_and_port(url)
        proxy = self._proxies.for_url(url)
        if proxy is None:
            self._addresses.check_host(host)  # a name is checked by the session's resolver, as it connects
        else:
            await self._addresses.check_resolved(host, port)
        session = self._session(proxy)
        try:
            return await session.get(url, allow_redirects=False)
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, AddressRefused):
                raise exc.os_error from None
            raise

    def _session(self, proxy: Proxy | None) -> aiohttp.ClientSession:
        if self._closed:
            raise OutboundError("the client is closed")
        session = self._sessions.get(proxy)
        if session is None:
            session = client_session(
                proxy,
                timeout=self._timeout,
                max_connections=self._max_connections,
                headers=self._headers,
                addresses=self._addresses,
            )
            self._sessions[proxy] = session
        return session


def without_query(url: str) -> str:
    """The URL without its query string or fragment, for logs: signed CDN links carry credentials there."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"[:300]


def _host_and_port(url: str) -> tuple[str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UntrustedUrl(f"unparseable URL: {without_query(url)}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UntrustedUrl(f"not an http(s) URL: {without_query(url)}")
    if not parts.hostname:
        raise UntrustedUrl(f"no host in {without_query(url)}")
    return parts.hostname, port or (443 if scheme == "https" else 80)
