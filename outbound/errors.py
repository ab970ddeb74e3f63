"""What the outbound layer refuses, as errors callers can catch without knowing an HTTP library."""

from __future__ import annotations

from poller.errors import ReelayError


class OutboundError(ReelayError):
    """A call this layer refused to make or to finish; ``str()`` is safe for logs (no query strings)."""


class AddressRefused(OutboundError, OSError):
    """A URL from outside leads to an address Reelay may not reach (loopback, private, link-local, …).

    An ``OSError`` too: aiohttp passes a resolver's ``OSError`` on as the cause of its connection error,
    which is how a refusal made while connecting reaches the caller.
    """

    def __init__(self, host: str, address: str, reason: str) -> None:
        super().__init__(f"{host} is {address}: {reason}")
        self.host = host
        self.address = address
        self.reason = reason
        self.url = ""  # the hop's URL without its query, once known (set by the caller that fetched it)


class TooManyRedirects(OutboundError):
    """A redirect chain longer than allowed."""


class HeadersTooLarge(OutboundError):
    """An answer whose header block is over the limit."""


class ProxyNotSupported(OutboundError):
    """A proxy that cannot carry a given kind of call (botocore speaks only to http(s) proxies)."""
