"""aiohttp sessions for every outbound call, built in one place: the proxy, the address filter, the pool.

An http(s) proxy is the session's ``proxy`` (aiohttp sends absolute-form requests, or CONNECT for https targets,
and moves ``user:password@`` into ``Proxy-Authorization``); a SOCKS5 proxy is a connector of ``aiohttp-socks``.
A session that goes direct to URLs from outside resolves names through :class:`FilteringResolver`; through a proxy
the proxy resolves them, so the caller checks the target itself first (``AddressPolicy.check_resolved``) and
the proxy's own address, which the operator chose, is never filtered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import aiohttp
from aiohttp_socks import ProxyConnector, ProxyType

from outbound.addresses import AddressPolicy, FilteringResolver
from outbound.errors import HeadersTooLarge
from outbound.proxies import Proxy

# An answer's status line and headers together; a provider's or a CDN's are a few KiB.
MAX_HEADER_BYTES = 64 * 1024


def client_session(
    proxy: Proxy | None,
    *,
    timeout: aiohttp.ClientTimeout,
    max_connections: int,
    headers: Mapping[str, str] | None = None,
    addresses: AddressPolicy | None = None,
    force_close: bool = False,
    keepalive_s: float = 30.0,
    trace_configs: Sequence[aiohttp.TraceConfig] = (),
) -> aiohttp.ClientSession:
    """A session over at most ``max_connections`` connections, through ``proxy`` or direct.

    ``addresses``: the policy for URLs from outside, applied when connecting direct (None: trusted destinations).
    ``force_close``: one request per connection, never a kept-alive one.
    Must be called in the event loop that will use the session.
    """
    # One request per connection has no idle time to bound; kept-alive ones are reused for 30 s, since churn
    # costs a TLS handshake each.
    keepalive = None if force_close else keepalive_s
    connector: aiohttp.BaseConnector
    session_proxy: str | None = None
    if proxy is not None and proxy.is_socks:
        connector = ProxyConnector(
            host=proxy.host,
            port=proxy.port,
            proxy_type=ProxyType.SOCKS5,
            username=proxy.username,
            password=proxy.password,
            rdns=proxy.scheme == "socks5h",
            limit=max_connections,
            limit_per_host=max_connections,
            force_close=force_close,
            keepalive_timeout=keepalive,
        )
    else:
        filtered = proxy is None and addresses is not None and addresses.active
        connector = aiohttp.TCPConnector(
            resolver=FilteringResolver(addresses) if filtered and addresses is not None else None,
            limit=max_connections,
            limit_per_host=max_connections,
            force_close=force_close,
            keepalive_timeout=keepalive,
        )
        session_proxy = proxy.url if proxy is not None else None
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        headers=dict(headers or {}),
        proxy=session_proxy,
        trace_configs=list(trace_configs) or None,
    )


def header_bytes(raw_headers: Iterable[tuple[bytes, bytes]]) -> int:
    """The size of a header block as sent (``name: value`` plus CRLF per line)."""
    return sum(len(name) + len(value) + 4 for name, value in raw_headers)


def check_header_size(response: aiohttp.ClientResponse, limit: int = MAX_HEADER_BYTES) -> None:
    """Refuse an answer whose headers are over ``limit`` bytes (aiohttp alone allows 128 lines of 8 KiB)."""
    size = header_bytes(response.raw_headers)
    if size > limit:
        raise HeadersTooLarge(f"answer headers are {size} bytes, over the {limit}-byte limit")
