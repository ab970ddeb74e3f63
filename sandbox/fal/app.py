"""The simulated fal.ai queue API (Starlette): submit, status, result and cancel on fal's app-only paths, the result
videos, the webhook keys (JWKS), and signed webhooks when a request with ``fal_webhook`` completes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.fal.state import FalCall, FalSimulator, SimRequest, WebhookRecord
from sandbox.media import sample_mp4_bytes

log = structlog.get_logger(__name__)

WEBHOOK_TIMEOUT_S = 15.0  # fal's first delivery attempt waits 15 s
_REQUEST = "/{owner}/{app}/requests/{request_id}"


def create_app(sim: FalSimulator) -> Starlette:
    """A Starlette app serving ``sim`` over fal's queue paths and shapes."""
    api = _FalApi(sim)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await api.aclose()

    routes = [
        Route("/.well-known/jwks.json", api.jwks, methods=["GET"]),
        Route("/files/{request_id}.mp4", api.video, methods=["GET", "HEAD"]),
        Route(f"{_REQUEST}/status", api.status, methods=["GET"]),
        Route(f"{_REQUEST}/cancel", api.cancel, methods=["PUT"]),
        Route(_REQUEST, api.result, methods=["GET"]),
        Route("/{endpoint:path}", api.submit, methods=["POST"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def _detail(status: int, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status)


class _FalApi:
    """The endpoint handlers, bound to one simulator."""

    def __init__(self, sim: FalSimulator) -> None:
        self.sim = sim
        self._pending: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        """Cancel webhooks still pending and close their client."""
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    async def jwks(self, request: Request) -> JSONResponse:
        """The public key the webhooks are signed with."""
        return JSONResponse(self.sim.signer.jwks())

    async def video(self, request: Request) -> Response:
        """A real small MP4 (the sandbox's sample)."""
        if self.sim.get(request.path_params["request_id"]) is None:
            return _detail(404, "Not Found")
        return Response(sample_mp4_bytes(), media_type="video/mp4")

    async def submit(self, request: Request) -> Response:
        """``POST /{endpoint}``: queue a request (or refuse it as the scenario says)."""
        body = await self._read(request)
        denied = self._denied(request, body)
        if denied is not None:
            return denied
        endpoint = request.path_params["endpoint"].strip("/")
        if endpoint.count("/") < 1 or not isinstance(body, dict) or not isinstance(body.get("prompt"), str):
            return JSONResponse({"detail": [{"loc": ["body", "prompt"], "msg": "field required"}]}, status_code=422)
        try:
            scenario = self.sim.scenario_for(body["prompt"])
        except ValueError as exc:
            return JSONResponse({"detail": [{"loc": ["body", "prompt"], "msg": str(exc)}]}, status_code=422)
        if scenario.submit_fault == 429:
            return _detail(429, "Concurrent request limit reached", error_type="concurrent_requests_limit")
        if scenario.submit_fault is not None:
            return _detail(scenario.submit_fault, "Service unavailable", error_type="runner_scheduling_failure")
        sim_request = self.sim.create(endpoint, body, scenario, request.query_params.get("fal_webhook"))
        base = f"{self._base(request)}/{sim_request.app}/requests/{sim_request.id}"
        answer: dict[str, Any] = {
            "request_id": sim_request.id,
            "gateway_request_id": sim_request.id,
            "response_url": base,
            "status_url": f"{base}/status",
            "cancel_url": f"{base}/cancel",
        }
        if scenario.queue:
            answer["queue_position"] = scenario.queue - 1
        if scenario.completion_s is not None and sim_request.webhook_url:
            self._spawn(self._webhook_later(sim_request, scenario.completion_s, self._base(request)))
        log.info("fal_sim.submitted", endpoint=endpoint, request_id=sim_request.id)
        return JSONResponse(answer)

    async def status(self, request: Request) -> Response:
        """``GET …/status``: IN_QUEUE (with its place), IN_PROGRESS, COMPLETED (with the error, if it failed)."""
        denied = self._denied(request, None)
        if denied is not None:
            return denied
        step = self.sim.poll(request.path_params["request_id"])
        if step is None or step.lost:
            return JSONResponse({"status": "NOT_FOUND"}, status_code=404)
        sim_request = step.request
        answer: dict[str, Any] = {"status": step.phase, "request_id": sim_request.id}
        if step.phase == "IN_QUEUE":
            answer["queue_position"] = step.queue_position
        else:
            answer["logs"] = []
        if step.phase == "COMPLETED":
            answer["metrics"] = {"inference_time": 1.0}
            answer.update(self._failure(sim_request) or {})
            answer["response_url"] = f"{self._base(request)}/{sim_request.app}/requests/{sim_request.id}"
            self._webhook_if_due(sim_request, self._base(request))
        return JSONResponse(answer)

    async def result(self, request: Request) -> Response:
        """``GET …/requests/{id}``: the output (``video.url``), or the failure with its status."""
        denied = self._denied(request, None)
        if denied is not None:
            return denied
        sim_request = self.sim.get(request.path_params["request_id"])
        if sim_request is None:
            return JSONResponse({"status": "NOT_FOUND"}, status_code=404)
        if sim_request.phase() != "COMPLETED":
            return _detail(400, "Request is still in progress")
        failure = self._failure(sim_request)
        if failure is not None:
            if failure["error_type"] == "content_policy_violation":
                detail = [{"loc": ["body", "prompt"], "msg": failure["error"], "type": "content_policy_violation"}]
                return JSONResponse({"detail": detail}, status_code=422)
            return _detail(500, failure["error"], error_type=failure["error_type"])
        return JSONResponse(self._output(sim_request, self._base(request)))

    async def cancel(self, request: Request) -> Response:
        """``PUT …/cancel``: 202 while it has not completed; 400 ``ALREADY_COMPLETED`` after."""
        denied = self._denied(request, None)
        if denied is not None:
            return denied
        cancelled = self.sim.cancel(request.path_params["request_id"])
        if cancelled is None:
            return JSONResponse({"status": "NOT_FOUND"}, status_code=404)
        if not cancelled:
            return JSONResponse({"status": "ALREADY_COMPLETED"}, status_code=400)
        return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202)

    # ------------------------------------------------------------------ helpers

    async def _read(self, request: Request) -> Any:
        raw = await request.body()
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    def _denied(self, request: Request, body: Any) -> Response | None:
        """Record the call; 401 without ``Authorization: Key <key>``."""
        authorized = request.headers.get("authorization") == f"Key {self.sim.api_key}"
        query = dict(request.query_params)
        self.sim.record_call(FalCall(request.method, request.url.path, query, body, authorized))
        return None if authorized else _detail(401, "Invalid authentication credentials")

    def _base(self, request: Request) -> str:
        return (self.sim.public_url or str(request.base_url)).rstrip("/")

    def _failure(self, sim_request: SimRequest) -> dict[str, str] | None:
        if sim_request.cancelled:
            return {"error": "Request was cancelled", "error_type": "client_cancelled"}
        if sim_request.scenario.outcome == "moderation":
            return {"error": "The content could not be processed", "error_type": "content_policy_violation"}
        if sim_request.scenario.outcome == "fail":
            return {"error": "The runner failed to generate the video", "error_type": "runner_server_error"}
        return None

    def _output(self, sim_request: SimRequest, base: str) -> dict[str, Any]:
        url = f"{base}/files/{sim_request.id}.mp4"
        size = len(sample_mp4_bytes())
        video = {"url": url, "content_type": "video/mp4", "file_name": "output.mp4", "file_size": size}
        return {"video": video, "seed": 42}

    def _webhook_if_due(self, sim_request: SimRequest, base: str) -> None:
        due = self.sim.claim_webhook(sim_request.id)
        if due is not None and due.webhook_url:
            self._spawn(self._post_webhook(due, due.webhook_url, base))

    async def _webhook_later(self, sim_request: SimRequest, delay_s: float, base: str) -> None:
        await asyncio.sleep(delay_s)
        self._webhook_if_due(sim_request, base)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._pending.add(task)  # the loop keeps only weak references
        task.add_done_callback(self._pending.discard)

    async def _post_webhook(self, sim_request: SimRequest, url: str, base: str) -> None:
        failure = self._failure(sim_request)
        body = {
            "request_id": sim_request.id,
            "gateway_request_id": sim_request.id,
            "status": "ERROR" if failure else "OK",
            "payload": None if failure else self._output(sim_request, base),
            "error": failure["error"] if failure else None,
        }
        raw = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **self.sim.signer.headers(sim_request.id, raw)}
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_S)
        try:
            response = await self._client.post(url, content=raw, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("fal_sim.webhook_failed", request_id=sim_request.id, error=type(exc).__name__)
            self.sim.record_webhook(WebhookRecord(sim_request.id, url, body, None, type(exc).__name__))
            return
        log.info("fal_sim.webhook_sent", request_id=sim_request.id, status=response.status_code)
        self.sim.record_webhook(WebhookRecord(sim_request.id, url, body, response.status_code))
