"""The Starlette app that speaks the Bot API over HTTP: ``/bot<token>/<method>`` and file downloads."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.telegram.errors import BotApiError, bad_request, entity_too_large, not_found
from sandbox.telegram.methods import METHODS, Call, Described
from sandbox.telegram.models import Upload
from sandbox.telegram.params import Params
from sandbox.telegram.state import TelegramEmulator
from sandbox.telegram.webhook import WebhookDispatcher

log = structlog.get_logger(__name__)
# Headroom over the file limit for the other form fields and multipart framing.
_FORM_OVERHEAD = 64 * 1024


def create_app(emulator: TelegramEmulator) -> Starlette:
    """An ASGI app serving ``emulator``; its lifespan runs webhook delivery."""

    async def bot_api(request: Request) -> Response:
        token, name = request.path_params["token"], request.path_params["method"]
        try:
            bot = emulator.bot_for(token)
        except BotApiError as exc:
            return _error(exc)
        params = Params({})
        try:
            params = await read_params(request, emulator.max_upload_bytes)
            fault = emulator.faults.take(name)
            if fault is not None:
                raise fault
            handler = METHODS.get(name.lower())
            if handler is None:
                raise not_found()
            result = await handler(Call(emulator, bot, params))
        except BotApiError as exc:
            emulator.record_call(bot, name, params, exc.description)
            return _error(exc)
        emulator.record_call(bot, name, params, None)
        if isinstance(result, Described):
            return JSONResponse({"ok": True, "result": result.result, "description": result.description})
        return JSONResponse({"ok": True, "result": result})

    async def download(request: Request) -> Response:
        try:
            emulator.bot_for(request.path_params["token"])
        except BotApiError as exc:
            return _error(exc)
        stored = emulator.files.by_path(request.path_params["file_path"])
        if stored is None:
            return _error(not_found())
        return Response(stored.data, media_type=stored.mime_type or "application/octet-stream")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(WebhookDispatcher(emulator).run(), name="telegram-webhook-dispatcher")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    routes = [
        Route("/bot{token}/{method}", bot_api, methods=["GET", "POST"]),
        Route("/file/bot{token}/{file_path:path}", download, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


async def read_params(request: Request, max_upload_bytes: int) -> Params:
    """Parameters from the query string plus a JSON, urlencoded or multipart body."""
    values: dict[str, Any] = dict(request.query_params)
    uploads: dict[str, Upload] = {}
    if request.method != "POST":
        return Params(values)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("can't parse JSON object") from None
        if not isinstance(body, dict):
            raise bad_request("can't parse JSON object")
        values.update(body)
    elif content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        if int(request.headers.get("content-length") or 0) > max_upload_bytes + _FORM_OVERHEAD:
            # Read the body anyway so the client gets our answer instead of a reset connection.
            async for _ in request.stream():
                pass
            raise entity_too_large()
        async with request.form(max_files=100, max_fields=1000) as form:
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    uploads[key] = Upload(value.filename, value.content_type, await value.read())
                else:
                    values[key] = value
    return Params(values, uploads)


def _error(exc: BotApiError) -> JSONResponse:
    return JSONResponse(exc.payload(), status_code=exc.error_code)
