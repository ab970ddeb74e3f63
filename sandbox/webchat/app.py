"""The web chat's HTTP side: the page, a small JSON API that acts as the person, and a live event stream.

The page never reloads: ``GET /api/events`` is a Server-Sent Events stream that opens with a snapshot of
both chats and then carries every change the bot makes (new messages, edits, deletions, button answers,
chat actions). Typing and tapping go through ``POST /api/messages`` and ``POST /api/buttons``, which
call the emulator's user side exactly as a test would.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypeGuard
from urllib.parse import urlsplit

import structlog
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from sandbox.telegram import Event
from sandbox.telegram.models import JSON
from sandbox.webchat.feed import ChatFeed, Subscription
from sandbox.webchat.views import ChatSetup, browser_language, message_view, snapshot, speak

log = structlog.get_logger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
MAX_TEXT_CHARS = 4096  # what Telegram lets a person send in one message
MAX_CAPTION_CHARS = 1024
MAX_PHOTO_BYTES = 20 * 1024 * 1024  # bounds what the page may post (base64 in JSON: a third more)
HEARTBEAT_S = 15.0
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def create_app(
    setup: ChatSetup,
    feed: ChatFeed,
    *,
    videos_dir: Path | None = None,
    heartbeat_s: float = HEARTBEAT_S,
    allowed_hosts: tuple[str, ...] = LOCAL_HOSTS,
) -> Starlette:
    """The web chat for ``setup``'s person; ``videos_dir`` (the local blob store) is served at ``/videos``."""
    api = _ChatApi(setup, feed, heartbeat_s)
    routes: list[BaseRoute] = [
        Route("/", api.page, methods=["GET"]),
        Route("/api/state", api.state, methods=["GET"]),
        Route("/api/events", api.events, methods=["GET"]),
        Route("/api/messages", api.send_message, methods=["POST"]),
        Route("/api/buttons", api.press_button, methods=["POST"]),
        Route("/api/photos", api.send_photo, methods=["POST"]),
        Route("/api/payments", api.pay_invoice, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    if videos_dir is not None:
        routes.append(Mount("/videos", StaticFiles(directory=videos_dir, check_dir=False), name="videos"))
    # A page on another site must not drive the chat through the visitor's browser: the Host check stops
    # DNS rebinding, and requiring a JSON body (see _json_body) forces a CORS preflight we never answer.
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))]
    return Starlette(routes=routes, middleware=middleware)


