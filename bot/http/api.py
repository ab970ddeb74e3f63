"""The original workflow's contract and a small JSON API for other front ends.

- ``POST /webhook/poll-video`` ``{"sessionId", "taskId", "model", "attempt", "callbackUrl"?}``: adopt a provider
  task started elsewhere; answered at once with ``{"status": "Polling started", "jobId": …}``. The job's events
  go to ``callbackUrl`` too, signed with ``webhooks.poll_video_secret`` (``docs/webhooks.md``).
- ``POST /sessions`` ``{"sessionId", "chatId"}``: say which Telegram chat a session id stands for.
- ``GET /jobs/{id}``: a job's status as JSON.

All three need ``Authorization: Bearer <http.api_token>``. Every malformed input is a 4xx whose JSON body
names the field (``{"error", "field"}``), never a 500: bodies over 1 MiB get 413 (``bot.http.bodies``), a body
that is not JSON 422, JSON nested deeper than 32 levels 400, a bad field 422, a job id outside the id
alphabet 404 without a Redis round trip.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.callback_urls import callback_url_problem
from bot.http.bodies import BadBody, read_json
from poller.adopt_task import ExternalTask, adopt_task
from poller.errors import JobNotFound
from poller.events import JobEvents
from poller.jobs import Job
from poller.ports import EventBus, JobStore
from providers.catalog import Catalog
from storage.registries import ExternalSessions, TaskIndex

_Body = TypeVar("_Body", bound=BaseModel)

# Telegram chat ids (and any id a session names) fit a signed 64-bit integer; anything larger is not a chat.
_INT64 = 2**63
ChatId = Annotated[StrictInt, Field(ge=-_INT64, lt=_INT64)]
# A session id of another system: a string of 1 to 200 characters (a Redis key part), or a chat id.
SessionId = Annotated[StrictStr, Field(min_length=1, max_length=200)] | ChatId
_CHAT_ID = re.compile(r"-?[0-9]{1,19}")
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what poller.jobs.new_job_id produces, with room


class PollVideoRequest(BaseModel):
    """The body the original n8n main workflow posts."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    session_id: SessionId = Field(alias="sessionId")
    task_id: StrictStr = Field(alias="taskId", min_length=1, max_length=200, pattern=r"^[^{}\s]+$")
    model: StrictStr = Field(min_length=1, max_length=100)
    # The attempt the caller is at, 1 to poll.max_attempts (the upper bound is checked by the endpoint).
    attempt: StrictInt = Field(default=1, ge=1)
    # Where the job's events are also sent, signed with webhooks.poll_video_secret (checked by the endpoint).
    callback_url: StrictStr | None = Field(default=None, alias="callbackUrl")


