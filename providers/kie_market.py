"""The KIE.ai Market adapter (unified jobs API): Sora 2 and Seedance text-to-video (provider-apis.md §2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from poller.errors import ErrorCode, JobError
from poller.jobs import AspectRatio, JobOptions
from poller.ports import PollResult, SubmitRequest
from providers.api_client import ApiClient
from providers.catalog import ModelInfo, get_model
from providers.kie_common import KieApi, task_id_from
from providers.kie_errors import normalize_kie_error
from providers.parsers import parse_status

log = structlog.get_logger(__name__)

CREATE_TASK_PATH = "/api/v1/jobs/createTask"
RECORD_INFO_PATH = "/api/v1/jobs/recordInfo"

_SORA_ASPECT = {AspectRatio.LANDSCAPE: "landscape", AspectRatio.PORTRAIT: "portrait"}


def sora_input(options: JobOptions) -> dict[str, Any]:
    """Sora 2 ``input`` fields besides the prompt (``n_frames`` is a string: "10" or "15")."""
    return {
        "aspect_ratio": _SORA_ASPECT[options.aspect_ratio],
        "n_frames": str(options.duration_s),
        "remove_watermark": True,
    }


def seedance_input(options: JobOptions) -> dict[str, Any]:
    """Seedance v1 ``input`` fields besides the prompt (``duration`` is a string: "5" or "10")."""
    return {
        "aspect_ratio": options.aspect_ratio.value,
        "duration": str(options.duration_s),
        "resolution": "720p",
    }


# model id -> builder of its ``input`` fields. A model is served here only when it has one.
INPUT_BUILDERS: dict[str, Callable[[JobOptions], dict[str, Any]]] = {
    "sora-2-text-to-video": sora_input,
    "bytedance/v1-pro-text-to-video": seedance_input,
}


class KieMarketProvider:
    """KIE.ai's Market jobs API (createTask / recordInfo). Raises :class:`JobError` only."""

    def __init__(self, client: ApiClient, base_url: str, api_key: str, *, name: str = "kie_market") -> None:
        self.name = name
        self._api = KieApi(client, base_url, api_key, provider=name)

    def supports(self, model: str) -> bool:
        """Whether ``model`` is a Market model this adapter knows how to call."""
        return model in INPUT_BUILDERS

    def supports_extend(self, model: str) -> bool:
        """The Market API has no extend."""
        return False

    async def submit(self, request: SubmitRequest) -> str:
        """POST ``/jobs/createTask``; return the new task id."""
        model = self._model(request.model)
        model.check_options(request.options)
        if request.options.image_url:
            raise JobError(ErrorCode.INVALID_INPUT, f"{model.label} does not take an image here", request_sent=False)
        data = await self._api.post(CREATE_TASK_PATH, create_task_body(request))
        task_id = task_id_from(data, CREATE_TASK_PATH)
        log.info("kie_market.submitted", model=model.id, task_id=task_id)
        return task_id

    async def poll(self, task_id: str) -> PollResult:
        """GET ``/jobs/recordInfo`` and read it through the parser chain."""
        data = await self._api.get(RECORD_INFO_PATH, {"taskId": task_id})
        return parse_status(data)

    async def extend(self, parent_task_id: str, prompt: str, model: str, callback_url: str | None) -> str:
        """Not supported by the Market API: always ``JobError(INVALID_INPUT)``."""
        raise JobError(ErrorCode.INVALID_INPUT, f"{model} videos cannot be extended", request_sent=False)

    def normalize_error(self, http_status: int | None, payload: object) -> JobError:
        """Map a KIE status/body onto the error taxonomy (see :mod:`providers.kie_errors`)."""
        return normalize_kie_error(http_status, payload)

    async def aclose(self) -> None:
        """Close the HTTP client this adapter was given."""
        await self._api.aclose()

    def _model(self, model_id: str) -> ModelInfo:
        if model_id not in INPUT_BUILDERS:
            raise JobError(ErrorCode.INVALID_INPUT, f"{model_id} is not a Market model", request_sent=False)
        return get_model(model_id)


def create_task_body(request: SubmitRequest) -> dict[str, Any]:
    """The ``/jobs/createTask`` body for ``request``."""
    body: dict[str, Any] = {
        "model": request.model,
        "input": {"prompt": request.prompt, **INPUT_BUILDERS[request.model](request.options)},
    }
    if request.callback_url:
        body["callBackUrl"] = request.callback_url
    return body
