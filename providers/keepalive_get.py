"""GET requests over kept-alive HTTP/1.1 connections, answers parsed by httptools: the status polls' hot path.

Every poll of every job is one small GET (``record-info``), thousands per second at scale. aiohttp's
client spends most of its CPU per call on machinery a status call does not need (request and response
objects, header multidicts, URL objects, two timers); this path keeps only what it needs: a request
written from a cached header block, the answer parsed by httptools (llhttp, the parser behind uvicorn)
straight into an :class:`ApiResponse`. It costs less than half of aiohttp's client CPU per call
(``benchmarks/http_calls.py``, docs/performance.md §1.5). Submits, extends and video downloads stay on
aiohttp.

GETs only, so a request that meets a kept-alive connection the server had just closed (no byte of an
answer came back) is sent once more on a new connection, as aiohttp and browsers do. One connection
carries one request at a time (no pipelining: many servers and proxies get it wrong), and a connection on which
anything arrives after a complete answer is closed, never reused: those bytes would be read as the next answer.

Bounded in time and size: once the request is out, the whole answer must be in within ``timeout_s``, however
slowly its bytes trickle in; headers over 64 KiB and bodies over 1 MiB are refused. No proxy
support: when an egress proxy applies to the provider, ``providers/api_client.py`` sends the GETs over aiohttp.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

import httptools

from outbound import MAX_HEADER_BYTES
from providers.api_types import MAX_BODY_BYTES, ApiResponse, ApiTransportError, ApiUrlError

# Bounds on the caches of parsed URLs and encoded header blocks (a handful of each in practice).
_CACHE_LIMIT = 256
_DECODERS = {b"gzip": 16 + zlib.MAX_WBITS, b"x-gzip": 16 + zlib.MAX_WBITS, b"deflate": zlib.MAX_WBITS}


@dataclass(frozen=True, slots=True)
class _Target:
    """Where a URL's requests go: the origin's connection key and the bytes of the request line's target."""

    origin: tuple[str, str, int]  # scheme, host, port
    host_header: str
    path: bytes


class _StaleConnection(Exception):
    """A reused connection closed before any byte of the answer: safe to send the GET again."""


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection carrying one exchange at a time; the answer resolves :attr:`answer`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_lost: Callable[[_Connection], None]) -> None:
        self._loop = loop
        self._on_lost = on_lost
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.keep_alive = False
        self._answer: asyncio.Future[ApiResponse] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timeout_s = 0.0
        self._received = False
        self._head_seen = 0  # bytes received before the headers were complete
        self._header_bytes = 0  # the headers' own size, counted as they are parsed
        self._headers_done = False
        self._framed = False  # Content-Length or chunked: the answer ends on its own, not at close
        self._status = 0
        self._retry_after: str | None = None
        self._encoding: bytes | None = None
        self._body: list[bytes] = []
        self._size = 0

    # ------------------------------------------------------------------ the exchange

    def send(self, request: bytes, timeout_s: float) -> asyncio.Future[ApiResponse]:
        """Write ``request``; the future resolves with the answer, or fails if it is not complete within
        ``timeout_s``."""
        assert self._transport is not None
        assert self._answer is None
        self._answer = answer = self._loop.create_future()
        self._received = self._headers_done = self._framed = False
        self._status, self._retry_after, self._encoding, self._size = 0, None, None, 0
        self._head_seen = self._header_bytes = 0
        self._body = []
        self._timeout_s = timeout_s
        # One timer per exchange, never moved: a trickling answer ends at the deadline like a silent one.
        self._timer = self._loop.call_at(self._loop.time() + timeout_s, self._expire)
        self._transport.write(request)
        return answer

    def close(self) -> None:
        """Close the connection; an exchange in progress fails as "may have been sent"."""
        if self._transport is not None:
            self._transport.close()
        self._fail(ApiTransportError("connection closed", sent=True))

    def _expire(self) -> None:
        self._timer = None
        self._fail(ApiTransportError(f"no complete answer within {self._timeout_s:g} s", sent=True))
        self._abort()

    def _finish(self) -> None:
        answer, self._answer = self._answer, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if answer is None or answer.done():
            return
        if self._size > MAX_BODY_BYTES:
            self.keep_alive = False
            answer.set_exception(ApiTransportError(f"answer too large: over {MAX_BODY_BYTES} bytes", sent=True))
            return
        body = b"".join(self._body)
        self._body = []
        if self._encoding is not None:
            try:
                body = _decode(body, self._encoding)
            except (ValueError, zlib.error) as exc:
                self.keep_alive = False
                answer.set_exception(ApiTransportError(f"undecodable answer: {exc}", sent=True))
                return
        answer.set_result(ApiResponse(self._status, self._retry_after, body))

    def _fail(self, exc: Exception) -> None:
        answer, self._answer = self._answer, None
        self.keep_alive = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if answer is not None and not answer.done():
            answer.set_exception(exc)

    def _refuse_headers(self) -> None:
        self._fail(ApiTransportError(f"answer headers over {MAX_HEADER_BYTES} bytes", sent=True))
        self._abort()

    def _abort(self) -> None:
        self.keep_alive = False
        if self._transport is not None:
            self._transport.abort()

    # ------------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        if self._answer is None:
            self._abort()  # bytes nobody asked for: the connection's framing cannot be trusted
            return
        self._received = True
        if not self._headers_done:
            self._head_seen += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ApiTransportError(f"malformed HTTP answer: {exc}", sent=True))
            self._abort()
            return
        if not self._headers_done and self._head_seen > MAX_HEADER_BYTES:
            self._refuse_headers()  # still no end of the headers after 64 KiB: refused before more is buffered
            return
        if self._size > MAX_BODY_BYTES:
            self._fail(ApiTransportError(f"answer too large: over {MAX_BODY_BYTES} bytes", sent=True))
            self._abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.keep_alive = False
        self._on_lost(self)
        if self._answer is None:
            return
        if self._headers_done and not self._framed:
            self._finish()  # an answer without a length ends when the server closes
        elif not self._received:
            self._fail(_StaleConnection())
        else:
            self._fail(ApiTransportError("connection closed mid-answer", sent=True))

    # ------------------------------------------------------------------ httptools callbacks

    def on_message_begin(self) -> None:
        if self._answer is None:
            # A second message after the complete answer, in the same read: stray bytes. Not reused, or they
            # would be taken as the answer to the next request.
            self.keep_alive = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4
        name = name.lower()
        if name == b"content-length" or name == b"transfer-encoding":
            self._framed = True
        elif name == b"retry-after":
            self._retry_after = value.decode("latin-1").strip()
        elif name == b"content-encoding":
            encoding = value.strip().lower()
            self._encoding = None if encoding == b"identity" else encoding

    def on_headers_complete(self) -> None:
        if self._header_bytes > MAX_HEADER_BYTES:
            self._refuse_headers()  # the rest of this read is parsed for nothing; the answer has failed
            return
        self._headers_done = True
        self._status = self._parser.get_status_code()
        self.keep_alive = self._parser.should_keep_alive() and self._answer is not None

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size <= MAX_BODY_BYTES:
            self._body.append(body)

    def on_message_complete(self) -> None:
        if self._status < 200:
            # An informational answer (1xx); the real one follows on the same connection.
            self._headers_done = self._framed = False
            self._body, self._size, self._encoding = [], 0, None
            return
        self._finish()


