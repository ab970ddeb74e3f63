"""Upgrades of a finished KIE Veo video: 1080p and 4K (docs/providers.md, "KIE Veo upgrades").

Both follow the finished video's own task id (an upgrade has no task of its own to poll), with ``index`` 0 (a Veo
task makes one video):

- **1080p**: ``GET /api/v1/veo/get-1080p-video?taskId=…&index=0`` is free and answers "1080P is processing" (a
  non-200 code) until ``data.resultUrl``. The submit asks once (the first request starts the conversion where it
  has not started by itself, and a video that cannot be upgraded is refused at once); every poll asks again.
- **4K**: ``POST /api/v1/veo/get-4k-video`` is paid. Its first answer is ``data: {taskId, resultUrls: null}``; KIE
  documents that repeated requests for the same task answer 422 "4k is processing…" and, once done, 422 "The video
  has been generated successfully" with ``resultUrls``, so the poll repeats the POST without a callback URL and
  never starts a second conversion. A repeat answered as a new acceptance (200) is logged and counts as pending.
  The callback (``creditsConsumed``, the one place KIE reports the 4K's cost) only makes the job poll now; its URL
  is never used (``bot/http/callback_cost.py`` keeps the cost).
"""

from __future__ import annotations

import re
from typing import Any

import structlog

from poller.errors import ErrorCode, JobError
from poller.jobs import TaskKind
from poller.ports import PollResult, SubmitRequest, SubmittedTask, TaskRef, TaskState
from providers.kie_common import Envelope, KieApi
from providers.kie_errors import still_processing
from providers.parsers import parse_status
from providers.parsers.chain import reported_cost
from providers.parsers.common import dig, first_url

log = structlog.get_logger(__name__)

GET_1080P_PATH = "/api/v1/veo/get-1080p-video"
GET_4K_PATH = "/api/v1/veo/get-4k-video"
VIDEO_INDEX = 0  # a Veo task makes one video
# The 4K failure KIE documents (callback code 500): final, though 500 elsewhere is server trouble.
_UNAVAILABLE = re.compile(r"\bunavailable\b", re.IGNORECASE)


class VeoUpscales:
    """The 1080p and 4K routes of the Veo adapter. Raises :class:`JobError` only."""

    def __init__(self, api: KieApi) -> None:
        self._api = api

    async def submit(self, request: SubmitRequest) -> SubmittedTask:
        """Start the upgrade of ``request.parent_task_id``; the task to follow is that same video's."""
        parent = request.parent_task_id
        if not parent:
            raise JobError(
                ErrorCode.INVALID_INPUT, f"a {request.kind} upgrade needs the video's task", request_sent=False
            )
        if request.kind is TaskKind.UPSCALE_1080P:
            answer = read_1080p(await self._api.get_envelope(GET_1080P_PATH, _query(parent)))
        else:
            body: dict[str, Any] = {"taskId": parent, "index": VIDEO_INDEX}
            if request.callback_url:
                body["callBackUrl"] = request.callback_url
            answer = read_4k(await self._api.post_envelope(GET_4K_PATH, body))
        if answer.state is TaskState.FAILED:
            assert answer.error is not None
            raise answer.error
        log.info("kie_veo.upscale_started", kind=request.kind.value, parent_task_id=parent, state=answer.state.value)
        return SubmittedTask(parent, {"index": str(VIDEO_INDEX)})

    async def poll(self, task: TaskRef) -> PollResult:
        """Ask again: a GET for 1080p, the same (idempotent) POST for 4K."""
        index = task.meta.get("index", str(VIDEO_INDEX))
        if task.kind is TaskKind.UPSCALE_1080P:
            return read_1080p(await self._api.get_envelope(GET_1080P_PATH, _query(task.task_id, index)))
        body = {"taskId": task.task_id, "index": int(index)}
        return read_4k(await self._api.post_envelope(GET_4K_PATH, body), polling=True)


def read_1080p(answer: Envelope) -> PollResult:
    """A ``get-1080p-video`` answer: ``data.resultUrl``, "processing", or a failure."""
    if answer.code == 200:
        return parse_status(answer.data)  # the Veo 1080P parser (an empty resultUrl is pending)
    if still_processing(answer.code, answer.msg):
        return PollResult(TaskState.PENDING, parser="veo_1080p")
    return _failure(answer, "veo_1080p")


def read_4k(answer: Envelope, *, polling: bool = False) -> PollResult:
    """A ``get-4k-video`` answer: accepted (200), still rendering or done (both 422), or a failure."""
    url = first_url(dig(answer.data, "resultUrls"))
    if url is not None and answer.code in (200, 422):
        return PollResult(TaskState.SUCCEEDED, video_url=url, parser="veo_4k", cost=reported_cost(answer.body))
    if answer.code == 200:
        if polling:  # KIE documents a repeat as 422: a 200 means it took the repeat for a new request
            log.warning("kie_veo.4k_repeat_accepted", task_id=dig(answer.data, "taskId"))
        return PollResult(TaskState.PENDING, parser="veo_4k")
    if still_processing(answer.code, answer.msg):
        return PollResult(TaskState.PENDING, parser="veo_4k")
    if answer.code == 500 and _UNAVAILABLE.search(answer.msg):
        error = JobError(ErrorCode.PROVIDER_ERROR, f"4K failed: code 500: {answer.msg}")
        return PollResult(TaskState.FAILED, error=error, parser="veo_4k")
    return _failure(answer, "veo_4k")


def _failure(answer: Envelope, parser: str) -> PollResult:
    """Any other answer: retryable errors are raised (they cost an attempt), the others end the upgrade. A refusal
    of the request is no fault of the user's (they typed no prompt): "invalid input" becomes "could not be made"."""
    error = answer.error()
    if error.retryable:
        raise error
    if error.code is ErrorCode.INVALID_INPUT:
        error = JobError(ErrorCode.PROVIDER_ERROR, error.raw, request_sent=error.request_sent)
    return PollResult(TaskState.FAILED, error=error, parser=parser)


def _query(task_id: str, index: str = str(VIDEO_INDEX)) -> dict[str, str]:
    return {"taskId": task_id, "index": index}
