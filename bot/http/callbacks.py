"""Provider callbacks: a POST to the job's unguessable URL makes its holder poll at once.

The body is never trusted for the outcome: the provider's status endpoint stays the authority, so a forged or
replayed callback can at most cause one extra poll. Only a cost it reports is kept (``callback_cost.py``). A token
that is not one we could have made (over 200 characters, or characters outside ``secrets.token_urlsafe``'s
alphabet) is 404 without a Redis round trip.
"""

from __future__ import annotations

import re

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.http.callback_cost import record_reported_cost
from poller.ports import EventBus, JobStore
from poller.worker import POKE
from storage.registries import CallbackTokens

log = structlog.get_logger(__name__)

_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,200}")


def callback_routes(tokens: CallbackTokens, events: EventBus, *, jobs: JobStore | None = None) -> list[Route]:
    """``POST /callbacks/kie/{token}`` (with ``jobs``, the cost a callback reports is kept on its job)."""

    async def kie_callback(request: Request) -> JSONResponse:
        # Read whole either way (the body limit applies: 413 past 1 MiB) so the connection stays usable.
        body = await request.body()
        token = request.path_params["token"]
        job_id = await tokens.job_for(token) if _TOKEN.fullmatch(token) else None
        if job_id is None:
            return JSONResponse({"error": "unknown callback"}, status_code=404)
        if jobs is not None:
            await record_reported_cost(jobs, job_id, body)  # before the poke: the poll that ends the job counts it
        await events.publish(POKE, job_id)
        log.info("callback.received", job_id=job_id, provider="kie")
        return JSONResponse({"status": "ok"})

    return [Route("/callbacks/kie/{token}", kie_callback, methods=["POST"])]
