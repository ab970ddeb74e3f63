"""The KIE.ai Veo 3.1 adapter: generate, record-info, extend (provider-apis.md §1), and the 1080p and 4K upgrades of
a finished video (:mod:`providers.kie_upscale`)."""

from __future__ import annotations

from typing import Any

import structlog

from poller.errors import ErrorCode, JobError
from poller.jobs import TaskKind
from poller.ports import CancelOutcome, PollResult, SubmitRequest, SubmittedTask, TaskRef
from providers.api_client import ApiClient
from providers.catalog import ModelInfo, model_of
from providers.kie_common import KieApi, task_id_from
from providers.kie_errors import normalize_kie_error
from providers.kie_upscale import VeoUpscales
from providers.parsers import parse_status

log = structlog.get_logger(__name__)

GENERATE_PATH = "/api/v1/veo/generate"
RECORD_INFO_PATH = "/api/v1/veo/record-info"
EXTEND_PATH = "/api/v1/veo/extend"

# The extend endpoint's ``model``: "fast" or "quality" (docs/providers.md).
_EXTEND_MODEL = {"veo3_fast": "fast", "veo3": "quality"}
_UPSCALES = frozenset({TaskKind.UPSCALE_1080P, TaskKind.UPSCALE_4K})


class KieVeoProvider:
    """KIE.ai's Veo API (the catalog's ``kie_veo`` models). Raises :class:`JobError` only."""

    def __init__(self, client: ApiClient, base_url: str, api_key: str, *, name: str = "kie_veo") -> None:
        self.name = name
        self._api = KieApi(client, base_url, api_key, provider=name)
        self._upscales = VeoUpscales(self._api)

    def supports(self, model: str) -> bool:
        """Whether ``model`` is a Veo model of the catalog."""
        return model_of(model, "kie_veo") is not None

    def supports_kind(self, model: str, kind: TaskKind) -> bool:
        """New videos of every Veo model; continuations of the extendable ones; 1080p and 4K of the upscalable ones."""
        entry = model_of(model, "kie_veo")
        if entry is None:
            return False
        if kind is TaskKind.GENERATE:
            return True
        if kind is TaskKind.EXTEND:
            return entry.extendable
        return kind in _UPSCALES and entry.upscalable

    async def submit(self, request: SubmitRequest) -> SubmittedTask:
        """POST ``/veo/generate`` (or ``/veo/extend`` for a continuation); return the new task."""
        model = self._model(request.model)
        if request.kind is TaskKind.EXTEND:
            return SubmittedTask(await self._extend(model, request))
        if request.kind in _UPSCALES and model.upscalable:
            return await self._upscales.submit(request)
        if request.kind is not TaskKind.GENERATE:
            raise JobError(ErrorCode.INVALID_INPUT, f"{model.label} cannot make {request.kind}", request_sent=False)
        model.check_options(request.options)
        data = await self._api.post(GENERATE_PATH, generate_body(model, request))
        task_id = task_id_from(data, GENERATE_PATH)
        log.info("kie_veo.submitted", model=model.id, task_id=task_id)
        return SubmittedTask(task_id)

    async def poll(self, task: TaskRef) -> PollResult:
        """GET ``/veo/record-info`` and read it through the parser chain (an upgrade asks its own endpoint)."""
        if task.kind in _UPSCALES:
            return await self._upscales.poll(task)
        data = await self._api.get(RECORD_INFO_PATH, {"taskId": task.task_id})
        return parse_status(data)

    async def cancel(self, task: TaskRef) -> CancelOutcome:
        """KIE has no cancel: the task runs on, and nobody follows it."""
        return CancelOutcome.NOT_SUPPORTED

    def normalize_error(self, http_status: int | None, payload: object) -> JobError:
        """Map a KIE status/body onto the error taxonomy (see :mod:`providers.kie_errors`)."""
        return normalize_kie_error(http_status, payload)

    async def aclose(self) -> None:
        """Close the HTTP client this adapter was given."""
        await self._api.aclose()

    async def _extend(self, model: ModelInfo, request: SubmitRequest) -> str:
        if not model.extendable or not request.parent_task_id:
            raise JobError(ErrorCode.INVALID_INPUT, f"{model.label} videos cannot be extended", request_sent=False)
        if not request.prompt.strip():
            raise JobError(ErrorCode.INVALID_INPUT, "the continuation prompt is empty", request_sent=False)
        body: dict[str, Any] = {"taskId": request.parent_task_id, "prompt": request.prompt}
        if request.callback_url:
            body["callBackUrl"] = request.callback_url
        if model.id in _EXTEND_MODEL:
            body["model"] = _EXTEND_MODEL[model.id]
        data = await self._api.post(EXTEND_PATH, body)
        task_id = task_id_from(data, EXTEND_PATH)
        log.info("kie_veo.extended", model=model.id, parent_task_id=request.parent_task_id, task_id=task_id)
        return task_id

    def _model(self, model_id: str) -> ModelInfo:
        entry = model_of(model_id, "kie_veo")
        if entry is None:
            raise JobError(ErrorCode.INVALID_INPUT, f"{model_id} is not a Veo model", request_sent=False)
        return entry


def generate_body(model: ModelInfo, request: SubmitRequest) -> dict[str, Any]:
    """The ``/veo/generate`` body for ``request``: the catalog's fields plus Veo's own."""
    body = model.provider_input(request.prompt, request.options)
    body["model"] = model.text_model
    # The docs disagree on the field name (quickstart: aspectRatio, field table: aspect_ratio); KIE takes both.
    body["aspectRatio"] = request.options.aspect_ratio.value
    body["enableTranslation"] = True
    # One image is a first frame, two are first and last: both are KIE's FIRST_AND_LAST_FRAMES mode.
    body["generationType"] = "FIRST_AND_LAST_FRAMES_2_VIDEO" if request.options.image_url else "TEXT_2_VIDEO"
    if request.callback_url:
        body["callBackUrl"] = request.callback_url
    return body
