"""The live feed: Server-Sent Events that keep the jobs list and a job's page up to date without a reload.

Each stream re-reads what its page shows every ``live_interval_s`` (the rows' jobs in one pipelined read; for the
first page of the list, also the jobs created since the page's head) and sends what changed, as fragments rendered
by the same escaping templates as the pages. Reading on a timer rather than listening to every job's changes keeps
the engine free of console code, and costs one round trip per stream and second. Streams are bounded per process
(:data:`console.deps.MAX_LIVE_STREAMS`; more get 503 and the browser retries), end after :data:`STREAM_LIFETIME_S`
(the browser reconnects, and its session is checked again) and end within one interval of the process stopping.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from console.deps import ConsoleDeps
from console.job_view import JOB_ID, load_job_view
from console.queries import JobFilter
from console.render import Renderer
from poller.errors import JobNotFound
from poller.jobs import Job

STREAM_LIFETIME_S = 600.0
KEEP_ALIVE_S = 15.0
MAX_TRACKED = 100  # rows one list stream follows (a page shows 50; live additions come on top)
RETRY = b"retry: 2000\n\n"


def sse(event: str, data: dict[str, object]) -> bytes:
    """One event; ``json.dumps`` escapes newlines, so one ``data:`` line holds it all."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def _row_fingerprint(job: Job) -> tuple[object, ...]:
    return job.status, job.attempts, job.updated_at, job.owner


class LiveFeed:
    """The two streams (the jobs list, one job) and the bound on how many are open."""

    def __init__(self, deps: ConsoleDeps, renderer: Renderer) -> None:
        self._deps = deps
        self._render = renderer
        self.open_streams = 0

    async def jobs(self, request: Request) -> Response:
        """``GET /console/live/jobs?<filter>&ids=a,b&head=<position>``: rows that change, and new jobs on top."""
        params = request.query_params
        ids = [job_id for job_id in params.get("ids", "").split(",") if JOB_ID.fullmatch(job_id)][:MAX_TRACKED]
        head = params.get("head") or None
        return self._respond(self._jobs_events(JobFilter.from_query(params), ids, head))

    async def job(self, request: Request) -> Response:
        """``GET /console/live/jobs/{job_id}``: the job's state, timeline and actions as they change."""
        job_id = request.path_params["job_id"]
        if not JOB_ID.fullmatch(job_id):
            return PlainTextResponse("no such job", status_code=404)
        return self._respond(self._job_events(job_id, request.session.get("csrf", "")))

    def _respond(self, events: AsyncIterator[bytes]) -> Response:
        if self.open_streams >= self._deps.max_live_streams:
            headers = {"Retry-After": "5"}
            return PlainTextResponse("too many live views open on this process", status_code=503, headers=headers)
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(self._counted(events), media_type="text/event-stream", headers=headers)

    async def _counted(self, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        # Counted here rather than in the handler: a response that is never sent never starts its generator,
        # and a count taken outside it would never be given back.
        if self.open_streams >= self._deps.max_live_streams:
            yield sse("busy", {})
            return
        self.open_streams += 1
        try:
            yield RETRY
            async for chunk in events:
                yield chunk
        finally:
            self.open_streams -= 1

    async def _ticks(self) -> AsyncIterator[bool]:
        """One tick per interval until the stream's lifetime or the process ends; True when a keep-alive is due."""
        started = last_sent = time.monotonic()
        while not self._deps.closing() and time.monotonic() - started < STREAM_LIFETIME_S:
            now = time.monotonic()
            keep_alive = now - last_sent >= KEEP_ALIVE_S
            if keep_alive:
                last_sent = now
            yield keep_alive
            await asyncio.sleep(self._deps.live_interval_s)

    async def _jobs_events(self, wanted: JobFilter, ids: list[str], head: str | None) -> AsyncIterator[bytes]:
        rows = _ListRows(self._deps, wanted, ids, head)
        async for keep_alive in self._ticks():
            if keep_alive:
                yield b": keep-alive\n\n"  # a comment: keeps proxies and the browser from timing out
            for event, job in await rows.changes():
                yield sse(event, {"id": job.id, "html": self._render.fragment("_job_row.html", job=job)})

    async def _job_events(self, job_id: str, csrf: str) -> AsyncIterator[bytes]:
        deps, render = self._deps, self._render
        last: tuple[object, ...] | None = None
        async for keep_alive in self._ticks():
            if keep_alive:
                yield b": keep-alive\n\n"
            try:
                job = await deps.reads.get(job_id)
            except JobNotFound:
                yield sse("gone", {"id": job_id})
                return
            view = await load_job_view(deps, job)
            fingerprint = view.fingerprint()
            if fingerprint != last:
                last = fingerprint
                yield sse(
                    "job",
                    {
                        "id": job_id,
                        "status": job.status.value,
                        "html": render.fragment("_job_live.html", view=view, job=job),
                        "actions": render.fragment("_job_actions.html", view=view, job=job, csrf=csrf),
                    },
                )


class _ListRows:
    """What one jobs-list stream follows: the rows on the page, and (on the first page) the jobs created since its
    head. A new job that matches the filter except for its state (the list shows failed jobs, and it is still
    running) is kept waiting, and added once it reaches that state."""

    def __init__(self, deps: ConsoleDeps, wanted: JobFilter, ids: list[str], head: str | None) -> None:
        self._deps = deps
        self._wanted = wanted
        self._ids = ids
        self._head = head
        self._seen: dict[str, tuple[object, ...]] = {}
        self._waiting: list[str] = []

    async def changes(self) -> list[tuple[str, Job]]:
        """``("row", job)`` for each shown job that changed, ``("added", job)`` for each new one, oldest first."""
        reads = self._deps.reads
        changed: list[tuple[str, Job]] = []
        for job in await reads.get_many(self._ids):
            if self._seen.get(job.id) != _row_fingerprint(job):
                self._seen[job.id] = _row_fingerprint(job)
                changed.append(("row", job))
        if self._head is None:
            return changed  # an older page: nothing new can appear on it
        created, self._head = await self._deps.listing.created_after(self._head)
        candidates = [*await reads.get_many(self._waiting), *created]
        self._waiting = []
        for job in candidates:
            if self._wanted.matches(job):
                self._ids = [job.id, *(i for i in self._ids if i != job.id)][:MAX_TRACKED]
                self._seen[job.id] = _row_fingerprint(job)
                changed.append(("added", job))
            elif not job.status.terminal and replace(self._wanted, status=None).matches(job):
                self._waiting.append(job.id)
        self._waiting = self._waiting[-MAX_TRACKED:]
        return changed
