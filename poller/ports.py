"""The ports: what the engine needs from the outside world, as protocols.

Adapters in ``providers/``, ``storage/`` and ``bot/`` implement them; the composition root
(``bot/app.py``) wires real adapters, tests wire stand-ins. Nothing here knows Telegram, KIE or S3.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

from poller.errors import JobError
from poller.jobs import Job, JobOptions, JobStatus, TaskKind, VideoOutput
from poller.schedule import AttemptTiming

# --------------------------------------------------------------------------- providers


class TaskState(StrEnum):
    """What a provider says about a task, once its answer is parsed."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SubmitRequest:
    """One request to start a task, in provider-neutral terms. ``model`` is the catalog id; a child task (extend,
    upscale) names the provider's task it continues in ``parent_task_id``."""

    model: str
    prompt: str
    options: JobOptions = field(default_factory=JobOptions)
    callback_url: str | None = None
    kind: TaskKind = TaskKind.GENERATE
    parent_task_id: str | None = None


@dataclass(frozen=True, slots=True)
class SubmittedTask:
    """What a provider handed back for a new task: its id, and what following it needs again (``meta``: fal's
    status, result and cancel URLs), stored with the job so another process or a restart can follow it."""

    task_id: str
    meta: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TaskRef:
    """A task to ask about: its id, the catalog model and kind of the job that follows it, and the submit's ``meta``."""

    task_id: str
    model: str
    kind: TaskKind = TaskKind.GENERATE
    meta: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, job: Job) -> TaskRef:
        """The task ``job`` follows (it must have one)."""
        assert job.provider_task_id is not None
        return cls(job.provider_task_id, job.model, job.kind, job.task_meta)


@dataclass(frozen=True, slots=True)
class PollResult:
    """A parsed status answer. ``error`` is set when ``state`` is FAILED."""

    state: TaskState
    video_url: str | None = None
    error: JobError | None = None
    progress: float | None = None
    parser: str = ""  # which format parser recognised the answer (for logs)
    cost: float | None = None  # what the provider says the task cost (its own credits), when it says so
    queue_position: int | None = None  # where the task waits in the provider's queue (fal), when it says so


class CancelOutcome(StrEnum):
    """What asking a provider to stop a task achieved."""

    CANCELLED = "cancelled"  # the provider stopped it (or will): no video comes
    ALREADY_DONE = "already_done"  # too late: it finished, so the video can still be delivered
    NOT_SUPPORTED = "not_supported"  # the provider cannot stop tasks: it may still finish, unseen


@runtime_checkable
class VideoProvider(Protocol):
    """One provider API (KIE Veo, KIE Market, fal …). Methods raise :class:`JobError` only."""

    name: str

    def supports(self, model: str) -> bool:
        """Whether this adapter serves ``model`` (a catalog id)."""
        ...

    def supports_kind(self, model: str, kind: TaskKind) -> bool:
        """Whether a task of ``kind`` can be made for a video of ``model`` (extend, upscale)."""
        ...

    async def submit(self, request: SubmitRequest) -> SubmittedTask:
        """Start a task of ``request.kind``; return what following it needs."""
        ...

    async def poll(self, task: TaskRef) -> PollResult:
        """Ask how a task is doing. Malformed answers raise a retryable :class:`JobError`."""
        ...

    async def cancel(self, task: TaskRef) -> CancelOutcome:
        """Ask the provider to stop a task (the user cancelled the job)."""
        ...

    def normalize_error(self, http_status: int | None, payload: object) -> JobError:
        """Map an HTTP status and/or a provider error body onto the error taxonomy."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class InputPreparer(Protocol):
    """Puts a job's photos where its provider can fetch them, before the submit (image-to-video)."""

    async def prepare(self, job: Job) -> Job:
        """Fetch each ``options.*image_source`` (Telegram, an integrator's URL), check it, store it under
        ``inputs/<job id>.<ext>`` and record the URL the provider fetches (``options.image_url``…) on the job; return
        the job as stored. Idempotent (a restart before the submit prepares again). Raise :class:`JobError`:
        ``INVALID_INPUT`` for a file that is not a usable photo (nothing is submitted), a retryable code otherwise."""
        ...


@dataclass(frozen=True, slots=True)
class FailoverTarget:
    """Where a refused job goes next: the model, its provider, and the job's options fitted to that model."""

    model: str
    provider: str
    options: JobOptions


