r"""A reverse proxy on 127.0.0.1 that injects faults on demand, for testing against real upstreams.

Put it between a client and a real server (moto's S3, the KIE simulator…): every request is
forwarded unchanged (method, raw path and query, headers except hop-by-hop ones, body streamed
both ways), until a test queues a fault with :meth:`FaultProxy.inject`; the next matching requests
then get an error status, a dropped connection or a delay instead.

The original ``Host`` header goes upstream untouched: S3 clients sign it (SigV4), so a proxy that
rewrote it would break every signature. Serve the app with ``sandbox.serve.ThreadedServer``::

    proxy = FaultProxy(s3.endpoint_url)
    with ThreadedServer(create_app(proxy)) as server:
        client = boto3.client("s3", endpoint_url=server.url, ...)  # same credentials as for moto
        proxy.inject(500, match="PUT /bucket/.*")  # the next PUT to the bucket gets an InternalError
        proxy.inject(drop=True, match=r"POST .*\?uploads")  # the next CreateMultipartUpload: no answer

Clients retry on their own: botocore retries 5xx (``total_max_attempts``), and aiohttp (under
aioboto3) resends an idempotent request (GET, PUT, DELETE…) once after a dropped connection, so a
test that wants the fault to surface turns botocore's retries off or injects ``times=2``.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import httpx
import structlog
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

log = structlog.get_logger(__name__)

# RFC 9110 §7.6.1 connection-specific headers, plus Expect: the proxy's server answers
# "100 Continue" itself, and SigV4 never signs Expect, so dropping it cannot break a signature.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
     "transfer-encoding", "upgrade", "expect", "proxy-connection"}
)  # fmt: skip
# Headers httpx adds by default; sent upstream only when the client sent them itself.
_HTTPX_DEFAULTS = ("accept", "accept-encoding", "user-agent")
_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
_S3_CODES = {400: "InvalidRequest", 403: "AccessDenied", 404: "NoSuchKey", 409: "OperationAborted",
             429: "SlowDown", 500: "InternalError", 501: "NotImplemented", 503: "ServiceUnavailable"}  # fmt: skip
# Where the app finds the server's transport (set by _ProxyApp for drop faults).
_TRANSPORT = "fault_proxy.transport"

Matcher = Callable[[Request], bool]


class Seen(NamedTuple):
    """One request the proxy saw: method, URL path (no query) and the status the client got
    (None when the connection was dropped)."""

    method: str
    path: str
    status: int | None


@dataclass(slots=True)
class Fault:
    """A queued fault: what to do to the next ``times`` requests that ``match``."""

    status: int | None
    times: int
    match: Matcher | None
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    delay_s: float = 0.0


def s3_error_body(status: int, message: str = "Injected fault") -> bytes:
    """An S3-style XML error document for ``status`` (``<Error><Code>InternalError</Code>…``)."""
    code = _S3_CODES.get(status, "InternalError" if status >= 500 else "InvalidRequest")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault-proxy</RequestId></Error>"
    ).encode()


def _compile_match(match: Matcher | str | None) -> Matcher | None:
    if match is None or callable(match):
        return match
    pattern = re.compile(match)

    # "METHOD /path" must match whole, with or without the query (so "POST /b/k\?uploads" works too).
    def by_pattern(request: Request) -> bool:
        target = f"{request.method} {request.url.path}"
        query = request.url.query
        return bool(pattern.fullmatch(target) or (query and pattern.fullmatch(f"{target}?{query}")))

    return by_pattern


class FaultProxy:
    """The proxy's state: the upstream, the fault queue and the log of requests (thread-safe)."""

    def __init__(self, upstream_url: str, *, timeout_s: float = 60.0) -> None:
        self.upstream = httpx.URL(upstream_url.rstrip("/"))
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._seen: list[Seen] = []

    def inject(
        self,
        status: int | None = 500,
        *,
        times: int = 1,
        match: Matcher | str | None = None,
        body: bytes | None = None,
        content_type: str = "application/xml",
        headers: Mapping[str, str] | None = None,
        drop: bool = False,
        delay_s: float = 0.0,
    ) -> None:
        """Queue a fault for the next ``times`` matching requests (``match``: a ``"METHOD /path"``
        regex, a predicate on the request, or None for any). ``status`` answers with that status and
        ``body`` (an S3 XML error by default); ``drop`` closes the connection without an answer;
        ``delay_s`` waits first (alone, with ``status=None``, it only slows the request down)."""
        if times < 1:
            raise ValueError("times must be at least 1")
        if status is None and not drop and delay_s <= 0:
            raise ValueError("a fault needs a status, drop=True or a delay")
        if status is not None and not 100 <= status <= 599:
            raise ValueError(f"not an HTTP status: {status}")
        all_headers = {"content-type": content_type, **(headers or {})}
        fault = Fault(
            status=None if drop else status,
            times=times,
            match=_compile_match(match),
            body=s3_error_body(status) if body is None and status is not None else (body or b""),
            headers=all_headers,
            drop=drop,
            delay_s=delay_s,
        )
        with self._lock:
            self._faults.append(fault)

    @property
    def requests(self) -> list[Seen]:
        """Every request seen so far, oldest first (a copy)."""
        with self._lock:
            return list(self._seen)

    @property
    def pending_faults(self) -> int:
        """How many injected faults still wait for a request (counting ``times``)."""
        with self._lock:
            return sum(f.times for f in self._faults)

    def reset(self) -> None:
        """Forget queued faults and the request log."""
        with self._lock:
            self._faults.clear()
            self._seen.clear()

    def take_fault(self, request: Request) -> Fault | None:
        """The first queued fault that matches ``request``, counted as used (oldest first)."""
        with self._lock:
            for fault in self._faults:
                if fault.match is None or fault.match(request):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def record(self, request: Request, status: int | None) -> None:
        """Add one request to the log."""
        with self._lock:
            self._seen.append(Seen(request.method, request.url.path, status))


