"""POSTs to URLs from outside (webhook targets: an integrator's callback, Discord, Slack).

The same checks as :class:`outbound.untrusted.UntrustedGets` makes on every hop: http(s) only, the address checked
(through a proxy, resolved and checked before sending; direct, by the session's resolver as it connects) and the
answer's headers bounded. A redirect is never followed: a receiver that moved answers 3xx and the caller counts
that as a failed attempt. The answer's body is read up to a bound and thrown away.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

from outbound.addresses import AddressPolicy
from outbound.checked_routes import CheckedRoutes, refusals_unwrapped, without_query
from outbound.errors import AddressRefused
from outbound.proxies import Proxies
from outbound.sessions import check_header_size

MAX_ANSWER_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class PostAnswer:
    """What a receiver answered: its status (the body was read, at most ``MAX_ANSWER_BYTES``, and dropped)."""

    status: int


class UntrustedPosts:
    """POSTs with the target checked; see the module docstring. One session per route (direct, or a proxy)."""

    def __init__(
        self,
        proxies: Proxies,
        addresses: AddressPolicy,
        *,
        timeout: aiohttp.ClientTimeout,
        max_connections: int = 10,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self._routes = CheckedRoutes(proxies, addresses, timeout=timeout, max_connections=max_connections)
        self._max_answer_bytes = max_answer_bytes

    async def aclose(self) -> None:
        """Close every session (idempotent)."""
        await self._routes.aclose()

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> PostAnswer:
        """POST ``body`` to ``url``; its answer's status.

        Raises :class:`AddressRefused` (``.url`` set, without its query), ``UntrustedUrl``, ``HeadersTooLarge``, or
        aiohttp's own errors and ``TimeoutError`` (refused, unreachable, no answer within the timeout).
        """
        try:
            session = await self._routes.session_for(url)
            with refusals_unwrapped():
                async with session.post(url, data=body, headers=dict(headers), allow_redirects=False) as response:
                    check_header_size(response)
                    await self._drain(response)
                    return PostAnswer(response.status)
        except AddressRefused as exc:
            exc.url = without_query(url)
            raise

    async def _drain(self, response: aiohttp.ClientResponse) -> None:
        # Read what a receiver says (so the connection can be kept), but never more than the bound.
        left = self._max_answer_bytes
        while left > 0:
            chunk = await response.content.read(min(left, 16 * 1024))
            if not chunk:
                return
            left -= len(chunk)
