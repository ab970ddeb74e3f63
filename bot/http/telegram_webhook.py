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

from bot.http.bodies import BadBody, read_json

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
            data = await read_json(request)
        except BadBody as exc:
            return exc.response()
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool) or not 0 <= update_id < 2**63:
            return JSONResponse({"error": "not an update: update_id missing or invalid", "field": "update_id"}, 400)
        try:
            update = Update.de_json(data, application.bot)
        except Exception:  # whatever python-telegram-bot makes of a forged shape: not an update
            return JSONResponse({"error": "malformed update", "field": "body"}, status_code=400)
        # Queued, not processed inline: Telegram gets its 200 at once and never redelivers for slowness.
        await application.update_queue.put(update)
        return Response(status_code=200)

    return Route(path, receive, methods=["POST"])
