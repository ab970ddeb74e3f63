"""The ``/v1`` FastAPI app: routes typed for the OpenAPI document, each a thin translator onto the core's use cases
(:class:`poller.create_job.JobCreator`, :func:`poller.control.cancel_job`)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from bot.http.job_view import API_STATUSES, job_view
from bot.http.v1.auth import Caller, authenticate
from bot.http.v1.checks import check_url, metadata_text, refusal_error, resolve_options
from bot.http.v1.cursor import decode_cursor, encode_cursor
from bot.http.v1.docs import docs_page
from bot.http.v1.errors import ApiError, ErrorBody, install_error_handlers, invalid
from bot.http.v1.schemas import ApiStatus, CreateJob, JobPage, JobView, ModelList, ModelView
from bot.http.v1.stream import JobStreams
from poller.control import AlreadyFinished, cancel_job
from poller.create_job import Created, JobCreator, JobRequest
from poller.errors import InvalidTransition, JobNotFound
from poller.events import JobSource
from poller.finish import JobFinisher
from poller.jobs import NO_CHAT, AspectRatio, Job, new_job_id
from poller.ports import EventBus, JobStore, PriceList, ProviderLookup
from providers.catalog import Catalog
from storage.api_jobs import RedisApiJobs
from storage.api_keys import RedisApiKeys
from storage.api_rate_limit import ApiRateLimiter

log = structlog.get_logger(__name__)

_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, no spaces
IDEMPOTENT_WAIT_S = 5.0  # how long a retry waits for the job its twin request is still creating
SCAN_FACTOR = 5  # a status filter reads up to this many entries per page asked for


@dataclass(frozen=True, slots=True)
class V1Deps:
    """What the job API needs (built by ``bot.api_wiring``)."""

    keys: RedisApiKeys
    limiter: ApiRateLimiter
    creator: JobCreator
    jobs: JobStore
    api_jobs: RedisApiJobs
    events: EventBus
    finisher: JobFinisher
    providers: ProviderLookup | None
    catalog: Catalog
    prices: PriceList | None  # credits.prices when credits are on
    default_model: str
    default_aspect: AspectRatio
    allow_http: bool  # network.allow_private_addresses: http URLs are accepted too
    streams: JobStreams


async def _caller(request: Request) -> Caller:
    deps: V1Deps = request.app.state.deps
    return await authenticate(request, deps.keys, deps.limiter)


# Module-level: FastAPI reads the annotations of the routes by name.
Auth = Annotated[Caller, Depends(_caller)]
JobId = Annotated[str, Path(max_length=64)]

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        401: "Missing, wrong or revoked API key",
        404: "No such job for this key",
        422: "Invalid input (the field is named)",
        429: "Over the key's request budget (Retry-After)",
    }.items()
}


def create_v1_app(deps: V1Deps) -> FastAPI:
    """The app to mount at ``/v1``."""
    app = FastAPI(
        title="Reelay job API",
        version="1",
        description="Create AI videos from prompts, watch them live (SSE) and cancel them.",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        servers=[{"url": "/v1"}],
        root_path_in_servers=False,
    )
    install_error_handlers(app)
    app.state.deps = deps

    @app.post(
        "/jobs",
        status_code=202,
        response_model=JobView,
        responses={
            **ERRORS,
            200: {"model": JobView, "description": "An Idempotency-Key retry: the job it made"},
            402: {"model": ErrorBody, "description": "Out of credits (insufficient_credits)"},
            409: {"model": ErrorBody, "description": "The Idempotency-Key was used with another body"},
        },
        summary="Create a job",
    )
    async def create_job(
        body: CreateJob,
        who: Auth,
        idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
    ) -> Response:
        model, options = resolve_options(
            body,
            deps.catalog,
            default_model=deps.default_model,
            default_aspect=deps.default_aspect,
            allow_http=deps.allow_http,
        )
        callback_url = (
            check_url("callback_url", body.callback_url, allow_http=deps.allow_http) if body.callback_url else None
        )
        metadata = metadata_text(body.metadata)
        job_id = new_job_id()
        reservation = None
        if idempotency_key is not None:
            if not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
                raise invalid("Idempotency-Key", "1 to 255 printable ASCII characters")
            body_hash = hashlib.sha256(json.dumps(body.model_dump(), sort_keys=True).encode()).hexdigest()
            reservation = await deps.api_jobs.reserve(who.name, idempotency_key, body_hash, job_id)
            if not reservation.reserved:
                if reservation.body_hash != body_hash:
                    raise ApiError(
                        409,
                        "idempotency_conflict",
                        "this Idempotency-Key was used with another body",
                        "Idempotency-Key",
                    )
                return _view(await _made_by_twin(deps, who, reservation.job_id), 200)
        request = JobRequest(
            user_id=who.record.user_id or 0,
            chat_id=who.record.chat_id if who.record.chat_id is not None else NO_CHAT,
            prompt=body.prompt,
            model=model,
            options=options,
            job_id=job_id,
            api_key=who.name,
            callback_url=callback_url,
            metadata=metadata,
        )

        async def acknowledge(job: Job) -> None:
            await deps.api_jobs.add(who.name, job.id, job.created_at)  # listed from now on

        outcome = await deps.creator.create(request, acknowledge, JobSource.API)
        if not isinstance(outcome, Created):
            if reservation is not None:
                await deps.api_jobs.release(who.name, idempotency_key or "", reservation)
            raise refusal_error(outcome, deps.catalog)
        log.info("api.job_created", job_id=outcome.job.id, key=who.name)
        response = _view(outcome.job, 202)
        response.headers["Location"] = f"/v1/jobs/{outcome.job.id}"
        return response

    @app.get("/jobs/{job_id}", response_model=JobView, responses=ERRORS, summary="Get a job")
    async def get_job(job_id: JobId, who: Auth) -> Response:
        return _view(await _own_job(deps, who, job_id), 200)

    @app.get("/jobs", response_model=JobPage, responses=ERRORS, summary="List the key's jobs, newest first")
    async def list_jobs(
        who: Auth,
        status: ApiStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Response:
        before = decode_cursor(cursor) if cursor else None
        views: list[dict[str, Any]] = []
        next_cursor: str | None = None
        scanned = 0
        while len(views) < limit:
            rows = await deps.api_jobs.page(who.name, before=before, limit=limit)
            if not rows:
                break
            jobs = await asyncio.gather(*(_job_or_none(deps.jobs, job_id) for job_id, _ in rows))
            for (job_id, score), job in zip(rows, jobs, strict=True):
                before = (score, job_id)
                scanned += 1
                if job is None or job.api_key != who.name:
                    continue  # expired with the job history
                if status is None or API_STATUSES.get(job.status) == status:
                    views.append(job_view(job))
                    if len(views) == limit:
                        break
            if scanned >= limit * SCAN_FACTOR:
                break  # a rare status: hand back a cursor rather than read every job
        more = before is not None and bool(await deps.api_jobs.page(who.name, before=before, limit=1))
        if more and before is not None:
            next_cursor = encode_cursor(*before)
        return JSONResponse({"jobs": views, "next_cursor": next_cursor})

    @app.delete(
        "/jobs/{job_id}",
        status_code=202,
        response_model=JobView,
        responses={**ERRORS, 409: {"model": ErrorBody, "description": "The job already ended"}},
        summary="Cancel a job (its credits are returned)",
    )
    async def delete_job(job_id: JobId, who: Auth) -> Response:
        job = await _own_job(deps, who, job_id)
        try:
            job = await cancel_job(
                job.id, jobs=deps.jobs, finisher=deps.finisher, events=deps.events, providers=deps.providers
            )
        except AlreadyFinished:
            raise ApiError(
                409, "already_finished", "the provider already finished this video: it is delivered"
            ) from None
        except (InvalidTransition, JobNotFound):
            raise ApiError(409, "already_ended", "this job already ended or is being delivered") from None
        log.info("api.job_cancelled", job_id=job.id, key=who.name)
        return _view(job, 202)

    @app.get(
        "/jobs/{job_id}/events",
        responses={
            **ERRORS,
            200: {"content": {"text/event-stream": {}}, "description": "job.updated events"},
            503: {"model": ErrorBody, "description": "Too many streams open on this process (Retry-After)"},
        },
        response_class=Response,
        summary="Stream the job's changes (Server-Sent Events)",
    )
    async def job_events(
        job_id: JobId,
        who: Auth,
        last_event_id: Annotated[str | None, Header(max_length=40)] = None,
    ) -> Response:
        job = await _own_job(deps, who, job_id)
        after = int(last_event_id) if last_event_id and last_event_id.isdigit() and len(last_event_id) <= 20 else 0
        return deps.streams.respond(job.id, after)

    @app.get("/models", response_model=ModelList, responses=ERRORS, summary="The models offered")
    async def list_models(who: Auth) -> ModelList:
        return ModelList(models=[_model_view(info, deps.prices) for info in deps.catalog.offered()])

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(docs_page(app.openapi()))

    _require_bearer(app)
    return app


def _view(job: Job, status: int) -> JSONResponse:
    return JSONResponse(job_view(job), status_code=status)


async def _job_or_none(jobs: JobStore, job_id: str) -> Job | None:
    try:
        return await jobs.get(job_id)
    except (JobNotFound, ValueError):
        return None


async def _own_job(deps: V1Deps, who: Caller, job_id: str) -> Job:
    """The caller's job, or 404 (also for another key's: its existence is not told)."""
    job = await _job_or_none(deps.jobs, job_id) if _JOB_ID.fullmatch(job_id) else None
    if job is None or job.api_key != who.name:
        raise ApiError(404, "not_found", "no such job")
    return job


async def _made_by_twin(deps: V1Deps, who: Caller, job_id: str) -> Job:
    """The job an earlier request with the same Idempotency-Key made; it may still be being made."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + IDEMPOTENT_WAIT_S
    while True:
        job = await _job_or_none(deps.jobs, job_id)
        if job is not None and job.api_key == who.name:
            return job
        if loop.time() >= deadline:
            raise ApiError(
                409, "idempotency_in_progress", "a request with this Idempotency-Key is still being processed"
            )
        await asyncio.sleep(0.05)


def _model_view(info: Any, prices: PriceList | None) -> ModelView:
    return ModelView(
        id=info.id,
        label=info.label,
        provider=info.provider,
        inputs=sorted(info.inputs),
        durations_s=list(info.durations_s),
        aspect_ratios=[ratio.value for ratio in info.aspect_ratios],
        resolutions=list(info.resolutions),
        prices=None
        if prices is None
        else {
            str(seconds): price for seconds in info.durations_s if (price := prices.price(info.id, seconds)) is not None
        },
    )


def _require_bearer(app: FastAPI) -> None:
    """Document the bearer scheme on every operation (the routes check it themselves, in one error shape)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API key (reelay api-keys create)"}
            }
            schema["security"] = [{"bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
