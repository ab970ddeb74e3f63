"""Which egress proxy each outbound call goes through.

``network.proxy_url`` when set, else the standard ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` variables
(either case), read by the standard library (:func:`urllib.request.getproxies_environment`); ``NO_PROXY`` lists the
hosts that go direct either way (:func:`urllib.request.proxy_bypass_environment`). A proxy URL may carry
``user:password@``: :attr:`Proxy.shown` is what logs and errors may print.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

# proxy_bypass_environment has been in the standard library for decades but is missing from typeshed.
from urllib.request import getproxies_environment, proxy_bypass_environment  # type: ignore[attr-defined]

from outbound.errors import OutboundError, ProxyNotSupported

SCHEMES = ("http", "https", "socks5", "socks5h")
_CREDENTIALS_IN_URL = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^\s/@'\"<>]+@", re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443, "socks5": 1080, "socks5h": 1080}


class ProxyUrlError(OutboundError):
    """A proxy URL that cannot be used; ``source`` names where it came from (a setting or a variable)."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message


@dataclass(frozen=True, slots=True)
class Proxy:
    """One egress proxy. ``url`` may hold a password: print :attr:`shown`, never ``url``."""

    url: str = field(repr=False)
    scheme: str
    host: str
    port: int
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str, *, source: str = "network.proxy_url") -> Proxy:
        """Read a proxy URL (``host:port`` alone means http, as curl takes it); :class:`ProxyUrlError` if unusable."""
        text = url.strip()
        if "://" not in text:
            text = f"http://{text}"
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError:
            raise ProxyUrlError(source, "is not a valid URL") from None  # never echo it: it may hold a password
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            raise ProxyUrlError(source, f"must be one of {', '.join(s + '://' for s in SCHEMES)}")
        if not parts.hostname:
            raise ProxyUrlError(source, "has no host")
        return cls(
            url=text,
            scheme=scheme,
            host=parts.hostname,
            port=port or _DEFAULT_PORTS[scheme],
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    @property
    def is_socks(self) -> bool:
        """A SOCKS5 proxy (``socks5h``: the proxy resolves names)."""
        return self.scheme.startswith("socks")

    @property
    def shown(self) -> str:
        """The URL without its password, for logs and errors."""
        user = f"{self.username}:***@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{user}{host}:{self.port}"

    def __str__(self) -> str:
        return self.shown


class Proxies:
    """The proxy for each URL: the configured one (or the environment's), unless ``NO_PROXY`` names the host.

    Built once at start-up: the environment is read then.
    """

    def __init__(self, proxy_url: str | None = None) -> None:
        env = getproxies_environment()
        self._no_proxy = {"no": env["no"]} if env.get("no") else None
        if proxy_url:
            configured = Proxy.parse(proxy_url)
            self._by_scheme: dict[str, Proxy | None] = {"http": configured, "https": configured}
        else:
            self._by_scheme = {
                "http": _from_env(env, "http"),
                "https": _from_env(env, "https"),
            }

    @property
    def any(self) -> bool:
        """Whether any call may go through a proxy."""
        return any(proxy is not None for proxy in self._by_scheme.values())

    def describe(self) -> dict[str, str | None]:
        """The proxies in force, passwords hidden, and ``NO_PROXY``: for a start-up log line."""
        return {
            "http": self._by_scheme["http"].shown if self._by_scheme["http"] else None,
            "https": self._by_scheme["https"].shown if self._by_scheme["https"] else None,
            "no_proxy": self._no_proxy["no"] if self._no_proxy else None,
        }

    def for_url(self, url: str) -> Proxy | None:
        """The proxy a call to ``url`` goes through, or None to go direct."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return None  # the caller refuses the URL itself
        proxy = self._by_scheme.get(parts.scheme.lower())
        if proxy is None or not parts.hostname:
            return None
        if self._no_proxy is not None:
            host = parts.hostname if port is None else f"{parts.hostname}:{port}"
            if proxy_bypass_environment(host, self._no_proxy):
                return None
        return proxy

    def botocore_proxies(self, url: str) -> dict[str, str]:
        """botocore's ``proxies`` setting for calls to ``url``: ``{}`` sends them direct (and keeps botocore from
        reading the environment again); :class:`ProxyNotSupported` for a SOCKS proxy, which botocore cannot use."""
        proxy = self.for_url(url)
        if proxy is None:
            return {}
        if proxy.is_socks:
            raise ProxyNotSupported(
                f"{proxy.shown} is a SOCKS proxy, and S3 calls (botocore) can only go through an http(s) one"
            )
        return {"http": proxy.url, "https": proxy.url}


def _from_env(env: dict[str, str], scheme: str) -> Proxy | None:
    value = env.get(scheme) or env.get("all")
    if not value:
        return None
    source = f"{scheme.upper()}_PROXY" if env.get(scheme) else "ALL_PROXY"
    return Proxy.parse(value, source=source)


def without_credentials(text: str) -> str:
    """``text`` with the ``user:password@`` of every URL in it masked: an HTTP library's error may quote the proxy
    URL it was given, password included."""
    return _CREDENTIALS_IN_URL.sub(r"\1***@", text)
