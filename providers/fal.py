"""The fal.ai adapter: its queue API (provider-apis.md §4, §8; docs/providers.md "fal.ai") for every ``fal`` model of
the catalog, the request built from the catalog's field mapping as for KIE's Market.

Submit ``POST {queue}/{endpoint}`` answers a ``request_id`` and the ``status_url``, ``response_url`` and
``cancel_url`` to follow it; they are kept in the task's ``meta`` (stored with the job), and the documented
app-only path ``{queue}/{owner}/{app}/requests/{id}`` stands in for any that is missing or not on the queue's host.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from poller.errors import ErrorCode, JobError
from poller.jobs import TaskKind
from poller.ports import CancelOutcome, PollResult, SubmitRequest, SubmittedTask, TaskRef, TaskState
from providers.api_client import ApiClient
from providers.catalog import model_of, new_video_model
from providers.fal_api import FalQueue
from providers.fal_errors import error_type_of, normalize_fal_error, result_failure

log = structlog.get_logger(__name__)

URL_KEYS = ("status_url", "response_url", "cancel_url")
WEBHOOK_PARAM = "fal_webhook"
_PARSER = "fal"


class FalProvider:
    """fal.ai's queue API (the catalog's ``fal`` models). Raises :class:`JobError` only."""

    def __init__(self, client: ApiClient, queue_url: str, api_key: str, *, name: str = "fal") -> None:
        self.name = name
        self._queue = FalQueue(client, queue_url, api_key)

    def supports(self, model: str) -> bool:
        """Whether ``model`` is a fal model of the catalog."""
        return model_of(model, "fal") is not None

    def supports_kind(self, model: str, kind: TaskKind) -> bool:
        """New videos only: Reelay offers no extend or upscale at fal."""
        return kind is TaskKind.GENERATE and self.supports(model)

    async def submit(self, request: SubmitRequest) -> SubmittedTask:
        """POST the input to the model's endpoint (its image-to-video one when the job has a photo)."""
        model = new_video_model(request, "fal")
        endpoint = model.model_for(request.options)
        params = {WEBHOOK_PARAM: request.callback_url} if request.callback_url else None
        answer = await self._queue.send(
            "POST",
            f"{self._queue.base_url}/{endpoint}",
            json_body=model.provider_input(request.prompt, request.options),
            params=params,
            creates=True,
        )
        if not answer.ok:
            raise normalize_fal_error(answer.status, answer.body, retry_after=answer.retry_after)
        body = answer.mapping()
        request_id = body.get("request_id")
        if not isinstance(request_id, str) or not request_id:
            # A 2xx to a submit: fal probably queued it, but without its id we cannot follow it (never resubmit).
            raise JobError(
                ErrorCode.PROVIDER_UNAVAILABLE,
                f"submit: no request_id in {str(answer.body)[:200]}",
                outcome_unknown=True,
            )
        meta = {key: url for key in URL_KEYS if isinstance(url := body.get(key), str) and self._queue.owns(url)}
        log.info("fal.submitted", model=model.id, endpoint=endpoint, task_id=request_id)
        return SubmittedTask(request_id, meta)

    async def poll(self, task: TaskRef) -> PollResult:
        """GET the status; for a finished request, GET its result (``video.url``)."""
        answer = await self._queue.send("GET", self._url(task, "status_url"))
        if answer.status == 404:
            raise JobError(
                ErrorCode.PROVIDER_UNAVAILABLE, f"status: fal does not know request {task.task_id}", task_missing=True
            )
        if not answer.ok:
            raise normalize_fal_error(answer.status, answer.body, retry_after=answer.retry_after)
        status = answer.mapping()
        state = str(status.get("status", "")).upper()
        if state == "IN_QUEUE":
            return PollResult(TaskState.PENDING, queue_position=_position(status.get("queue_position")), parser=_PARSER)
        if state == "IN_PROGRESS":
            return PollResult(TaskState.PENDING, parser=_PARSER)
        if state == "COMPLETED":
            if status.get("error") or status.get("error_type"):
                return PollResult(TaskState.FAILED, error=result_failure(status), parser=_PARSER)
            return await self._result(task)
        raise JobError(ErrorCode.PROVIDER_UNAVAILABLE, f"status: malformed answer {str(answer.body)[:200]}")

    async def cancel(self, task: TaskRef) -> CancelOutcome:
        """PUT the cancel URL: 202 stops it; 400 ``ALREADY_COMPLETED`` means it finished (deliver it)."""
        answer = await self._queue.send("PUT", self._url(task, "cancel_url"))
        status = str(answer.mapping().get("status", "")).upper()
        if answer.ok:
            log.info("fal.cancelled", task_id=task.task_id, status=status)
            return CancelOutcome.CANCELLED
        if answer.status == 400 and status == "ALREADY_COMPLETED":
            return CancelOutcome.ALREADY_DONE
        if answer.status == 404:
            return CancelOutcome.NOT_SUPPORTED  # fal does not know it: nothing we can stop
        raise normalize_fal_error(answer.status, answer.body, retry_after=answer.retry_after)

    def normalize_error(self, http_status: int | None, payload: object) -> JobError:
        """Map a fal status/body onto the error taxonomy (see :mod:`providers.fal_errors`)."""
        return normalize_fal_error(http_status, payload)

    async def aclose(self) -> None:
        """Close the HTTP client this adapter was given."""
        await self._queue.aclose()

    async def _result(self, task: TaskRef) -> PollResult:
        answer = await self._queue.send("GET", self._url(task, "response_url"))
        if not answer.ok:
            error = normalize_fal_error(answer.status, answer.body, retry_after=answer.retry_after)
            # fal answers the result of a failed request with the failure (422 validation, an error_type);
            # anything else (a 502 from a gateway) is a hiccup on the way to it.
            if answer.status == 422 or error_type_of(answer.body):
                return PollResult(TaskState.FAILED, error=error, parser=_PARSER)
            raise error
        url = _video_url(answer.mapping())
        if url is None:
            raise JobError(ErrorCode.PROVIDER_UNAVAILABLE, f"result: no video.url in {str(answer.body)[:200]}")
        return PollResult(TaskState.SUCCEEDED, video_url=url, parser=_PARSER)

    def _url(self, task: TaskRef, key: str) -> str:
        url = task.meta.get(key)
        if url and self._queue.owns(url):
            return url
        return fallback_url(self._queue.base_url, task, key)


def fallback_url(queue_url: str, task: TaskRef, key: str) -> str:
    """The documented app-only path for ``key`` (``status_url`` …): ``{queue}/{owner}/{app}/requests/{id}``."""
    model = model_of(task.model, "fal")
    endpoint = model.text_model if model is not None else task.model
    app = "/".join(endpoint.split("/")[:2])
    base = f"{queue_url.rstrip('/')}/{app}/requests/{task.task_id}"
    return {"status_url": f"{base}/status", "cancel_url": f"{base}/cancel"}.get(key, base)


def _position(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if value >= 0 else None


def _video_url(body: Mapping[str, Any]) -> str | None:
    video = body.get("video")
    url = video.get("url") if isinstance(video, Mapping) else None
    return url if isinstance(url, str) and url else None
