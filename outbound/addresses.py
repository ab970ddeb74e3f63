"""Which addresses a URL from outside may make Reelay connect to, and an aiohttp resolver that enforces it.

A video link comes from a provider's answer, a callback or an integrator: whoever controls it could point Reelay
at its own network (cloud metadata on 169.254.169.254, Redis on 127.0.0.1:6379, an admin page on 10.0.0.5).
Only globally routable addresses pass. The check is made on the addresses the connector is handed
(:class:`FilteringResolver`), so the address connected to is the address checked: a name that answers a public
address to one lookup and a private one to the next (DNS rebinding) cannot slip through. aiohttp does not ask the
resolver about a literal IP, so callers check those with :meth:`AddressPolicy.check_host` first.

Operator configuration (the provider base URL, Telegram's, S3's, the proxy itself) is trusted and never filtered.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from aiohttp import DefaultResolver
from aiohttp.abc import AbstractResolver, ResolveResult

from outbound.errors import AddressRefused

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

# In the order a reason is reported. Python 3.11's is_global misses several of these for IPv6
# (site-local, 6to4 and IPv4-compatible addresses count as global there), so each is asked for by name.
_NON_PUBLIC: tuple[tuple[str, str], ...] = (
    ("is_unspecified", "unspecified"),
    ("is_loopback", "loopback"),
    ("is_link_local", "link-local"),
    ("is_multicast", "multicast"),
    ("is_private", "private"),
    ("is_reserved", "reserved"),
)


def refusal(address: IPAddress) -> str | None:
    """Why a URL from outside may not reach ``address``, or None when it is globally routable."""
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return "an IPv4-mapped IPv6 address"
        if address.is_site_local:
            return "site-local"
        if address.sixtofour is not None:
            inner = refusal(address.sixtofour)
            if inner is not None:
                return f"a 6to4 address of a {inner} one"
        if address.teredo is not None:
            return "a Teredo tunnel address"
    for attribute, reason in _NON_PUBLIC:
        if getattr(address, attribute):
            return reason
    if not address.is_global:
        return "not globally routable"
    return None


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """The address check for URLs that come from outside.

    ``allow_private`` lifts it (tests, the sandbox, a CDN on a private network). ``allowed`` lets chosen networks
    through although they are not global (a private CDN's range; tests use it for a loopback server that stands in
    for one on the internet).
    """

    allow_private: bool = False
    allowed: tuple[IPNetwork, ...] = ()

    @property
    def active(self) -> bool:
        """Whether any address is refused at all."""
        return not self.allow_private

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be reached, or None."""
        if self.allow_private or any(address in network for network in self.allowed):
            return None
        return refusal(address)

    def check_host(self, host: str) -> None:
        """Refuse a literal IP host that may not be reached; host names are checked when resolved."""
        address = _literal(host)
        if address is None:
            return
        reason = self.refusal(address)
        if reason is not None:
            raise AddressRefused(host, str(address), reason)

    async def check_resolved(self, host: str, port: int) -> None:
        """Resolve ``host`` here and refuse it unless every address passes.

        For calls through a proxy, which resolves the name itself: each of its answers must be allowed, since the
        proxy may pick any of them. (A name that changes its answer between the two lookups is the proxy's to
        catch; the operator chose that proxy.)
        """
        if not self.active:
            return
        if _literal(host) is not None:
            self.check_host(host)
            return
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        for *_, sockaddr in infos:
            address = ip_address(sockaddr[0])
            reason = self.refusal(address)
            if reason is not None:
                raise AddressRefused(host, str(address), reason)


class FilteringResolver(AbstractResolver):
    """An aiohttp resolver that hands the connector only the addresses ``policy`` allows.

    A name with no allowed address raises :class:`AddressRefused`, which aiohttp reports as a
    ``ClientConnectorDNSError`` whose ``os_error`` it is.
    """

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner if inner is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The allowed addresses of ``host``; :class:`AddressRefused` when there are none."""
        found = await self._inner.resolve(host, port, family)
        allowed = [result for result in found if self._policy.refusal(ip_address(result["host"])) is None]
        if not allowed:
            raise _refused(host, found, self._policy)
        return allowed

    async def close(self) -> None:
        """Release the inner resolver."""
        await self._inner.close()


def _refused(host: str, found: Sequence[ResolveResult], policy: AddressPolicy) -> AddressRefused:
    if not found:
        return AddressRefused(host, "no address", "the name did not resolve")
    first = ip_address(found[0]["host"])
    return AddressRefused(host, str(first), policy.refusal(first) or "refused")


def _literal(host: str) -> IPAddress | None:
    """The address a literal IP host names (brackets and an IPv6 zone allowed), or None for a name."""
    text = host.strip("[]")
    try:
        return ip_address(text)
    except ValueError:
        return None
