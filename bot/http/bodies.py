"""Request bodies at the trust boundary: a size limit enforced before a body is read in full, and JSON whose
nesting is bounded. Every refusal is a 4xx with ``{"error", "field"}``, never a 500.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32


class BadBody(Exception):
    """A body the endpoint cannot use; ``status`` is the 4xx to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self) -> JSONResponse:
        """The answer: the message and the field it is about (the body)."""
        return JSONResponse({"error": self.message, "field": "body"}, status_code=self.status)


async def read_json(request: Request, *, invalid_status: int = 400) -> Any:
    """The body as JSON, or :class:`BadBody`: ``invalid_status`` when it is not JSON, 400 when it is nested
    deeper than :data:`MAX_JSON_DEPTH`."""
    body = await request.body()
    try:
        data = json.loads(body)
    except RecursionError:  # the parser's own limit (~1000 levels) is far beyond ours: same answer
        raise BadBody(400, f"the body is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError:  # also bytes that are not UTF-8, and integers of more than 4300 digits
        raise BadBody(invalid_status, "the body is not valid JSON") from None
    # Fewer brackets than the limit cannot nest past it (a Telegram update has about ten): skip the walk.
    could_nest = body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH
    if could_nest and _nested_deeper_than(data, MAX_JSON_DEPTH):
        raise BadBody(400, f"the body is nested deeper than {MAX_JSON_DEPTH} levels")
    return data


def _nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether lists and objects in ``value`` nest more than ``limit`` levels (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` is answered 413 before it is read in full.

    A declared ``Content-Length`` over the limit is refused before a byte of the body is read (uvicorn never
    hands an app more than the declared length, so a body within it needs no counting: the Telegram
    webhook's hot path costs one look at the headers). A chunked body is counted as it streams in; past the
    limit the app is told the client left, and its answer is replaced by the 413.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length, chunked = _declared_body(scope)
        if length is not None and length > self.max_bytes:
            await _too_large(scope, send, self.max_bytes)
        elif not chunked:
            await self.app(scope, receive, send)  # no body, or one no longer than its declared length
        else:
            await _CountedBody(self.app, self.max_bytes).run(scope, receive, send)


class _CountedBody:
    """One chunked request: counts its body and swaps the app's answer for a 413 once it is too large."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app = app
        self._max = max_bytes
        self._received = 0
        self._exceeded = False
        self._started = False
        self._complete = False

    async def run(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self._received += len(message.get("body", b""))
                self._complete = not message.get("more_body", False)
                if self._received > self._max:
                    self._exceeded = True
                    return {"type": "http.disconnect"}  # the app stops reading (Starlette: ClientDisconnect)
            return message

        async def guarded_send(message: Message) -> None:
            if self._exceeded and not self._started:
                return  # what the app says about a body it never got whole is replaced by the 413
            if message["type"] == "http.response.start" and not self._complete:
                # Answered before the body ended: close afterwards rather than read an endless body into the void.
                message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            self._started = True
            await send(message)

        try:
            await self._app(scope, counting_receive, guarded_send)
        except Exception:
            if not self._exceeded:
                raise
        if self._exceeded and not self._started:
            await _too_large(scope, send, self._max)


def _declared_body(scope: Scope) -> tuple[int | None, bool]:
    """The declared Content-Length (-1 when unreadable) and whether the body is chunked."""
    length: int | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            length = int(value) if value.isdigit() else -1
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
    if length == -1:
        chunked = True  # httptools refuses such requests first; if one got here, count what arrives
        length = None
    return length, chunked


def _too_large_body(scope: Scope, max_bytes: int) -> bytes:
    message = f"the body is larger than {max_bytes} bytes"
    if str(scope.get("path", "")).startswith("/v1/"):
        # The job API's one error shape (bot.http.v1.errors).
        return json.dumps({"error": {"code": "too_large", "message": message, "field": "body"}}).encode()
    return json.dumps({"error": message, "field": "body"}).encode()


async def _too_large(scope: Scope, send: Send, max_bytes: int) -> None:
    body = _too_large_body(scope, max_bytes)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # uvicorn closes the connection after this answer instead of reading the rest of the body.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