class _ProxyApp(Starlette):
    # uvicorn hands the app its connection's ``send`` as a bound method of an object holding the
    # transport; ASGI itself has no way to drop a connection without answering, so keep it in scope.
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[_TRANSPORT] = getattr(getattr(send, "__self__", None), "transport", None)
        await super().__call__(scope, receive, send)


def create_app(proxy: FaultProxy) -> Starlette:
    """The proxy as an ASGI app: every method and path is forwarded or faulted."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=20)
        timeout = httpx.Timeout(proxy.timeout_s)
        # trust_env=False: never route test traffic through a proxy from the environment.
        async with httpx.AsyncClient(timeout=timeout, limits=limits, trust_env=False) as client:
            app.state.client = client
            yield

    async def handle(request: Request) -> Response:
        fault = proxy.take_fault(request)
        if fault is None:
            return await _forward(proxy, request.app.state.client, request)
        log.info("fault_injected", method=request.method, path=request.url.path, status=fault.status, drop=fault.drop)
        if fault.delay_s > 0:
            await asyncio.sleep(fault.delay_s)
        if fault.drop:
            return await _drop(proxy, request)
        if fault.status is None:  # a pure delay: forward as usual
            return await _forward(proxy, request.app.state.client, request)
        await _drain(request)  # read the body first, so the client sees the answer, not a reset
        proxy.record(request, fault.status)
        return Response(fault.body, status_code=fault.status, headers=fault.headers)

    return _ProxyApp(routes=[Route("/{path:path}", handle, methods=_METHODS)], lifespan=lifespan)


async def _drain(request: Request) -> None:
    async for _ in request.stream():
        pass


async def _drop(proxy: FaultProxy, request: Request) -> Response:
    transport: Any = request.scope.get(_TRANSPORT)
    if transport is None:
        raise RuntimeError("drop faults need uvicorn (no transport in the ASGI scope)")
    await _drain(request)  # the request arrived whole; the answer never comes
    proxy.record(request, None)
    transport.close()
    await asyncio.sleep(0)  # let uvicorn see the disconnect, so the response below goes nowhere
    return Response(status_code=499)


def _end_to_end(raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The headers without hop-by-hop ones, including those the Connection header names."""
    named = {
        token.strip().lower()
        for name, value in raw
        if name.lower() == b"connection"
        for token in value.decode("latin-1").split(",")
    }
    drop = _HOP_BY_HOP | named
    return [(k, v) for k, v in raw if k.decode("latin-1").lower() not in drop]


def _upstream_request(proxy: FaultProxy, client: httpx.AsyncClient, request: Request) -> httpx.Request:
    raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    query: bytes = request.scope.get("query_string", b"")
    target = proxy.upstream.raw_path.rstrip(b"/") + raw_path + (b"?" + query if query else b"")
    headers = _end_to_end(request.headers.raw)
    # Stream a body only when there is one: an empty chunked body on a DELETE confuses some servers.
    has_body = request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
    stream = request.stream() if has_body else None
    upstream = client.build_request(
        request.method, proxy.upstream.copy_with(raw_path=target), headers=headers, content=stream
    )
    sent = {k.decode("latin-1").lower() for k, _ in request.headers.raw}
    for name in _HTTPX_DEFAULTS:
        if name not in sent:
            upstream.headers.pop(name, None)
    return upstream


async def _forward(proxy: FaultProxy, client: httpx.AsyncClient, request: Request) -> Response:
    try:
        upstream = await client.send(_upstream_request(proxy, client, request), stream=True)
    except httpx.HTTPError as exc:
        log.warning("upstream_unreachable", path=request.url.path, error=type(exc).__name__)
        proxy.record(request, 502)
        return Response(s3_error_body(502, "Upstream unreachable"), status_code=502, media_type="application/xml")
    proxy.record(request, upstream.status_code)
    response = StreamingResponse(
        upstream.aiter_raw(), status_code=upstream.status_code, background=BackgroundTask(upstream.aclose)
    )
    response.raw_headers = _end_to_end(upstream.headers.raw)
    return response