class Failover(Protocol):
    """The operator's fallbacks (``[failover]``) for a model whose provider refused a submit."""

    def next_for(self, job: Job) -> FailoverTarget | None:
        """The next fallback for ``job`` that is enabled, takes its inputs and was not tried yet; None when none is
        left (or the job cannot move: an extension or upscale continues a task at its own provider)."""
        ...


class SubmitPacer(Protocol):
    """Paces submits to what each provider allows (KIE: submits per 10 s; fal: jobs at once), across processes."""

    async def admit(self, job: Job) -> float:
        """Take a submit slot for ``job`` now (0.0), or say in how many seconds to ask again; jobs are admitted in
        the order they were created."""
        ...

    async def release(self, job: Job) -> None:
        """Give back what ``job`` holds (a concurrency slot; its place in line), once it ended or failed over."""
        ...


class ProviderLookup(Protocol):
    """Finds the adapter that serves a model."""

    def for_model(self, model: str) -> VideoProvider:
        """The provider for ``model``; raise ``JobError(INVALID_INPUT)`` when none serves it."""
        ...


class VideoDownloader(Protocol):
    """Streams a finished video from the provider's URL."""

    def open(self, url: str) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        """Yield the body in chunks; raise ``JobError(DOWNLOAD_FAILED)`` on failure or oversize."""
        ...


# --------------------------------------------------------------------------- storage


@dataclass(frozen=True, slots=True)
class Session:
    """What delivery needs to reach the user again, stored under the job at creation."""

    chat_id: int
    user_id: int
    status_message_id: int | None = None
    language: str = "en"
    settings: Mapping[str, str] = field(default_factory=dict)


class JobStore(Protocol):
    """The source of truth for jobs. Every status change is a checked compare-and-set."""

    async def create(self, job: Job, session: Session, *, max_active: int | None = None) -> None:
        """Store a new job and its session, and index it (active, per user).

        With ``max_active``, raise :class:`poller.errors.TooManyActive` instead when the user already has that
        many jobs in progress among their recent ones; atomically with the create where the store can.
        """
        ...

    async def get(self, job_id: str) -> Job:
        """Load a job; raise :class:`JobNotFound`."""
        ...

    async def transition(
        self,
        job_id: str,
        target: JobStatus,
        *,
        expected: frozenset[JobStatus] | None = None,
        fields: Mapping[str, str] | None = None,
    ) -> Job:
        """Move a job to ``target`` if the table (and ``expected``, when given) allows it from its
        current status, setting ``fields`` in the same atomic step. Raise :class:`InvalidTransition`."""
        ...

    async def start_step(self, job_id: str, owner: str, timing: AttemptTiming) -> Job:
        """Load a job for one engine step (raise :class:`JobNotFound`). When ``owner`` holds it and it is
        pollable, count the attempt and set ``next_poll_at`` from ``timing`` in the same atomic step, so
        a routine poll costs one round trip; the returned job shows the new count and due time."""
        ...

    async def update_fields(self, job_id: str, fields: Mapping[str, str]) -> None:
        """Set non-status fields (never ``status``) on an existing job."""
        ...

    async def claim(self, job_id: str, effect: str) -> bool:
        """Claim a one-time side effect (``"send"``, ``"publish"``…). True for the first caller only."""
        ...

    async def claimed(self, job_id: str, effect: str) -> bool:
        """Whether the effect was ever claimed."""
        ...

    async def release(self, job_id: str, effect: str) -> None:
        """Give a claim back after the effect certainly did not happen (so a retry may do it)."""
        ...

    async def active_job_ids(self) -> list[str]:
        """Ids of every job not yet in a terminal state."""
        ...

    async def heal_index(self, job_id: str) -> None:
        """Bring the job's index entries in line with the job (after a crash between the two writes)."""
        ...

    async def delayed_job_ids(self) -> list[str]:
        """Ids of the jobs in ``delayed`` (for the slower sweeper)."""
        ...

    async def jobs_for_user(self, user_id: int, limit: int = 10) -> list[Job]:
        """The user's most recent jobs, newest first."""
        ...


class SessionStore(Protocol):
    """The user's session, kept under the job while it runs and removed when it ends."""

    async def get(self, job_id: str) -> Session | None:
        """The session, or None once cleaned up."""
        ...

    async def set_status_message(self, job_id: str, message_id: int) -> None:
        """Remember the message that shows the job's status."""
        ...

    async def delete(self, job_id: str) -> None:
        """Drop the session (the job itself stays, with a TTL)."""
        ...


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """An object written to the blob store."""

    key: str
    size_bytes: int


