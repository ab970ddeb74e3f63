"""A header-read timeout for uvicorn, which has none (0.54): without it a client that opens connections and
trickles its request line and headers a byte at a time holds each connection, and a place under
``limit_concurrency``, for as long as it likes (slowloris). Its keep-alive timeout does not help: it only runs
between requests, and every byte received cancels it.

The least invasive way in: uvicorn takes the HTTP protocol class as a setting (``Config(http=<class>)``), so
this module subclasses its httptools protocol (the one Reelay runs anyway) and adds a timer. It relies on
five methods of ``uvicorn.protocols.http.httptools_impl.HttpToolsProtocol``: asyncio's ``connection_made``,
``data_received`` and ``connection_lost``, and httptools' parser callbacks ``on_message_begin`` and
``on_headers_complete``; nothing else of uvicorn's. They are checked at import, so a uvicorn that renamed
them fails at start-up, and ``tests/bot/test_http_server.py`` pins the version it was checked against and
proves that a trickling client is disconnected.

Cost on the hot path: no timer at all for a request whose headers arrive in the packet that begins it (the
common case, Telegram's webhook included); one timer per connection, from its opening to its first headers.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import structlog
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = structlog.get_logger(__name__)

HEADER_TIMEOUT_S = 10.0
TESTED_UVICORN = "0.54."  # the versions whose HttpToolsProtocol this module was read against
RELIED_ON = ("connection_made", "data_received", "connection_lost", "on_message_begin", "on_headers_complete")

_missing = [name for name in RELIED_ON if not callable(getattr(HttpToolsProtocol, name, None))]
if _missing:  # pragma: no cover - only when uvicorn changes under us
    raise ImportError(f"uvicorn's HttpToolsProtocol no longer has {_missing}: bot/http/header_timeout.py needs a look")


class _HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol that closes a connection whose request headers take too long."""

    header_timeout_s: ClassVar[float] = HEADER_TIMEOUT_S

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """A new connection: its first request's headers are due within the timeout."""
        super().connection_made(transport)
        self._header_transport = transport
        self._header_timer: asyncio.TimerHandle | None = None
        self._reading_headers = True
        self._arm_header_timer()

    def on_message_begin(self) -> None:
        """The first byte of a request (parser callback)."""
        super().on_message_begin()
        self._reading_headers = True

    def data_received(self, data: bytes) -> None:
        """Bytes in: when they began a request but did not finish its headers, start the clock."""
        super().data_received(data)
        if self._reading_headers and self._header_timer is None:
            self._arm_header_timer()

    def on_headers_complete(self) -> None:
        """The request's headers are in (parser callback): no deadline until the next request begins."""
        self._reading_headers = False
        self._disarm_header_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection is gone: drop its timer."""
        self._disarm_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        loop = asyncio.get_running_loop()
        self._header_timer = loop.call_later(self.header_timeout_s, self._on_header_timeout)

    def _disarm_header_timer(self) -> None:
        timer, self._header_timer = getattr(self, "_header_timer", None), None
        if timer is not None:
            timer.cancel()

    def _on_header_timeout(self) -> None:
        self._header_timer = None
        transport = self._header_transport
        if not transport.is_closing():
            peer: Any = transport.get_extra_info("peername")
            log.info("http.header_timeout", client=peer[0] if isinstance(peer, tuple) else None)
            transport.close()


def header_timeout_protocol(timeout_s: float = HEADER_TIMEOUT_S) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with a header-read timeout of ``timeout_s`` (for ``Config(http=…)``)."""
    if timeout_s <= 0:
        raise ValueError("the header timeout must be positive")
    return type("HeaderTimeoutProtocol", (_HeaderTimeoutProtocol,), {"header_timeout_s": timeout_s})
