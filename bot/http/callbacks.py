"""Provider callbacks: a POST to the job's unguessable URL makes its holder poll at once (KIE's, and fal's once its
signature verifies: ``bot/http/fal_signatures.py``).

The body is never trusted for the outcome: the provider's status endpoint stays the authority, so a forged or
replayed callback can at most cause one extra poll. Only a cost it reports is kept (``callback_cost.py``). A token
that is not one we could have made (over 200 characters, or characters outside ``secrets.token_urlsafe``'s
alphabet) is 404 without a Redis round trip.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.http.callback_cost import record_reported_cost
from bot.http.fal_signatures import FalSignatures, KeysUnavailable
from poller.ports import EventBus, JobStore
from poller.worker import POKE
from storage.registries import CallbackTokens

log = structlog.get_logger(__name__)

_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,200}")


def callback_routes(
    tokens: CallbackTokens,
    events: EventBus,
    *,
    jobs: JobStore | None = None,
    fal: FalSignatures | None = None,
) -> list[Route]:
    """``POST /callbacks/kie/{token}`` (with ``jobs``, the cost a callback reports is kept on its job), and with
    ``fal`` (providers.fal is set) ``POST /callbacks/fal/{token}``, whose signature must verify."""

    async def poke(token: str, provider: str) -> JSONResponse:
        job_id = await tokens.job_for(token) if _TOKEN.fullmatch(token) else None
        if job_id is None:
            return JSONResponse({"error": "unknown callback"}, status_code=404)
        await events.publish(POKE, job_id)
        log.info("callback.received", job_id=job_id, provider=provider)
        return JSONResponse({"status": "ok"})

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

    routes = [Route("/callbacks/kie/{token}", kie_callback, methods=["POST"])]
    if fal is not None:
        routes.append(_fal_route(fal, poke))
    return routes


def _fal_route(signatures: FalSignatures, poke: Callable[[str, str], Awaitable[JSONResponse]]) -> Route:
    """``POST /callbacks/fal/{token}``: 401 unless fal's signature verifies, then as KIE's."""

    async def fal_callback(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            valid = await signatures.verify(request.headers, body)
        except KeysUnavailable as exc:
            # Not the sender's fault: fal retries a webhook that was not answered 2xx.
            log.warning("callback.fal_keys_unavailable", error=str(exc))
            return JSONResponse({"error": "cannot verify now"}, status_code=503)
        if not valid:
            log.warning("callback.fal_unsigned", request_id=request.headers.get("x-fal-webhook-request-id", "")[:100])
            return JSONResponse({"error": "bad signature"}, status_code=401)
        return await poke(request.path_params["token"], "fal")

    return Route("/callbacks/fal/{token}", fal_callback, methods=["POST"])
