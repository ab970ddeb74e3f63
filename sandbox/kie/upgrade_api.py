"""The simulated upgrade endpoints of KIE's Veo API: ``GET get-1080p-video`` and ``POST get-4k-video``.

Shapes as documented (docs/providers.md, "KIE Veo upgrades"): the 1080p GET answers "processing" (code 400) until
``data.resultUrl``; the first 4K POST starts the paid conversion and answers ``{taskId, resultUrls: null}``, every
later POST for the same video answers 422 "4k is processing…" or 422 "The video has been generated successfully"
with ``resultUrls``, and the callback carries ``info.resultUrls`` and ``creditsConsumed`` (or 500 "unavailable").
How a failed upgrade answers later calls is not documented: here 1080p answers 501, 4K 500 "unavailable".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from sandbox.kie import bodies
from sandbox.kie.callbacks import CallbackSender
from sandbox.kie.state import KieSimulator, SimTask
from sandbox.kie.upgrades import Upgrade, UpgradeCall, UpgradeKind
from sandbox.kie.validation import Invalid
from sandbox.media import sample_mp4_path

log = structlog.get_logger(__name__)

PROCESSING_1080P = "1080P is processing. It should be ready in 1-3 minutes. Please check back shortly."
FAILED_1080P = "1080P video generation failed"
PROCESSING_4K = "4k is processing. It should be ready in 5-10 minutes. Please check back shortly."
DONE_4K = "The video has been generated successfully"
UNAVAILABLE_4K = "The 4K version of this video is unavailable. Please try a different video."
CALLBACK_4K = "4K Video generated successfully."

AuthCheck = Callable[[Request], Response | None]


class UpgradeApi:
    """The two upgrade endpoints and the upgraded files, bound to one simulator."""

    def __init__(self, sim: KieSimulator, callbacks: CallbackSender, check_auth: AuthCheck) -> None:
        self.sim = sim
        self.callbacks = callbacks
        self._check_auth = check_auth

    async def get_1080p(self, request: Request) -> Response:
        """``GET /api/v1/veo/get-1080p-video?taskId=…&index=0``: free; the first call starts the conversion."""
        denied = self._check_auth(request)
        if denied is not None:
            return denied
        task_id, raw_index = request.query_params.get("taskId", ""), request.query_params.get("index", "0")
        try:
            index = _index(int(raw_index) if raw_index.isdigit() else raw_index)
            parent = self._finished_video(task_id, index, not_found=(404, "task not found"))
        except _Refused as refused:
            return self._answer("1080p", task_id, raw_index, refused.code, refused.msg)
        step = self.sim.upgrades.request("1080p", parent.id, index, parent.scenario)
        upgrade = step.upgrade
        if not upgrade.finished:
            return self._answer("1080p", task_id, index, 400, PROCESSING_1080P)
        if upgrade.outcome == "fail":
            return self._answer("1080p", task_id, index, 501, FAILED_1080P)
        return self._answer("1080p", task_id, index, 200, data={"resultUrl": self._url(request, upgrade)})

    async def get_4k(self, request: Request) -> Response:
        """``POST /api/v1/veo/get-4k-video`` ``{taskId, index, callBackUrl}``: paid once per video."""
        denied = self._check_auth(request)
        if denied is not None:
            return denied
        body = await _json_object(request)
        if body is None:
            return self._answer("4k", "", None, 400, "request body must be a JSON object")
        task_id, index_value = body.get("taskId"), body.get("index", 0)
        try:
            index = _index(index_value)
            _check_4k_body(body)
            parent = self._finished_video(str(task_id), index, not_found=(422, "record is null"))
        except (_Refused, Invalid) as refused:
            code, msg = (refused.code, refused.msg) if isinstance(refused, _Refused) else (422, str(refused))
            return self._answer("4k", str(task_id or ""), index_value, code, msg)
        callback = body.get("callBackUrl")
        step = self.sim.upgrades.request("4k", parent.id, index, parent.scenario, callback_url=callback)
        upgrade = step.upgrade
        if step.started:
            log.info("kie_sim.4k_started", task_id=parent.id, credits=upgrade.credits)
            self._follow(request, upgrade)
        elif step.newly_finished:
            self._call_back(request, upgrade)
        data: dict[str, Any] = {"taskId": parent.id, "resultUrls": None, "imageUrls": None}
        if step.started:
            return self._answer("4k", parent.id, index, 200, data=data, paid=True)
        if not upgrade.finished:
            return self._answer("4k", parent.id, index, 422, PROCESSING_4K, data=data)
        if upgrade.outcome == "fail":
            return self._answer("4k", parent.id, index, 500, UNAVAILABLE_4K, data={"taskId": parent.id})
        data.update(resultUrls=[self._url(request, upgrade)], imageUrls=[self._url(request, upgrade, ".jpg")])
        return self._answer("4k", parent.id, index, 422, DONE_4K, data=data)

    async def video(self, request: Request) -> Response:
        """``GET|HEAD /files/upgrades/{task_id}/{kind}.mp4``: a finished upgrade's video (the sample)."""
        kind = request.path_params["kind"]
        found = self.sim.upgrades.get(kind, request.path_params["task_id"]) if kind in ("1080p", "4k") else None
        if found is None or not found.finished or found.outcome != "success":
            return Response("not found", status_code=404, media_type="text/plain")
        return FileResponse(self.sim.video_path or sample_mp4_path(), media_type="video/mp4")

    # ------------------------------------------------------------------ internals

    def _finished_video(self, task_id: str, index: int, *, not_found: tuple[int, str]) -> SimTask:
        """The Veo task to upgrade: it must exist on this account, have succeeded, and have a video at ``index``."""
        if not task_id:
            raise _Refused(422, "taskId is required")
        parent = self.sim.get_task(task_id)
        if parent is None or parent.api != "veo":
            raise _Refused(*not_found)
        if not parent.finished or parent.outcome != "success":
            raise _Refused(422, "record status is not success")
        if index != 0:  # a Veo task makes one video
            raise _Refused(422, "record result data not exist")
        return parent

    def _follow(self, request: Request, upgrade: Upgrade) -> None:
        """A new 4K conversion: call back when it ends (at once, after its time, or on the status call that ends it)."""
        if upgrade.finished:
            self._call_back(request, upgrade)
        elif upgrade.time_based:

            def finish() -> None:
                done = self.sim.upgrades.finish_if_due("4k", upgrade.task_id, upgrade.index)
                if done is not None:
                    self._call_back(request, done)

            self.callbacks.after(upgrade.completion_s or 0.0, finish)

    def _call_back(self, request: Request, upgrade: Upgrade) -> None:
        if not upgrade.callback_url:
            return
        if upgrade.outcome == "fail":
            body = bodies.envelope(500, {"taskId": upgrade.task_id}, UNAVAILABLE_4K)
        else:
            info = {"resultUrls": [self._url(request, upgrade)], "imageUrls": [self._url(request, upgrade, ".jpg")]}
            data = {"taskId": upgrade.task_id, "info": info, "creditsConsumed": upgrade.credits}
            body = bodies.envelope(200, data, CALLBACK_4K)
        self.callbacks.send(upgrade.task_id, upgrade.callback_url, body)

    def _url(self, request: Request, upgrade: Upgrade, suffix: str = ".mp4") -> str:
        base = (self.sim.public_url or str(request.base_url)).rstrip("/")
        return f"{base}/files/upgrades/{upgrade.task_id}/{upgrade.kind}{suffix}"

    def _answer(
        self,
        kind: UpgradeKind,
        task_id: str,
        index: object,
        code: int,
        msg: str | None = None,
        *,
        data: Any = None,
        paid: bool = False,
    ) -> JSONResponse:
        """KIE's way: HTTP 200 with the outcome in the body's ``code``; the call is recorded for the tests."""
        self.sim.upgrades.record(UpgradeCall(kind, task_id, index, code, paid))
        return JSONResponse(bodies.envelope(code, data, msg))


class _Refused(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


def _index(value: object) -> int:
    # Strict as documented: an integer (a JSON number, or digits in the query string), never "0" in a JSON body.
    if type(value) is not int or value < 0:
        raise _Refused(422, "index must be a non-negative integer")
    return value


def _check_4k_body(body: Mapping[str, Any]) -> None:
    if not isinstance(body.get("taskId"), str) or not body["taskId"]:
        raise Invalid("taskId is required")
    url = body.get("callBackUrl")
    if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        raise Invalid("callBackUrl must be an http(s) URL")
    extra = set(body) - {"taskId", "index", "callBackUrl"}
    if extra:
        raise Invalid(f"unknown fields: {', '.join(sorted(extra))}")


async def _json_object(request: Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
