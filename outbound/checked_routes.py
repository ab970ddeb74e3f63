"""Sessions for URLs from outside, one per route (direct, or a proxy), each request's target checked first.

Shared by :class:`outbound.untrusted.UntrustedGets` and :class:`outbound.posts.UntrustedPosts`: http(s) only, a
host; through a proxy the address is resolved and checked before the proxy is asked; direct, the session's own
resolver checks it as it connects (so a name cannot resolve differently between the check and the connection).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import urlsplit

import aiohttp

from outbound.addresses import AddressPolicy
from outbound.errors import AddressRefused, OutboundError
from outbound.proxies import Proxies, Proxy
from outbound.sessions import client_session


class UntrustedUrl(OutboundError):
    """A URL that cannot be fetched at all: not http(s), no host, unparseable."""


class CheckedRoutes:
    """The sessions (opened on first use) and the check of each target before a request goes out."""

    def __init__(
        self,
        proxies: Proxies,
        addresses: AddressPolicy,
        *,
        timeout: aiohttp.ClientTimeout,
        max_connections: int,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._proxies = proxies
        self._addresses = addresses
        self._timeout = timeout
        self._max_connections = max_connections
        self._headers = dict(headers or {})
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

    async def session_for(self, url: str) -> aiohttp.ClientSession:
        """The session to reach ``url`` by, once its target passed the checks.

        Raises :class:`UntrustedUrl`, :class:`AddressRefused` (a proxied target's resolved address), or
        :class:`OutboundError` once closed.
        """
        host, port = host_and_port(url)
        proxy = self._proxies.for_url(url)
        if proxy is None:
            self._addresses.check_host(host)  # a name is checked by the session's resolver, as it connects
        else:
            await self._addresses.check_resolved(host, port)
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


@contextmanager
def refusals_unwrapped() -> Iterator[None]:
    """Re-raise an address the session's resolver refused as the :class:`AddressRefused` it is (aiohttp wraps it
    in a connector error)."""
    try:
        yield
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, AddressRefused):
            raise exc.os_error from None
        raise


def without_query(url: str) -> str:
    """The URL without its query string or fragment, for logs: signed CDN links carry credentials there."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"[:300]


def host_and_port(url: str) -> tuple[str, int]:
    """The host and port an http(s) URL names; :class:`UntrustedUrl` for anything else."""
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
