"""Telegram webhook mode: updates arrive as POSTs, checked against the secret token header."""

from __future__ import annotations

import hmac
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application

log = structlog.get_logger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def telegram_webhook_route(path: str, secret: str, application: Application[Any, Any, Any, Any, Any, Any]) -> Route:
    """The route Telegram posts updates to; anything without the right secret is refused (401)."""

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            log.warning("telegram_webhook.refused", client=request.client.host if request.client else None)
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        try:
            data = await request.json()
            update = Update.de_json(data, application.bot)
        except Exception:
            return JSONResponse({"error": "malformed update"}, status_code=400)
        # Queued, not processed inline: Telegram gets its 200 at once and never redelivers for slowness.
        await application.update_queue.put(update)
        return Response(status_code=200)

    return Route(path, receive, methods=["POST"])