class _ChatApi:
    """The endpoint handlers, bound to one person's view of the emulator."""

    def __init__(self, setup: ChatSetup, feed: ChatFeed, heartbeat_s: float) -> None:
        self.setup = setup
        self.feed = feed
        self.heartbeat_s = heartbeat_s

    async def page(self, request: Request) -> Response:
        """``GET /``: the chat page, allowed to load scripts only from here and videos from the emulator too."""
        headers = {"Cache-Control": "no-cache", "Content-Security-Policy": self._policy()}
        return FileResponse(STATIC_DIR / "index.html", headers=headers)

    def _policy(self) -> str:
        emulator = urlsplit(self.setup.file_base_url)
        media = f"'self' {emulator.scheme}://{emulator.netloc}"
        return (
            f"default-src 'self'; media-src {media}; img-src {media} data:; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
        )

    def _speaks(self, request: Request) -> None:
        """The person's app speaks the browser's language: a Telegram app sends its ``language_code`` with every
        update, and Reelay answers in it when it has that language."""
        language = browser_language(request.headers.get("accept-language"))
        if language is not None:
            speak(self.setup, language)

    async def state(self, request: Request) -> Response:
        """``GET /api/state``: both chats as they are now."""
        self._speaks(request)
        return JSONResponse(snapshot(self.setup))

    async def send_message(self, request: Request) -> Response:
        """``POST /api/messages`` ``{"text", "reply_to_message_id"?}``: the person writes to the bot."""
        self._speaks(request)
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        text = body.get("text")
        reply_to = body.get("reply_to_message_id")
        if not isinstance(text, str) or not text.strip():
            return _refuse("text must be a non-empty string")
        if len(text) > MAX_TEXT_CHARS:
            return _refuse(f"a message holds at most {MAX_TEXT_CHARS} characters")
        if reply_to is not None and not _is_int(reply_to):
            return _refuse("reply_to_message_id must be an integer")
        setup = self.setup
        try:
            update = setup.emulator.send_text(
                setup.user_id, setup.user_id, text, reply_to_message_id=reply_to, first_name=setup.first_name
            )
        except ValueError as exc:
            return _refuse(str(exc))
        sent = setup.emulator.message(setup.user_id, update["message"]["message_id"])
        return JSONResponse({"message": message_view(setup, sent) if sent else None}, status_code=201)

    async def send_photo(self, request: Request) -> Response:
        """``POST /api/photos`` ``{"data" (base64), "caption"?, "as_file"?, "file_name"?}``: the person sends a photo,
        or any file as a document (which the bot checks by its content)."""
        self._speaks(request)
        if int(request.headers.get("content-length") or 0) > MAX_PHOTO_BYTES * 4 // 3 + 64 * 1024:
            return _refuse(f"a photo here is at most {MAX_PHOTO_BYTES // (1024 * 1024)} MB", status=413)
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        caption, file_name = body.get("caption") or None, body.get("file_name") or None
        if caption is not None and (not isinstance(caption, str) or len(caption) > MAX_CAPTION_CHARS):
            return _refuse(f"caption must be a string of at most {MAX_CAPTION_CHARS} characters")
        if file_name is not None and not isinstance(file_name, str):
            return _refuse("file_name must be a string")
        try:
            data = base64.b64decode(str(body.get("data", "")), validate=True)
        except ValueError:
            return _refuse("data must be base64")
        if not data or len(data) > MAX_PHOTO_BYTES:
            return _refuse("data must hold a file of at most 20 MB")
        setup, user = self.setup, self.setup.user_id
        try:
            if body.get("as_file"):
                update = setup.emulator.send_document(
                    user, user, data, file_name=file_name, caption=caption, first_name=setup.first_name
                )
            else:
                update = setup.emulator.send_photo(user, user, data, caption=caption, first_name=setup.first_name)
        except ValueError as exc:
            return _refuse(str(exc))
        sent = setup.emulator.message(user, update["message"]["message_id"])
        return JSONResponse({"message": message_view(setup, sent) if sent else None}, status_code=201)

    async def press_button(self, request: Request) -> Response:
        """``POST /api/buttons`` ``{"message_id", "data", "chat_id"?}``: the person taps an inline button."""
        self._speaks(request)
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        setup = self.setup
        message_id, data = body.get("message_id"), body.get("data")
        chat_id = body.get("chat_id", setup.user_id)
        if not _is_int(message_id) or not isinstance(data, str) or not data:
            return _refuse("message_id (integer) and data (string) are required")
        if not _is_int(chat_id) or chat_id not in setup.chat_ids:
            return _refuse("chat_id is not a chat of this page")
        try:
            query_id = setup.emulator.press_button(
                chat_id, message_id, setup.user_id, data, first_name=setup.first_name
            )
        except ValueError as exc:
            return _refuse(str(exc))
        return JSONResponse({"callback_query_id": query_id})

    async def pay_invoice(self, request: Request) -> Response:
        """``POST /api/payments`` ``{"message_id", "chat_id"?}``: the person pays an invoice in Stars, as Telegram would
        (the bot's pre-checkout answer within 10 s, then the payment); answers how it went."""
        self._speaks(request)
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        setup = self.setup
        message_id, chat_id = body.get("message_id"), body.get("chat_id", setup.user_id)
        if not _is_int(message_id) or not _is_int(chat_id) or chat_id not in setup.chat_ids:
            return _refuse("message_id (integer) of an invoice in a chat of this page is required")
        try:
            # The checkout blocks while it waits for the bot's answer: a thread keeps the page's loop free.
            outcome = await asyncio.to_thread(setup.emulator.checkout.pay, chat_id, message_id, setup.user_id)
        except ValueError as exc:
            return _refuse(str(exc))
        return JSONResponse(
            {"paid": outcome.paid, "error_message": outcome.error_message, "timed_out": outcome.timed_out}
        )

    async def events(self, request: Request) -> Response:
        """``GET /api/events``: Server-Sent Events, a snapshot first, then every change."""
        self._speaks(request)
        try:
            subscription = self.feed.subscribe()
        except RuntimeError:
            return JSONResponse({"error": "the sandbox is shutting down"}, status_code=503)
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(self._stream(subscription), media_type="text/event-stream", headers=headers)

    async def _stream(self, subscription: Subscription) -> AsyncIterator[bytes]:
        try:
            yield b"retry: 1000\n\n"
            # Taken after subscribing, so no change falls between the snapshot and the first event.
            yield _sse("snapshot", snapshot(self.setup))
            while True:
                try:
                    event = await subscription.get(self.heartbeat_s)
                except StopAsyncIteration:
                    log.debug("webchat.stream_ended", reason=subscription.end_reason)
                    return
                if event is None:
                    yield b": keep-alive\n\n"  # a comment line: keeps proxies and the browser from timing out
                    continue
                translated = self._translate(event)
                if translated is not None:
                    yield _sse(*translated)
        finally:
            subscription.unsubscribe()

    def _translate(self, event: Event) -> tuple[str, JSON] | None:
        """An emulator event as the page's event name and data (None: nothing to show)."""
        if event.kind in ("message", "edit") and event.message is not None:
            return event.kind, message_view(self.setup, event.message)
        if event.kind == "delete" and event.message is not None:
            return "delete", {"chat_id": event.chat_id, "id": event.message.message_id}
        if event.kind == "callback_answer":
            data = event.data
            return "answer", {
                "callback_query_id": data.get("callback_query_id"),
                "text": data.get("text"),
                "show_alert": bool(data.get("show_alert")),
            }
        if event.kind == "chat_action":
            return "action", {"chat_id": event.chat_id, "action": event.data.get("action")}
        if event.kind == "reset":
            return "snapshot", snapshot(self.setup)
        return None


def _sse(name: str, data: JSON) -> bytes:
    # json.dumps escapes newlines, so one data: line always holds the whole payload.
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def _json_body(request: Request) -> dict[str, Any] | Response:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return _refuse("send application/json", status=415)
    try:
        body = await request.json()
    except ValueError:
        return _refuse("the body is not valid JSON")
    if not isinstance(body, dict):
        return _refuse("the body must be a JSON object")
    return body


def _refuse(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
