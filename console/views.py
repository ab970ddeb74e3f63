"""The console's pages: the overview, the jobs list (filters, search) and a job."""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from console.deps import ConsoleDeps
from console.job_view import JOB_ID, load_job_view
from console.ports import JobPage
from console.queries import JobFilter
from console.render import Renderer
from poller.errors import JobNotFound
from poller.jobs import ACTIVE_STATES, Job, JobStatus

DAY_S = 86400
MAX_SEARCH_CHARS = 200  # the longest task id a key may hold (storage.keys.MAX_PART_LENGTH)
ACTIVE_ORDER = [status for status in JobStatus if status in ACTIVE_STATES]


@dataclass(frozen=True)
class _NoJobs:
    """An empty page (``console.ports.JobPage``), for a search that found nothing."""

    jobs: tuple[Job, ...] = ()
    scanned: int = 0
    next_cursor: str | None = None
    stopped_early: bool = False


@dataclass(frozen=True)
class SearchResult:
    """What a search by job id or provider task id found, and how far it looked."""

    job: Job | None
    scanned: int = 0
    stopped_early: bool = False


class Pages:
    """The page handlers, over the console's dependencies."""

    def __init__(self, deps: ConsoleDeps, renderer: Renderer) -> None:
        self._deps = deps
        self._render = renderer

    async def overview(self, request: Request) -> Response:
        """``GET /console/``: jobs active by state, the last 24 h per model, the provider balance, the processes."""
        deps = self._deps
        counts = await deps.reads.active_counts()
        summary = await deps.analytics.summary(time.time() - DAY_S)
        return self._render.page(
            request,
            "overview.html",
            counts=[(status.value, counts.get(status, 0)) for status in ACTIVE_ORDER],
            active_total=sum(counts.values()),
            summary=summary,
            balance=await deps.balance(),
            processes=await deps.processes.processes(),
            now=time.time(),
        )

    async def jobs(self, request: Request) -> Response:
        """``GET /console/jobs``: newest first, filtered; or, with ``q``, the job with that id or task id."""
        query = request.query_params.get("q", "").strip()
        if query:
            return await self._search(request, query)
        deps = self._deps
        wanted = JobFilter.from_query(request.query_params)
        cursor = request.query_params.get("cursor") or None
        head = None if cursor else await deps.listing.head()  # the live feed adds jobs created after it
        page = await deps.listing.newest(
            wanted.keep,
            since=wanted.since,
            until=wanted.until,
            cursor=cursor,
            limit=deps.page_size,
            max_scan=deps.max_scan,
        )
        return self._list(request, wanted, page, head=head, first_page=cursor is None)

    def _list(
        self,
        request: Request,
        wanted: JobFilter,
        page: JobPage,
        *,
        head: str | None = None,
        first_page: bool = False,
        query: str = "",
        not_found: SearchResult | None = None,
    ) -> Response:
        return self._render.page(
            request,
            "jobs.html",
            status_code=404 if not_found is not None else 200,
            wanted=wanted,
            page=page,
            head=head,
            first_page=first_page,
            next_query=wanted.query(cursor=page.next_cursor) if page.next_cursor else None,
            statuses=[status.value for status in JobStatus],
            models=list(self._deps.models),
            query=query,
            not_found=not_found,
            now=time.time(),
        )

    async def _search(self, request: Request, query: str) -> Response:
        found = await self._find(query)
        if found.job is not None:
            return RedirectResponse(f"/console/jobs/{found.job.id}", status_code=303)
        return self._list(request, JobFilter(), _NoJobs(), query=query, not_found=found)

    async def _find(self, query: str) -> SearchResult:
        """A job id (exact), else a provider task id: through the task index, else among recent jobs."""
        deps = self._deps
        if len(query) > MAX_SEARCH_CHARS:
            return SearchResult(None)
        if JOB_ID.fullmatch(query):
            try:
                return SearchResult(await deps.reads.get(query))
            except JobNotFound:
                pass
        for provider in deps.providers:
            job_id = await deps.tasks.job_for(provider, query)
            if job_id is not None:
                try:
                    return SearchResult(await deps.reads.get(job_id))
                except JobNotFound:
                    continue
        # Jobs made through Telegram have no task index entry: look among the recent ones (bounded).
        page = await deps.listing.newest(lambda job: job.provider_task_id == query, limit=1, max_scan=deps.max_scan)
        return SearchResult(page.jobs[0] if page.jobs else None, page.scanned, page.stopped_early)

    async def job(self, request: Request) -> Response:
        """``GET /console/jobs/{job_id}``: every field, the timeline, the errors, the session, the actions."""
        job_id = request.path_params["job_id"]
        try:
            if not JOB_ID.fullmatch(job_id):
                raise JobNotFound(job_id)  # no job has such an id: not worth a Redis round trip
            job = await self._deps.reads.get(job_id)
        except JobNotFound:
            return self._render.page(request, "not_found.html", status_code=404, job_id=job_id)
        view = await load_job_view(self._deps, job)
        return self._render.page(request, "job.html", view=view, job=job, now=time.time())
