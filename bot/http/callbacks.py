"""Provider callbacks: a POST to the job's unguessable URL makes its holder poll at once.

The body is never trusted: the provider's status endpoint stays the authority, so a forged or replayed
callback can at most cause one extra poll. A token that is not one we could have made (over 200 characters,
or characters outside ``secrets.token_urlsafe``'s alphabet) is 404 without a Redis round trip.
"""

from __future__ import annotations

import re

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from poller.ports import EventBus
from poller.worker import POKE
from storage.registries import CallbackTokens

log = structlog.get_logger(__name__)

_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,200}")


def callback_routes(tokens: CallbackTokens, events: EventBus) -> list[Route]:
    """``POST /callbacks/kie/{token}``."""

    async def kie_callback(request: Request) -> JSONResponse:
        # The body is never used, but read (the body limit applies: 413 past 1 MiB) so the connection stays usable.
        await request.body()
        token = request.path_params["token"]
        job_id = await tokens.job_for(token) if _TOKEN.fullmatch(token) else None
        if job_id is None:
            return JSONResponse({"error": "unknown callback"}, status_code=404)
        await events.publish(POKE, job_id)
        log.info("callback.received", job_id=job_id, provider="kie")
        return JSONResponse({"status": "ok"})

    return [Route("/callbacks/kie/{token}", kie_callback, methods=["POST"])]
