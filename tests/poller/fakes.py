"""In-memory stand-ins for the engine's ports that are not storage (provider, downloader, probe, notifier).

The engine tests run the real Redis job store (on fakeredis, which runs the Lua scripts) and the real
local blob store; only the outside world is faked here, so these tests need no Telegram and no KIE.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from poller.errors import ErrorCode, JobError
from poller.jobs import Job, TaskKind
from poller.ports import (
    CancelOutcome,
    LocalVideo,
    MediaInfo,
    PollResult,
    Session,
    StoredBlob,
    SubmitRequest,
    SubmittedTask,
    TaskRef,
    TaskState,
)

VIDEO_BYTES = b"\x00\x00\x00\x18ftypmp42" + b"x" * 4000


@dataclass
class ScriptedProvider:
    """Answers polls from a per-task script; submits return task ids ``task-1``, ``task-2``…"""

    name: str = "fake"
    poll_script: deque[PollResult | Exception] = field(default_factory=deque)
    submit_script: deque[JobError] = field(default_factory=deque)
    default: PollResult = field(default_factory=lambda: PollResult(TaskState.PENDING))
    submits: list[SubmitRequest] = field(default_factory=list)
    extends: list[tuple[str, str]] = field(default_factory=list)
    cancels: list[TaskRef] = field(default_factory=list)
    extend_errors: deque[JobError] = field(default_factory=deque)
    polls: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    poll_delay_s: float = 0.0

    def supports(self, model: str) -> bool:
        return True

    def supports_kind(self, model: str, kind: TaskKind) -> bool:
        return kind is TaskKind.GENERATE or model.startswith("veo")

    async def submit(self, request: SubmitRequest) -> SubmittedTask:
        if request.kind is TaskKind.EXTEND:
            assert request.parent_task_id is not None
            self.extends.append((request.parent_task_id, request.prompt))
            if self.extend_errors:
                raise self.extend_errors.popleft()
            return SubmittedTask(f"ext-{len(self.extends)}")
        self.submits.append(request)
        if self.submit_script:
            raise self.submit_script.popleft()
        return SubmittedTask(f"task-{len(self.submits)}")

    async def cancel(self, task: TaskRef) -> CancelOutcome:
        self.cancels.append(task)
        return CancelOutcome.NOT_SUPPORTED

    async def poll(self, task: TaskRef) -> PollResult:
        self.polls += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.poll_delay_s:
                await asyncio.sleep(self.poll_delay_s)
            answer = self.poll_script.popleft() if self.poll_script else self.default
        finally:
            self.in_flight -= 1
        if isinstance(answer, Exception):
            raise answer
        return answer

    def normalize_error(self, http_status: int | None, payload: object) -> JobError:
        return JobError(ErrorCode.PROVIDER_ERROR, str(payload))

    async def aclose(self) -> None:
        return None


def success(url: str = "https://provider.example/v.mp4") -> PollResult:
    """A finished task."""
    return PollResult(TaskState.SUCCEEDED, video_url=url, parser="test")


class ProviderLookupOf:
    """A ``ProviderLookup`` that serves every model with one provider."""

    def __init__(self, provider: ScriptedProvider) -> None:
        self.provider = provider

    def for_model(self, model: str) -> ScriptedProvider:
        return self.provider


@dataclass
class BytesDownloader:
    """Serves fixed bytes for any URL (in chunks), or fails as told."""

    body: bytes = VIDEO_BYTES
    failures: deque[Exception] = field(default_factory=deque)
    downloads: int = 0

    @asynccontextmanager
    async def open(self, url: str) -> AsyncIterator[AsyncIterator[bytes]]:
        self.downloads += 1
        if self.failures:
            raise self.failures.popleft()

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(self.body), 1024):
                yield self.body[start : start + 1024]

        yield chunks()


class FixedProbe:
    """Reports a 1280x720, 8 s video."""

    async def probe(self, path: Path) -> MediaInfo:
        assert path.stat().st_size > 0
        return MediaInfo(duration_s=8.0, width=1280, height=720, has_video=True)


@dataclass
class RecordingNotifier:
    """Records what the user would have seen."""

    progress: list[tuple[str, str]] = field(default_factory=list)
    delivered: list[tuple[str, bytes, bool]] = field(default_factory=list)
    ended: list[tuple[str, str]] = field(default_factory=list)
    deliver_failures: deque[JobError] = field(default_factory=deque)

    async def job_progress(self, job: Job, session: Session) -> None:
        self.progress.append((job.id, job.status.value))

    async def deliver(
        self,
        job: Job,
        session: Session,
        video: LocalVideo,
        *,
        commit: Callable[[], Awaitable[bool]] | None = None,
        link_only: bool = False,
    ) -> str | None:
        if commit is not None and not await commit():
            return None
        if self.deliver_failures:
            raise self.deliver_failures.popleft()
        self.delivered.append((job.id, video.path.read_bytes(), link_only))
        return f"{session.chat_id}:{len(self.delivered)}:file-{job.id}"

    async def job_ended(self, job: Job, session: Session) -> None:
        self.ended.append((job.id, job.error_code.value if job.error_code else ""))


async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Wait for ``predicate`` to hold, failing with ``what`` after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


@dataclass
class MemoryBlobStore:
    """Keeps blobs in a dict; counts writes so tests can prove a video is stored once."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    writes: int = 0

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes], content_type: str) -> StoredBlob:
        self.writes += 1
        body = b"".join([chunk async for chunk in chunks])
        self.blobs[key] = body
        return StoredBlob(key=key, size_bytes=len(body))

    async def url_for(self, key: str, expires_s: int) -> str:
        return f"https://blobs.example/{key}?expires={expires_s}"

    async def delete(self, key: str) -> None:
        self.blobs.pop(key, None)


@dataclass
class RecordingBilling:
    """Counts captures and refunds per job, with the once-only rule of the real ledger."""

    captured: list[str] = field(default_factory=list)
    refunded: list[str] = field(default_factory=list)

    async def capture(self, job: Job) -> bool:
        if job.id in self.captured or job.id in self.refunded:
            return False
        self.captured.append(job.id)
        return True

    async def refund(self, job: Job) -> bool:
        if job.id in self.captured or job.id in self.refunded:
            return False
        self.refunded.append(job.id)
        return True


@dataclass
class MemoryLateChecks:
    """The reconciler's schedule in a dict."""

    due_at: dict[str, float] = field(default_factory=dict)

    async def schedule(self, job_id: str, due_at: float) -> None:
        self.due_at[job_id] = due_at

    async def due(self, now: float, limit: int) -> list[str]:
        return [job_id for job_id, at in sorted(self.due_at.items(), key=lambda kv: kv[1]) if at <= now][:limit]

    async def take(self, job_id: str) -> bool:
        return self.due_at.pop(job_id, None) is not None

    async def claim_due(self, job_id: str, retry_in_s: float) -> bool:
        at = self.due_at.get(job_id)
        if at is None or at > time.time():
            return False
        self.due_at[job_id] = time.time() + retry_in_s
        return True


@dataclass
class RecordingEvents:
    """An event bus that only records what was published."""

    published: list[tuple[str, str]] = field(default_factory=list)

    async def publish(self, kind: str, job_id: str = "") -> None:
        self.published.append((kind, job_id))

    async def listen(self, stop: asyncio.Event | None = None) -> AsyncIterator[tuple[str, str]]:
        await (stop or asyncio.Event()).wait()
        return
        yield ("", "")
