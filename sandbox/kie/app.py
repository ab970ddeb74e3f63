"""The simulated KIE.ai HTTP API (Starlette): Veo generate/record-info/extend and its 1080p/4K upgrades, Market
createTask/recordInfo, and the result files, with faults injected as the task's scenario says."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import struct
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from sandbox.kie import bodies, inputs
from sandbox.kie.callbacks import CallbackSender
from sandbox.kie.scenario import is_http_error_code
from sandbox.kie.state import Api, KieSimulator, SimTask
from sandbox.kie.upgrade_api import UpgradeApi
from sandbox.kie.validation import Invalid, check_market_create, check_veo_extend, check_veo_generate
from sandbox.media import sample_mp4_bytes, sample_mp4_path

log = structlog.get_logger(__name__)

CHUNK = 64 * 1024
_PATTERN = bytes(range(256)) * (CHUNK // 256)
_BOX_HEADER = 8  # an MP4 box's 32-bit size and four-letter type


def create_app(sim: KieSimulator) -> Starlette:
    """A Starlette app serving ``sim`` over KIE's real paths and shapes."""
    callbacks = CallbackSender(sim)
    api = _KieApi(sim, callbacks)
    upgrades = UpgradeApi(sim, callbacks, api.check_auth)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await callbacks.aclose()

    routes = [
        Route("/api/v1/veo/generate", api.veo_generate, methods=["POST"]),
        Route("/api/v1/veo/record-info", api.veo_record_info, methods=["GET"]),
        Route("/api/v1/veo/extend", api.veo_extend, methods=["POST"]),
        Route("/api/v1/veo/get-1080p-video", upgrades.get_1080p, methods=["GET"]),
        Route("/api/v1/veo/get-4k-video", upgrades.get_4k, methods=["POST"]),
        Route("/api/v1/jobs/createTask", api.market_create, methods=["POST"]),
        Route("/api/v1/jobs/recordInfo", api.market_record_info, methods=["GET"]),
        Route("/api/v1/chat/credit", api.credit, methods=["GET"]),
        Route("/files/{task_id}.mp4", api.video, methods=["GET", "HEAD"]),
        Route("/files/upgrades/{task_id}/{kind}.mp4", upgrades.video, methods=["GET", "HEAD"]),
        # The file upload API (its own host at KIE: providers.kie.upload_base_url), and the files it serves.
        Route("/api/file-base64-upload", api.base64_upload, methods=["POST"]),
        Route("/api/file-stream-upload", api.stream_upload, methods=["POST"]),
        Route("/files/uploads/{token}/{name}", api.uploaded_file, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def _ok(data: Any) -> JSONResponse:
    return JSONResponse(bodies.envelope(200, data))


def _refuse(code: int, msg: str | None = None) -> JSONResponse:
    """A business error as KIE sends it: HTTP 200, the code in the body."""
    return JSONResponse(bodies.envelope(code, None, msg))


class _KieApi:
    """The endpoint handlers, bound to one simulator."""

    def __init__(self, sim: KieSimulator, callbacks: CallbackSender) -> None:
        self.sim = sim
        self.callbacks = callbacks

    # ------------------------------------------------------------------ the account

    async def credit(self, request: Request) -> Response:
        """``GET /api/v1/chat/credit``: the account's balance, a bare number in ``data``."""
        denied = self.check_auth(request)
        return denied if denied is not None else _ok(self.sim.credit_balance)

    # ------------------------------------------------------------------ create

    async def veo_generate(self, request: Request) -> Response:
        """``POST /api/v1/veo/generate``."""
        return await self._create(request, "veo", check_veo_generate, lambda body: body.get("model", "veo3_fast"))

    async def veo_extend(self, request: Request) -> Response:
        """``POST /api/v1/veo/extend``: a new task continuing a finished Veo task."""

        def check(body: Mapping[str, Any]) -> None:
            check_veo_extend(body)
            parent = self.sim.get_task(str(body["taskId"]))
            if parent is None or parent.api != "veo":
                raise Invalid("the original task does not exist")
            if not parent.finished or parent.outcome != "success":
                raise Invalid("the original video is not ready or failed")

        def model(body: Mapping[str, Any]) -> str:
            parent = self.sim.get_task(str(body["taskId"]))
            return parent.model if parent is not None else "veo3_fast"

        return await self._create(request, "veo", check, model)

    async def market_create(self, request: Request) -> Response:
        """``POST /api/v1/jobs/createTask``."""
        return await self._create(request, "market", check_market_create, lambda body: str(body["model"]))

    async def _create(
        self,
        request: Request,
        api: Api,
        check: Callable[[Mapping[str, Any]], None],
        model_of: Callable[[Mapping[str, Any]], str],
    ) -> Response:
        denied = self.check_auth(request)
        if denied is not None:
            return denied
        body = await _json_object(request)
        if body is None:
            return _refuse(400, "request body must be a JSON object")
        self.sim.record_submission(body)
        if self.sim.over_pace():
            return self._http_fault(429)  # KIE's per-account pace: refused, nothing created
        prompt = _prompt_of(body)
        try:
            scenario = self.sim.next_scenario(prompt)
        except ValueError as exc:
            return _refuse(422, f"bad simulator marker: {exc}")
        fault = scenario.submit_fault
        if fault is not None and is_http_error_code(fault):
            return self._http_fault(int(fault))  # refused before anything was created
        try:
            check(body)
            if self.sim.fetch_images:
                await inputs.fetch_images(self.sim.inputs, inputs.image_urls(body))  # as KIE fetches them
        except Invalid as exc:
            return _refuse(422, str(exc))
        task = self.sim.add_task(
            SimTask(
                id=self.sim.new_task_id(api),
                api=api,
                model=model_of(body),
                prompt=prompt,
                body=body,
                scenario=scenario,
                base_url=str(request.base_url).rstrip("/"),
                callback_url=body.get("callBackUrl"),
                parent_id=body.get("taskId") if isinstance(body.get("taskId"), str) else None,
            )
        )
        log.info("kie_sim.task_created", task_id=task.id, api=api, model=task.model, outcome=task.outcome)
        if task.finished:
            self.callbacks.task_finished(task)
        self.callbacks.watch(task)
        if fault is not None:  # a named fault: the task exists, but the answer is lost or garbled
            return await self._named_fault(request, fault, task.id)
        return _ok({"taskId": task.id})

    # ------------------------------------------------------------------ file uploads

    async def base64_upload(self, request: Request) -> Response:
        """``POST /api/file-base64-upload``."""
        denied = self.check_auth(request)
        return denied if denied is not None else await inputs.base64_upload(request, self.sim.inputs)

    async def stream_upload(self, request: Request) -> Response:
        """``POST /api/file-stream-upload``."""
        denied = self.check_auth(request)
        return denied if denied is not None else await inputs.stream_upload(request, self.sim.inputs)

    async def uploaded_file(self, request: Request) -> Response:
        """``GET /files/uploads/{token}/{name}``: the download URL of an upload (no key needed)."""
        return await inputs.serve_upload(request, self.sim.inputs)

    # ------------------------------------------------------------------ status

    async def veo_record_info(self, request: Request) -> Response:
        """``GET /api/v1/veo/record-info?taskId=…``."""
        return await self._status(request, "veo", bodies.veo_record_info, (404, "task not found"))

    async def market_record_info(self, request: Request) -> Response:
        """``GET /api/v1/jobs/recordInfo?taskId=…``."""
        return await self._status(request, "market", bodies.market_record_info, (422, "recordInfo is null"))

    async def _status(
        self,
        request: Request,
        api: Api,
        render: Callable[[SimTask, str | None], dict[str, Any]],
        not_found: tuple[int, str],
    ) -> Response:
        denied = self.check_auth(request)
        if denied is not None:
            return denied
        task_id = request.query_params.get("taskId", "")
        if not task_id:
            return _refuse(422, "taskId is required")
        known = self.sim.get_task(task_id)
        step = self.sim.poll(task_id) if known is not None and known.api == api else None
        if step is None:
            return _refuse(*not_found)
        if step.fault is not None:
            if is_http_error_code(step.fault):
                return self._http_fault(int(step.fault))
            return await self._named_fault(request, step.fault, task_id)
        if step.newly_finished:
            self.callbacks.task_finished(step.task)
        return _ok(render(step.task, self.sim.public_url))

    # ------------------------------------------------------------------ files

    async def video(self, request: Request) -> Response:
        """``GET|HEAD /files/{task_id}.mp4``: the finished video, streamed, with Content-Length."""
        task_id = request.path_params["task_id"]
        task = self.sim.get_task(task_id)
        if task is None or not task.finished or task.outcome != "success":
            return Response("not found", status_code=404, media_type="text/plain")
        generated = task.scenario.video_bytes
        path = self._video_path() if generated is None else None
        size = path.stat().st_size if path is not None else padded_video_size(generated or 0)
        headers = {"Content-Length": str(size), "Accept-Ranges": "none"}
        if request.method == "HEAD":
            return Response(status_code=200, headers=headers, media_type="video/mp4")
        fault = self.sim.next_download_fault(task_id)
        if fault is not None and is_http_error_code(fault):
            return Response(f"injected {fault}", status_code=int(fault), media_type="text/plain")
        if fault is None and path is not None:
            return FileResponse(path, media_type="video/mp4", headers={"Accept-Ranges": "none"})
        if fault == "not_video":
            return Response(_PATTERN, media_type="video/mp4")  # a mislabelled file: no video stream in it
        chunks = _file_chunks(path) if path is not None else _padded_video_chunks(size)
        if fault == "truncate":
            return _CutOffResponse(chunks, size, limit=size // 2)
        if fault == "chunked":
            del headers["Content-Length"]  # no length: the client learns the size only by reading
        return StreamingResponse(chunks, media_type="video/mp4", headers=headers)

    def _video_path(self) -> Path:
        return self.sim.video_path or sample_mp4_path()

    # ------------------------------------------------------------------ faults and auth

    def check_auth(self, request: Request) -> Response | None:
        """None for a request with the account's key; else KIE's refusal."""
        supplied = request.headers.get("Authorization", "")
        expected = f"Bearer {self.sim.api_key}"
        if hmac.compare_digest(supplied.encode(), expected.encode()):
            return None
        # As seen in the wild: HTTP 200, the refusal only in the body.
        return _refuse(401)

    def _http_fault(self, code: int) -> Response:
        headers = {"Retry-After": str(self.sim.retry_after_s)} if code == 429 else {}
        return JSONResponse(bodies.envelope(code), status_code=code, headers=headers)

    async def _named_fault(self, request: Request, fault: str, task_id: str) -> Response:
        if fault == "malformed":
            return Response(bodies.MALFORMED_BODY, media_type="application/json")
        if fault == "unknown_shape":
            return JSONResponse(bodies.unknown_shape(task_id))
        if fault == "deep_json":
            return Response(bodies.DEEP_JSON_BODY, media_type="application/json")
        await _hang_until_disconnected(request, self.sim.hang_s)  # "timeout"
        return JSONResponse(bodies.envelope(504), status_code=504)


async def _json_object(request: Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _prompt_of(body: Mapping[str, Any]) -> str:
    inputs = body.get("input")
    prompt = inputs.get("prompt") if isinstance(inputs, Mapping) else body.get("prompt")
    return prompt if isinstance(prompt, str) else ""


async def _hang_until_disconnected(request: Request, seconds: float) -> None:
    """Stall like a server that stopped answering, but stop as soon as the client gives up."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while (await request.receive())["type"] != "http.disconnect":
                pass  # the rest of the request body, if any: keep waiting for the disconnect


def padded_video_size(requested: int) -> int:
    """What ``[bytes=N]`` serves: N bytes, or the sample plus an empty padding box when N is smaller."""
    return max(requested, len(sample_mp4_bytes()) + _BOX_HEADER)


async def _padded_video_chunks(size: int) -> AsyncIterator[bytes]:
    """The sample video, then one MP4 ``free`` box filling the rest: a playable video of exactly ``size`` bytes,
    generated as it streams (demuxers skip ``free`` boxes)."""
    head = sample_mp4_bytes()
    yield head
    padding = size - len(head)
    if padding >= 1 << 32:  # a box this large gives its size in a 64-bit field after the type
        yield struct.pack(">I4sQ", 1, b"free", padding)
        remaining = padding - 16
    else:
        yield struct.pack(">I4s", padding, b"free")
        remaining = padding - _BOX_HEADER
    while remaining > 0:
        chunk = _PATTERN[: min(CHUNK, remaining)]
        remaining -= len(chunk)
        yield chunk
        await asyncio.sleep(0)  # let other requests run while a large body streams


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as handle:
        while chunk := await handle.read(CHUNK):
            yield chunk


class _CutOffResponse(Response):
    """Announces the full Content-Length, sends ``limit`` bytes, then hangs up (a truncated download)."""

    def __init__(self, chunks: AsyncIterator[bytes], size: int, limit: int) -> None:
        super().__init__(status_code=200, media_type="video/mp4", headers={"Content-Length": str(size)})
        self._chunks = chunks
        self._limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        sent = 0
        async for chunk in self._chunks:
            part = chunk[: self._limit - sent]
            if part:
                await send({"type": "http.response.body", "body": part, "more_body": True})
            sent += len(part)
            if sent >= self._limit:
                break
        # Returning without the final body message makes the server drop the connection mid-body.