class BlobStore(Protocol):
    """Where finished videos are kept (S3, or local disk)."""

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes], content_type: str) -> StoredBlob:
        """Write a stream with flat memory; return what was stored."""
        ...

    async def url_for(self, key: str, expires_s: int) -> str:
        """A link the user can open (time-limited where the store supports it)."""
        ...

    async def delete(self, key: str) -> None:
        """Remove an object (missing objects are not an error)."""
        ...


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What probing a video file tells. ``has_video``: a video stream was found (a file without one, or one the
    probe cannot read, is not a video, whatever it was labelled)."""

    duration_s: float | None
    width: int | None
    height: int | None
    has_video: bool


class MediaProbe(Protocol):
    """Reads duration and resolution from a video file."""

    async def probe(self, path: Path) -> MediaInfo:
        """Probe a local file; unknown values are None, never an exception."""
        ...


# --------------------------------------------------------------------------- several processes


@dataclass(frozen=True, slots=True)
class JobOwnership:
    """Who holds a job's lease, and when its next poll is due: all adoption needs to schedule it."""

    job_id: str
    status: JobStatus | None  # None: the job no longer exists
    owner: str  # "" when nobody holds it
    next_poll_at: float | None = None


@dataclass(frozen=True, slots=True)
class ProcessReport:
    """What a process says about itself with each heartbeat, for operators (the console's live processes).

    Every field may be missing: heartbeats written before processes reported anything carry none."""

    held_jobs: int | None = None  # jobs whose lease it holds
    role: str = ""  # run, bot or poller
    version: str = ""
    started_at: float | None = None  # Unix time


@dataclass(frozen=True, slots=True)
class LiveProcess:
    """A process whose heartbeat has not lapsed, with what it last reported."""

    process_id: str
    expires_at: float  # Unix time its heartbeat lapses unless renewed
    report: ProcessReport = field(default_factory=ProcessReport)


class Leases(Protocol):
    """Which process polls which job. A job's lease is its ``owner`` field plus the owner's heartbeat:
    the lease lapses when the owning process stops renewing its heartbeat (it died or hung)."""

    async def heartbeat(self, process_id: str, ttl_s: float, report: ProcessReport | None = None) -> None:
        """Register ``process_id`` as alive for ``ttl_s`` more seconds, with what it reports about itself."""
        ...

    async def retire(self, process_id: str) -> None:
        """Remove the heartbeat at once (clean shutdown)."""
        ...

    async def live_processes(self) -> list[str]:
        """Processes whose heartbeat has not lapsed."""
        ...

    async def acquire(self, job_id: str, process_id: str, expected_owner: str) -> bool:
        """Take the lease if the job is active and its owner is still ``expected_owner`` (compare-and-set)."""
        ...

    async def acquire_many(self, claims: Sequence[tuple[str, str]], process_id: str) -> list[JobOwnership]:
        """:meth:`acquire` for many ``(job id, expected owner)`` pairs in few round trips; the jobs won,
        with their status and next poll as of the moment each lease was taken."""
        ...

    async def release(self, job_ids: Sequence[str], process_id: str) -> int:
        """Give back the leases ``process_id`` holds among ``job_ids``; return how many."""
        ...

    async def ownership(self, job_ids: Sequence[str]) -> list[JobOwnership]:
        """Status and owner of each job, in one round trip per batch."""
        ...


class EventBus(Protocol):
    """Small notices between processes: a new job to adopt, a job to poll now, a rebalance."""

    async def publish(self, kind: str, job_id: str = "") -> None:
        """Send a notice to every process."""
        ...

    def listen(self, stop: asyncio.Event | None = None) -> AsyncIterator[tuple[str, str]]:
        """Notices published from now on, as ``(kind, job_id)``; ends when cancelled or soon after ``stop`` is set."""
        ...


class LateCheckQueue(Protocol):
    """When to look again at a timed-out task (the reconciler's schedule)."""

    async def schedule(self, job_id: str, due_at: float) -> None:
        """Check ``job_id`` again at ``due_at`` (Unix time)."""
        ...

    async def due(self, now: float, limit: int) -> list[str]:
        """Job ids whose check is due."""
        ...

    async def take(self, job_id: str) -> bool:
        """Remove a job's check (it needs no more); True for exactly one caller."""
        ...

    async def claim_due(self, job_id: str, retry_in_s: float) -> bool:
        """Claim a due check by pushing it ``retry_in_s`` later; True for exactly one caller.

        If the claimer dies before rescheduling or removing it, the check simply comes due again."""
        ...


