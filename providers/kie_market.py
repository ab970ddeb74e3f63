"""The KIE.ai Market adapter (unified jobs API, provider-apis.md §2): every ``kie_market`` model of the catalog,
its request built from the catalog's field mapping, so a new Market model is a catalog row."""

from __future__ import annotations

from typing import Any

import structlog

from poller.errors import JobError
from poller.jobs import TaskKind
from poller.ports import CancelOutcome, PollResult, SubmitRequest, SubmittedTask, TaskRef
from providers.api_client import ApiClient
from providers.catalog import ModelInfo, model_of, new_video_model
from providers.kie_common import KieApi, task_id_from
from providers.kie_errors import normalize_kie_error
from providers.parsers import parse_status

log = structlog.get_logger(__name__)

CREATE_TASK_PATH = "/api/v1/jobs/createTask"
RECORD_INFO_PATH = "/api/v1/jobs/recordInfo"


class KieMarketProvider:
    """KIE.ai's Market jobs API (createTask / recordInfo). Raises :class:`JobError` only."""

    def __init__(self, client: ApiClient, base_url: str, api_key: str, *, name: str = "kie_market") -> None:
        self.name = name
        self._api = KieApi(client, base_url, api_key, provider=name)

    def supports(self, model: str) -> bool:
        """Whether ``model`` is a Market model of the catalog."""
        return model_of(model, "kie_market") is not None

    def supports_kind(self, model: str, kind: TaskKind) -> bool:
        """New videos only: the Market API has no extend or upscale for these models."""
        return kind is TaskKind.GENERATE and self.supports(model)

    async def submit(self, request: SubmitRequest) -> SubmittedTask:
        """POST ``/jobs/createTask``; return the new task."""
        model = new_video_model(request, "kie_market")
        data = await self._api.post(CREATE_TASK_PATH, create_task_body(model, request))
        task_id = task_id_from(data, CREATE_TASK_PATH)
        log.info("kie_market.submitted", model=model.id, task_id=task_id)
        return SubmittedTask(task_id)

    async def poll(self, task: TaskRef) -> PollResult:
        """GET ``/jobs/recordInfo`` and read it through the parser chain."""
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


def create_task_body(model: ModelInfo, request: SubmitRequest) -> dict[str, Any]:
    """The ``/jobs/createTask`` body for ``request``: the provider's model id and the catalog's input fields."""
    body: dict[str, Any] = {
        "model": model.model_for(request.options),
        "input": model.provider_input(request.prompt, request.options),
    }
    if request.callback_url:
        body["callBackUrl"] = request.callback_url
    return body