class KeepAliveGets:
    """GETs over at most ``max_connections`` kept-alive connections (all origins together).

    Timeouts as in :class:`providers.aiohttp_pool.AiohttpPool`: waiting for a free connection is bounded by
    ``timeout_s`` and connecting by ``min(5 s, timeout_s)`` (nothing was sent if either runs out); then the whole
    answer must arrive within ``timeout_s`` of sending, however slowly it trickles in. Idle connections are kept
    ``keepalive_s``.
    https is verified against the system's CAs unless ``tls`` is given.
    """

    def __init__(
        self,
        timeout_s: float,
        max_connections: int,
        headers: Mapping[str, str] | None = None,
        *,
        keepalive_s: float = 30.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        if timeout_s <= 0 or max_connections <= 0:
            raise ValueError("timeout_s and max_connections must be positive")
        self._timeout_s = timeout_s
        self._connect_s = min(5.0, timeout_s)
        self._keepalive_s = keepalive_s
        self._default_headers = dict(headers or {})
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: dict[tuple[str, str, int], deque[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._targets: dict[str, _Target] = {}
        self._heads: dict[tuple[tuple[str, str, int], tuple[tuple[str, str], ...]], bytes] = {}
        self._tls = tls  # None: the system's trusted CAs, made at the first https connection
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    async def get(
        self, url: str, *, headers: Mapping[str, str], params: Mapping[str, str] | None = None
    ) -> ApiResponse:
        """GET ``url`` (plus ``params``) and read the whole answer; raise ApiTransportError or ApiUrlError."""
        target = self._target(url)
        request = self._request(target, headers, params)
        if self._closed:
            raise ApiTransportError("client is closed", sent=False)
        await self._take_slot()
        try:
            return await self._exchange(target, request)
        finally:
            self._slots.release()

    async def aclose(self) -> None:
        """Close every connection (idempotent); exchanges in progress fail."""
        self._closed = True
        for connection in list(self._open):
            connection.close()
        self._open.clear()
        self._idle.clear()
        await asyncio.sleep(0)  # let the transports finish closing

    # ------------------------------------------------------------------ requests

    def _target(self, url: str) -> _Target:
        target = self._targets.get(url)
        if target is None:
            target = _parse_url(url)
            if len(self._targets) >= _CACHE_LIMIT:
                self._targets.clear()
            self._targets[url] = target
        return target

    def _request(self, target: _Target, headers: Mapping[str, str], params: Mapping[str, str] | None) -> bytes:
        key = (target.origin, tuple(headers.items()))
        head = self._heads.get(key)
        if head is None:
            head = _header_block(target.host_header, {**self._default_headers, **headers})
            if len(self._heads) >= _CACHE_LIMIT:
                self._heads.clear()
            self._heads[key] = head
        path = target.path
        if params:
            path += b"?" + urlencode(params, quote_via=quote).encode("ascii")
        return b"GET " + path + b" HTTP/1.1\r\n" + head

    async def _exchange(self, target: _Target, request: bytes) -> ApiResponse:
        connection = self._idle_connection(target.origin)
        reused = connection is not None
        if connection is None:
            connection = await self._connect(target.origin)
        try:
            try:
                response = await connection.send(request, self._timeout_s)
            except _StaleConnection:
                if not reused:
                    raise ApiTransportError("connection closed before an answer", sent=True) from None
                # The server closed the kept-alive connection as the request went out: a GET may go again.
                connection = await self._connect(target.origin, sent_before=True)
                response = await connection.send(request, self._timeout_s)
        except _StaleConnection:
            raise ApiTransportError("connection closed before an answer", sent=True) from None
        except BaseException:
            connection.close()  # cancelled or failed mid-exchange: its framing is unknown now
            raise
        self._put_back(target.origin, connection)
        return response

    # ------------------------------------------------------------------ the pool

    async def _take_slot(self) -> None:
        if not self._slots.locked():
            await self._slots.acquire()
            return
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._slots.acquire()
        except TimeoutError:
            raise ApiTransportError(f"no free connection within {self._timeout_s:g} s", sent=False) from None

    def _idle_connection(self, origin: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        now = asyncio.get_running_loop().time()
        while idle:
            connection = idle.pop()  # the most recently used: the least likely to have been closed
            if not connection.closed and now - connection.idle_since < self._keepalive_s:
                return connection
            connection.close()
        return None

    def _put_back(self, origin: tuple[str, str, int], connection: _Connection) -> None:
        if self._closed or connection.closed or not connection.keep_alive:
            connection.close()
            return
        now = asyncio.get_running_loop().time()
        connection.idle_since = now
        idle = self._idle.setdefault(origin, deque())
        while idle and now - idle[0].idle_since >= self._keepalive_s:
            idle.popleft().close()  # the longest idle expire here, with no timer of their own
        idle.append(connection)

    async def _connect(self, origin: tuple[str, str, int], *, sent_before: bool = False) -> _Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        tls = self._tls_context() if scheme == "https" else None
        try:
            async with asyncio.timeout(self._connect_s):
                _, connection = await loop.create_connection(
                    lambda: _Connection(loop, self._forget),
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                )
        except (OSError, TimeoutError) as exc:
            raise ApiTransportError(f"cannot connect to {host}:{port}: {_describe(exc)}", sent=sent_before) from exc
        if self._closed:
            connection.close()
            raise ApiTransportError("client is closed", sent=sent_before)
        self._open.add(connection)
        return connection

    def _forget(self, connection: _Connection) -> None:
        self._open.discard(connection)

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls


def _parse_url(url: str) -> _Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ApiUrlError(f"{url!r}: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ApiUrlError(f"{url!r}: not an http(s) URL with a host")
    if parts.query or parts.fragment:
        raise ApiUrlError(f"{url!r}: pass the query as params")
    default_port = 443 if scheme == "https" else 80
    host = parts.hostname
    shown_host = f"[{host}]" if ":" in host else host
    host_header = shown_host if port in (None, default_port) else f"{shown_host}:{port}"
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    return _Target((scheme, host, port or default_port), host_header, path.encode("ascii"))


def _header_block(host_header: str, headers: Mapping[str, str]) -> bytes:
    lines = [f"Host: {host_header}", "Accept-Encoding: gzip, deflate"]
    for name, value in headers.items():
        if not name or any(c in name for c in "\r\n: \t") or "\r" in value or "\n" in value:
            raise ApiUrlError(f"header {name!r} cannot be sent: a name or value with a line break or separator")
        if name.lower() in ("host", "accept-encoding", "content-length", "transfer-encoding", "connection"):
            continue  # this client frames the request itself
        lines.append(f"{name}: {value}")
    try:
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError as exc:
        raise ApiUrlError(f"a header cannot be sent: {exc}") from exc


def _decode(body: bytes, encoding: bytes) -> bytes:
    wbits = _DECODERS.get(encoding)
    if wbits is None:
        raise ValueError(f"content encoding {encoding.decode('latin-1')!r} not supported")
    decoder = zlib.decompressobj(wbits)
    decoded = decoder.decompress(body, MAX_BODY_BYTES + 1)
    if len(decoded) > MAX_BODY_BYTES or decoder.unconsumed_tail:
        raise ValueError(f"decoded answer over {MAX_BODY_BYTES} bytes")
    return decoded


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
