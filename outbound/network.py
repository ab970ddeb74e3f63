"""The outbound policy of one process, built once from the settings and handed to every client that calls out."""

from __future__ import annotations

from dataclasses import dataclass, field

from outbound.addresses import AddressPolicy
from outbound.proxies import Proxies, Proxy


@dataclass(frozen=True)
class Network:
    """Which proxy each URL goes through, and which addresses URLs from outside may reach."""

    proxies: Proxies = field(default_factory=Proxies)
    addresses: AddressPolicy = field(default_factory=AddressPolicy)

    @classmethod
    def configure(cls, *, proxy_url: str | None, allow_private_addresses: bool) -> Network:
        """From ``network.proxy_url`` (else the environment's proxy variables) and
        ``network.allow_private_addresses``; :class:`~outbound.proxies.ProxyUrlError` for an unusable proxy URL."""
        return cls(Proxies(proxy_url), AddressPolicy(allow_private=allow_private_addresses))

    def proxy_for(self, url: str) -> Proxy | None:
        """The proxy a call to ``url`` goes through, or None to go direct."""
        return self.proxies.for_url(url)