class Billing(Protocol):
    """Credits: reserved when a job is created, captured on success, refunded on failure, each once."""

    async def capture(self, job: Job) -> bool:
        """Keep the reserved credits; True only the first time."""
        ...

    async def refund(self, job: Job) -> bool:
        """Give the reserved credits back; True only the first time (never after a capture)."""
        ...


# --------------------------------------------------------------------------- creating jobs


class ModelCatalog(Protocol):
    """Which provider serves a model (the catalog lives with the providers)."""

    def provider_for(self, model: str) -> str | None:
        """The provider name for ``model``, or None when it is unknown or not enabled here."""
        ...

    def knows(self, model: str) -> bool:
        """Whether ``model`` is a model of the catalog at all (enabled or not)."""
        ...

    def frames_taken(self, model: str) -> int:
        """How many photos ``model`` can start from: 0 (words only), 1 (a first frame), 2 (first and last)."""
        ...


class PriceList(Protocol):
    """What a video costs in credits."""

    def price(self, model: str, duration_s: int, kind: TaskKind = TaskKind.GENERATE) -> int | None:
        """Credits for one video of ``model`` and ``duration_s`` (an upscale, ``kind``, has a price of its own);
        None when it has no price."""
        ...


@dataclass(frozen=True, slots=True)
class Reservation:
    """The outcome of reserving a job's credits: whether the job holds them, the balance after, and
    whether the job had been reserved (or settled) before this call."""

    ok: bool
    balance: int
    already: bool = False


class CreditLedger(Protocol):
    """Per-user credits as a new job needs them: reserved at creation, refunded if it is never stored."""

    async def reserve(self, user_id: int, job_id: str, amount: int) -> Reservation:
        """Take ``amount`` for ``job_id`` if the balance allows; a repeated reserve never charges again."""
        ...

    async def refund(self, user_id: int, job_id: str) -> bool:
        """Give the job's reserved credits back; True only once (never after a capture)."""
        ...


@dataclass(frozen=True, slots=True)
class QuotaTake:
    """One video counted against a user's daily allowance (``ok``), or refused because it is used up.

    ``day`` names the UTC day it counts on (``20250131``), so a give-back after midnight still undoes the
    right day; ``used`` is the count after this take; ``resets_at`` is when the day ends (Unix time)."""

    ok: bool
    user_id: int
    day: str
    used: int
    resets_at: float


class DailyQuota(Protocol):
    """Videos per user per UTC day, counted atomically across processes."""

    async def take(self, user_id: int, limit: int, now: float) -> QuotaTake:
        """Count one video if fewer than ``limit`` were counted today; otherwise count nothing."""
        ...

    async def give_back(self, take: QuotaTake) -> None:
        """Undo a successful :meth:`take` (the job was not created after all)."""
        ...


class TaskBindings(Protocol):
    """Provider task -> the one job that follows it (a task handed over twice is one job)."""

    async def bind(self, provider: str, task_id: str, job_id: str) -> str:
        """Bind the task to ``job_id`` unless it is bound already; return the job id that is bound."""
        ...


# --------------------------------------------------------------------------- delivery


@dataclass(frozen=True, slots=True)
class LocalVideo:
    """A finished video on local disk, ready to hand to the user."""

    path: Path
    output: VideoOutput


class Notifier(Protocol):
    """Tells the user what happened (Telegram in production)."""

    async def job_progress(self, job: Job, session: Session) -> None:
        """The job changed state (running, delayed): update the status message."""
        ...

    async def deliver(
        self,
        job: Job,
        session: Session,
        video: LocalVideo,
        *,
        commit: Callable[[], Awaitable[bool]] | None = None,
        link_only: bool = False,
    ) -> str | None:
        """Send the finished video (or, with ``link_only``, its link); return a reference to what was sent.

        ``commit`` is called right before the request that cannot be taken back (after any rate-limit
        wait), so the window in which a crash leaves the outcome unknown is as small as it can be; when it
        returns False another attempt owns the send and nothing is sent (None is returned).
        Raise ``JobError(DELIVERY_FAILED)``, with ``outcome_unknown`` when the message may have arrived."""
        ...

    async def job_ended(self, job: Job, session: Session) -> None:
        """The job failed or was cancelled: say so once, in the user's words."""
        ...
