"""``GET /v1/jobs/{id}/events``: a job's changes as Server-Sent Events.

Each event is ``job.updated`` with the job view as data and the job's *revision* as id: the job hash's ``rev``,
which every status change raises atomically (``storage.redis_jobs``), so it grows monotonically, survives restarts
and is the same whichever process serves the stream. ``Last-Event-ID`` resumes: only a revision above it is sent.

Why a timer rather than the event bus: status changes are not announced on the bus (only new jobs and pokes are),
and a stream must follow a job held by any process. Each open stream reads the job's revision (one HGET) every
``poll_s`` and the whole job only when it moved; streams are bounded per process, end after a terminal state, after
:data:`STREAM_LIFETIME_S` (the client reconnects with ``Last-Event-ID``) and within ``poll_s`` of the process stopping.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.responses import Response, StreamingResponse

from bot.http.job_view import job_view
from bot.http.v1.errors import ApiError, error_response
from poller.errors import JobNotFound
from poller.ports import JobStore
from storage.api_jobs import RedisApiJobs

EVENT = "job.updated"
HEARTBEAT_S = 15.0
STREAM_LIFETIME_S = 3600.0
MAX_STREAMS = 200
RETRY = b"retry: 2000\n\n"
HEARTBEAT = b": heartbeat\n\n"


def sse_frame(event_id: int, data: dict[str, Any]) -> bytes:
    """One event; ``json.dumps`` escapes newlines, so a single ``data:`` line holds it all."""
    return f"id: {event_id}\nevent: {EVENT}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


class JobStreams:
    """The open event streams of this process (see the module docstring)."""

    def __init__(
        self,
        jobs: JobStore,
        api_jobs: RedisApiJobs,
        *,
        closing: Callable[[], bool],
        max_streams: int = MAX_STREAMS,
        poll_s: float = 0.5,
        heartbeat_s: float = HEARTBEAT_S,
        lifetime_s: float = STREAM_LIFETIME_S,
    ) -> None:
        self._jobs, self._api_jobs = jobs, api_jobs
        self._closing = closing
        self._max = max_streams
        self._poll_s, self._heartbeat_s, self._lifetime_s = poll_s, heartbeat_s, lifetime_s
        self.open_streams = 0

    def respond(self, job_id: str, after: int) -> Response:
        """The stream of ``job_id`` from after revision ``after`` (0: from its current state), or 503 when full."""
        if self.open_streams >= self._max:
            busy = ApiError(503, "too_many_streams", "too many event streams open here", headers={"Retry-After": "5"})
            return error_response(busy)
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(self._counted(job_id, after), media_type="text/event-stream", headers=headers)

    async def _counted(self, job_id: str, after: int) -> AsyncIterator[bytes]:
        # Counted inside the generator: a response never sent never starts it, so the count is always given back.
        self.open_streams += 1
        try:
            yield RETRY
            async for chunk in self.events(job_id, after):
                yield chunk
        finally:
            self.open_streams -= 1

    async def events(self, job_id: str, after: int) -> AsyncIterator[bytes]:
        """The frames: the current state (unless the client has it), each change, heartbeats; ends when the job
        ends, the job is gone, the lifetime is over or the process stops."""
        started = last_write = time.monotonic()
        sent, first = after, True
        while not self._closing() and time.monotonic() - started < self._lifetime_s:
            # The revision first, then the job: an id never runs ahead of the data sent with it.
            revision = max(1, await self._api_jobs.revision(job_id))
            if revision > sent or first:
                first = False  # the first look also learns whether the client already has the end
                try:
                    job = await self._jobs.get(job_id)
                except JobNotFound:
                    return
                if revision > sent:
                    yield sse_frame(revision, job_view(job))
                    sent, last_write = revision, time.monotonic()
                if job.status.terminal:
                    return  # the last state is out (or the client had it already)
            now = time.monotonic()
            if now - last_write >= self._heartbeat_s:
                yield HEARTBEAT
                last_write = now
            await asyncio.sleep(self._poll_s)
