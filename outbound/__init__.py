"""Every outbound HTTP call's one place: the egress proxy, the address checks for URLs from outside, the limits.

Imports nothing of ours but ``poller``'s errors. ``providers/``, ``bot/`` and the composition root build their
clients through it; ``storage/`` gets botocore's proxy setting from the composition root.
"""

from outbound.addresses import AddressPolicy, FilteringResolver, refusal
from outbound.errors import AddressRefused, HeadersTooLarge, OutboundError, ProxyNotSupported, TooManyRedirects
from outbound.network import Network
from outbound.posts import PostAnswer, UntrustedPosts
from outbound.proxies import Proxies, Proxy, ProxyUrlError, without_credentials
from outbound.sessions import MAX_HEADER_BYTES, check_header_size, client_session
from outbound.untrusted import MAX_REDIRECTS, UntrustedGets, UntrustedUrl, without_query

__all__ = [
    "MAX_HEADER_BYTES",
    "MAX_REDIRECTS",
    "AddressPolicy",
    "AddressRefused",
    "FilteringResolver",
    "HeadersTooLarge",
    "Network",
    "OutboundError",
    "PostAnswer",
    "Proxies",
    "Proxy",
    "ProxyNotSupported",
    "ProxyUrlError",
    "TooManyRedirects",
    "UntrustedGets",
    "UntrustedPosts",
    "UntrustedUrl",
    "check_header_size",
    "client_session",
    "refusal",
    "without_credentials",
    "without_query",
]
