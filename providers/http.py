"""The shared httpx client factory for provider APIs and video downloads."""

from __future__ import annotations

import httpx

USER_AGENT = "reelay/0.1"


def make_http_client(timeout_s: float, max_connections: int) -> httpx.AsyncClient:
    """An ``AsyncClient`` with a bounded pool, a short connect timeout and a longer read timeout.

    ``timeout_s`` bounds reads, writes and the wait for a pooled connection; connecting gets at
    most 5 s, since a provider that does not accept a connection quickly is down, not slow.
    """
    if timeout_s <= 0 or max_connections <= 0:
        raise ValueError("timeout_s and max_connections must be positive")
    timeout = httpx.Timeout(timeout_s, connect=min(5.0, timeout_s))
    limits = httpx.Limits(
        max_connections=max_connections,
        # Keep every pooled connection alive: polling reuses them, and churn costs a TLS handshake each.
        max_keepalive_connections=max_connections,
        keepalive_expiry=30.0,
    )
    return httpx.AsyncClient(
        timeout=timeout,
        limits=limits,
        headers={"User-Agent": USER_AGENT},
        follow_redirects=True,  # result URLs often redirect to a CDN
    )
