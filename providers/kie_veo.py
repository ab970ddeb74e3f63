"""The KIE.ai Veo 3 adapter: generate, record-info, extend (provider-apis.md §1)."""

from __future__ import annotations

from typing import Any

import structlog

from poller.errors import ErrorCode, JobError
from poller.jobs import JobOptions
from poller.ports import PollResult, SubmitRequest
from providers.api_client import ApiClient
from providers.catalog import ModelInfo, get_model
from providers.kie_common import KieApi, task_id_from
from providers.kie_errors import normalize_kie_error
from providers.parsers import parse_status

log = structlog.get_logger(__name__)

GENERATE_PATH = "/api/v1/veo/generate"
RECORD_INFO_PATH = "/api/v1/veo/record-info"
EXTEND_PATH = "/api/v1/veo/extend"

# The extend endpoint's ``model`` values are documented only as "fast" (provider-apis.md §7); for
# other models the field is left out and KIE uses its default.
_EXTEND_MODEL = {"veo3_fast": "fast"}


class KieVeoProvider:
    """KIE.ai's Veo API (``veo3``, ``veo3_fast``). Raises :class:`JobError` only."""

    def __init__(self, client: ApiClient, base_url: str, api_key: str, *, name: str = "kie_veo") -> None:
        self.name = name
        self._api = KieApi(client, base_url, api_key, provider=name)

    def supports(self, model: str) -> bool:
        """Whether ``model`` is a Veo model of the catalog."""
        return _catalog_entry(model) is not None

    def supports_extend(self, model: str) -> bool:
        """Veo videos made through this API can be extended."""
        entry = _catalog_entry(model)
        return entry is not None and entry.extendable

    async def submit(self, request: SubmitRequest) -> str:
        """POST ``/veo/generate``; return the new task id."""
        model = self._model(request.model)
        model.check_options(request.options)
        body = generate_body(request)
        data = await self._api.post(GENERATE_PATH, body)
        task_id = task_id_from(data, GENERATE_PATH)
        log.info("kie_veo.submitted", model=model.id, task_id=task_id)
        return task_id

    async def poll(self, task_id: str) -> PollResult:
        """GET ``/veo/record-info`` and read it through the parser chain."""
        data = await self._api.get(RECORD_INFO_PATH, {"taskId": task_id})
        return parse_status(data)

    async def extend(self, parent_task_id: str, prompt: str, model: str, callback_url: str | None) -> str:
        """POST ``/veo/extend`` for a finished Veo task; return the new task id."""
        if not self.supports_extend(model):
            raise JobError(ErrorCode.INVALID_INPUT, f"{model} videos cannot be extended", request_sent=False)
        if not prompt.strip():
            raise JobError(ErrorCode.INVALID_INPUT, "the continuation prompt is empty", request_sent=False)
        body: dict[str, Any] = {"taskId": parent_task_id, "prompt": prompt}
        if callback_url:
            body["callBackUrl"] = callback_url
        if model in _EXTEND_MODEL:
            body["model"] = _EXTEND_MODEL[model]
        data = await self._api.post(EXTEND_PATH, body)
        task_id = task_id_from(data, EXTEND_PATH)
        log.info("kie_veo.extended", model=model, parent_task_id=parent_task_id, task_id=task_id)
        return task_id

    def normalize_error(self, http_status: int | None, payload: object) -> JobError:
        """Map a KIE status/body onto the error taxonomy (see :mod:`providers.kie_errors`)."""
        return normalize_kie_error(http_status, payload)

    async def aclose(self) -> None:
        """Close the HTTP client this adapter was given."""
        await self._api.aclose()

    def _model(self, model_id: str) -> ModelInfo:
        entry = _catalog_entry(model_id)
        if entry is None:
            raise JobError(ErrorCode.INVALID_INPUT, f"{model_id} is not a Veo model", request_sent=False)
        return entry


def generate_body(request: SubmitRequest) -> dict[str, Any]:
    """The ``/veo/generate`` body for ``request``."""
    options: JobOptions = request.options
    body: dict[str, Any] = {
        "prompt": request.prompt,
        "model": request.model,
        # The docs disagree on the field name (quickstart: aspectRatio, field table: aspect_ratio).
        "aspectRatio": options.aspect_ratio.value,
        "aspect_ratio": options.aspect_ratio.value,
        "enableTranslation": True,
    }
    if options.image_url:
        # One image is a first frame: KIE's FIRST_AND_LAST_FRAMES mode takes one or two.
        body["generationType"] = "FIRST_AND_LAST_FRAMES_2_VIDEO"
        body["imageUrls"] = [options.image_url]
    else:
        body["generationType"] = "TEXT_2_VIDEO"
    if request.callback_url:
        body["callBackUrl"] = request.callback_url
    return body


def _catalog_entry(model_id: str) -> ModelInfo | None:
    try:
        entry = get_model(model_id)
    except JobError:
        return None
    return entry if entry.provider == "kie_veo" else None