class SessionRequest(BaseModel):
    """Register which chat a session id stands for."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    session_id: SessionId = Field(alias="sessionId")
    chat_id: ChatId = Field(alias="chatId")


@dataclass(frozen=True, slots=True)
class ApiDeps:
    """What the API endpoints need."""

    token: str | None
    max_attempts: int
    jobs: JobStore
    events: EventBus
    sessions: ExternalSessions
    tasks: TaskIndex
    catalog: Catalog  # the models offered here: a task of another model is refused
    listeners: JobEvents | None = None  # who hears of the jobs the endpoints create
    allow_private_addresses: bool = False  # network.allow_private_addresses: plain http callbackUrl allowed
    poll_video_signs: bool = False  # webhooks.poll_video_secret is set: a callbackUrl can be signed


class _ApiError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.response = JSONResponse({"error": message, **({"field": field} if field else {})}, status_code=status)


def api_routes(deps: ApiDeps) -> list[Route]:
    """The three endpoints, each behind the bearer token."""

    async def poll_video(request: Request) -> JSONResponse:
        try:
            _authorize(request, deps.token)
            body = await _parse(request, PollVideoRequest)
            if body.attempt > deps.max_attempts:
                raise _ApiError(422, f"attempt: must be between 1 and {deps.max_attempts}", "attempt")
            _check_callback(deps, body.callback_url)
            job = await _adopt_task(deps, body)
        except _ApiError as exc:
            return exc.response
        return JSONResponse({"status": "Polling started", "jobId": job.id})

    async def register_session(request: Request) -> JSONResponse:
        try:
            _authorize(request, deps.token)
            body = await _parse(request, SessionRequest)
        except _ApiError as exc:
            return exc.response
        await deps.sessions.register(str(body.session_id), body.chat_id)
        return JSONResponse({"sessionId": str(body.session_id), "chatId": body.chat_id})

    async def get_job(request: Request) -> JSONResponse:
        try:
            _authorize(request, deps.token)
            job_id = request.path_params["job_id"]
            if not _JOB_ID.fullmatch(job_id):
                raise JobNotFound(job_id)  # no job has such an id: not worth a Redis round trip
            job = await deps.jobs.get(job_id)
        except _ApiError as exc:
            return exc.response
        except (JobNotFound, ValueError):
            return JSONResponse({"error": "no such job"}, status_code=404)
        return JSONResponse(job_json(job))

    return [
        Route("/webhook/poll-video", poll_video, methods=["POST"]),
        Route("/sessions", register_session, methods=["POST"]),
        Route("/jobs/{job_id}", get_job, methods=["GET"]),
    ]


def job_json(job: Job) -> dict[str, Any]:
    """A job as other front ends see it (never the provider's raw error)."""
    out = job.output
    return {
        "jobId": job.id,
        "status": job.status.value,
        "model": job.model,
        "requestedModel": job.requested_model,  # set when failover made it with another model
        "kind": job.kind.value,
        "taskId": job.provider_task_id,
        "attempts": job.attempts,
        "createdAt": job.created_at,
        "updatedAt": job.updated_at,
        "error": job.error_code.value if job.error_code else None,
        "late": job.late,
        # What the video cost at the provider: its own report ("provider") or the configured price ("configured").
        "providerCost": job.provider_cost,
        "costSource": job.cost_source,
        "video": None
        if out is None
        else {
            "url": out.url,
            "sizeBytes": out.size_bytes,
            "durationS": out.duration_s,
            "width": out.width,
            "height": out.height,
        },
    }


def _authorize(request: Request, token: str | None) -> None:
    if token is None:
        raise _ApiError(503, "this endpoint is disabled: set http.api_token")
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
        raise _ApiError(401, "unauthorized")


async def _parse(request: Request, model: type[_Body]) -> _Body:
    try:
        data = await read_json(request, invalid_status=422)
    except BadBody as exc:
        raise _ApiError(exc.status, exc.message, "body") from None
    if not isinstance(data, dict):
        raise _ApiError(422, "the body must be a JSON object", "body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        # The top-level field only: a union adds the member that failed (sessionId.str) after it.
        field = str(first["loc"][0]) if first["loc"] else "body"
        raise _ApiError(422, f"{field}: {first['msg']}", field) from None


async def _adopt_task(deps: ApiDeps, body: PollVideoRequest) -> Job:
    """Translate the body for the core's :func:`poller.adopt_task.adopt_task` (model and chat checked here)."""
    info = deps.catalog.get(body.model)
    if info is None:
        raise _ApiError(422, f"model: unknown model {body.model!r}", "model")
    if not deps.catalog.is_enabled(info.id):
        offered = ", ".join(model.id for model in deps.catalog.offered())
        raise _ApiError(422, f"model: {info.id} is not enabled here (enabled: {offered})", "model")
    chat_id = await _chat_for(deps.sessions, body.session_id)
    # ``attempt`` numbers the poll that is due (the workflow's first call says 1): the ones before it are spent.
    spent = body.attempt - 1
    task = ExternalTask(
        provider=info.provider,
        model=info.id,
        task_id=body.task_id,
        chat_id=chat_id,
        attempts=spent,
        callback_url=body.callback_url,
    )
    return await adopt_task(task, jobs=deps.jobs, events=deps.events, tasks=deps.tasks, listeners=deps.listeners)


def _check_callback(deps: ApiDeps, url: str | None) -> None:
    if url is None:
        return
    problem = callback_url_problem(url, allow_private_addresses=deps.allow_private_addresses)
    if problem is not None:
        raise _ApiError(422, f"callbackUrl: {problem}", "callbackUrl")
    if not deps.poll_video_signs:
        raise _ApiError(
            422,
            "callbackUrl: this deployment cannot sign poll-video events; its operator must set "
            "webhooks.poll_video_secret",
            "callbackUrl",
        )


async def _chat_for(sessions: ExternalSessions, session_id: str | int) -> int:
    key = str(session_id)
    chat_id = await sessions.chat_for(key)
    if chat_id is not None:
        return chat_id
    if _CHAT_ID.fullmatch(key) and -_INT64 <= int(key) < _INT64:
        return int(key)  # a Telegram chat id used directly as the session id
    raise _ApiError(
        422, "sessionId: unknown session; register it with POST /sessions or use a Telegram chat id", "sessionId"
    )
