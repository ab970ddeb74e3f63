"""Creating a job: the one use case every entry point calls to turn a user's prompt into a queued job.

The steps, in order: validate the prompt cheaply (no I/O) → for a child job (an extension, or an upgrade to 1080p
or 4K, which keeps the parent's prompt), load the parent and check its owner → resolve the model → price it (an
upgrade by its own price) → count it against the user's daily allowance → reserve the credits → store the job
(with the per-user active limit, atomically where the store can) → let the entry point acknowledge → announce it
to the pollers.

**Nothing is reserved without a job.** Once the allowance is counted or credits are reserved, any way the
job can fail to be stored (a refusal such as too many videos in progress, a Redis error, a prompt Redis
cannot encode) gives both back, once, and the caller gets an outcome to put in the user's words instead of
an exception. Entry points translate the outcome; they hold no rules.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import structlog

from poller.errors import JobNotFound, TooManyActive
from poller.events import CreditMove, JobEvents, JobSource, NoEvents
from poller.jobs import Job, JobOptions, TaskKind, new_job_id
from poller.ports import (
    CreditLedger,
    DailyQuota,
    EventBus,
    JobStore,
    ModelCatalog,
    PriceList,
    QuotaTake,
    Session,
    SessionStore,
)
from poller.prompts import PromptProblem, clean_prompt, prompt_problem
from poller.refusals import (
    BadPrompt,
    DailyLimitReached,
    ModelNotOffered,
    NotStored,
    OutOfCredits,
    ParentGone,
    Refusal,
    TakesNoPhoto,
    TooManyInProgress,
    UnknownModel,
    VideoNotYours,
)
from poller.worker import NEW_JOB

log = structlog.get_logger(__name__)

__all__ = [
    "Acknowledge",
    "BadPrompt",
    "Created",
    "CreationRules",
    "DailyLimitReached",
    "JobCreator",
    "JobRequest",
    "ModelNotOffered",
    "NotStored",
    "OutOfCredits",
    "ParentGone",
    "PromptProblem",
    "Refusal",
    "TakesNoPhoto",
    "TooManyInProgress",
    "UnknownModel",
    "VideoNotYours",
]


@dataclass(frozen=True, slots=True)
class JobRequest:
    """What a user asked for. A child job (``extends``: the parent job's id) takes the parent's model and
    options; ``kind`` says what it makes (default: a continuation; an upscale also keeps the parent's prompt).
    ``settings`` is the user's choices as the session keeps them."""

    user_id: int
    chat_id: int
    prompt: str
    model: str = ""
    options: JobOptions = field(default_factory=JobOptions)
    extends: str | None = None
    language: str = "en"
    settings: Mapping[str, str] = field(default_factory=dict)
    kind: TaskKind | None = None
    # The job API's extras: the id to give the job (reserved by an Idempotency-Key; None: a new one), the name
    # of the API key that owns it, where its events also go, and the integrator's JSON object (checked already).
    job_id: str | None = None
    api_key: str | None = None
    callback_url: str | None = None
    metadata: str | None = None

    def __post_init__(self) -> None:
        child = self.kind not in (None, TaskKind.GENERATE)
        if (child and self.extends is None) or (self.kind is TaskKind.GENERATE and self.extends is not None):
            raise ValueError(f"a job of kind {self.kind} with extends={self.extends!r}: a child job names its parent")

    @property
    def child_kind(self) -> TaskKind:
        """What the job makes: a new video, or for a child job its kind (a continuation unless told)."""
        if self.extends is None:
            return TaskKind.GENERATE
        return self.kind or TaskKind.EXTEND


_UPSCALES = frozenset({TaskKind.UPSCALE_1080P, TaskKind.UPSCALE_4K})


@dataclass(frozen=True, slots=True)
class CreationRules:
    """The limits a new job must pass. ``unlimited_user_ids`` (the admins) skip the daily allowance."""

    max_prompt_chars: int
    max_active_per_user: int | None = None
    daily_videos_per_user: int | None = None
    unlimited_user_ids: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Created:
    """The job is stored, acknowledged and announced."""

    job: Job


Outcome = Created | Refusal
# Called once the job is stored and before it is announced; returns the id of the message that shows its
# status (recorded in the session, so the engine can edit it), or None.
Acknowledge = Callable[[Job], Awaitable[int | None]]


@dataclass(slots=True)
class _Held:
    """What this attempt holds and must give back if the job is not stored."""

    job: Job
    allowance: QuotaTake | None = None
    credits: bool = False  # a reserve was sent (it may have landed even if its reply did not)


class JobCreator:
    """The create-a-job use case, on ports: job and session stores, event bus, catalog, credits, quota."""

    def __init__(
        self,
        *,
        jobs: JobStore,
        sessions: SessionStore,
        events: EventBus,
        models: ModelCatalog,
        rules: CreationRules,
        credits: CreditLedger | None = None,
        prices: PriceList | None = None,
        quota: DailyQuota | None = None,
        new_id: Callable[[], str] = new_job_id,
        clock: Callable[[], float] = time.time,
        listeners: JobEvents | None = None,
    ) -> None:
        if (credits is None) != (prices is None):
            raise ValueError("credits and prices go together")
        if rules.daily_videos_per_user is not None and quota is None:
            raise ValueError("a daily limit needs a quota store")
        self._jobs, self._sessions, self._events = jobs, sessions, events
        self._models, self._rules = models, rules
        self._credits, self._prices, self._quota = credits, prices, quota
        self._new_id, self._clock = new_id, clock
        self._listeners: JobEvents = listeners or NoEvents()

    async def create(
        self, request: JobRequest, acknowledge: Acknowledge, source: JobSource = JobSource.TELEGRAM
    ) -> Outcome:
        """Create the job the request asks for, or say why not; nothing stays reserved unless it is stored."""
        # An upscale has no prompt of its own: it is the parent's, checked when the parent was made.
        problem = (
            None if request.child_kind in _UPSCALES else prompt_problem(request.prompt, self._rules.max_prompt_chars)
        )
        if problem is not None:
            return BadPrompt(problem)
        draft = await self._draft(request)
        if not isinstance(draft, Job):
            return draft
        held = _Held(draft)
        try:
            outcome = await self._hold_and_store(held, request)
        except asyncio.CancelledError:
            # Stopped part-way (a shutdown): what was not stored must not stay reserved.
            if not await self._stored(held.job):
                await self._give_back(held)
            raise
        if not isinstance(outcome, Created):
            await self._give_back(held)
            return outcome
        if held.credits:
            self._listeners.credits_moved(CreditMove.RESERVED, outcome.job.cost)
        await self._listeners.job_created(outcome.job, source)
        await self._acknowledge_and_announce(outcome.job, acknowledge)
        return outcome

    async def _draft(self, request: JobRequest) -> Job | Refusal:
        """The job to create, before anything is held: the parent checked, the model resolved."""
        model, options, parent_id, prompt = request.model, request.options, None, clean_prompt(request.prompt)
        kind = request.child_kind
        if request.extends is not None:
            parent = await self._find(request.extends)
            if parent is None:
                return ParentGone(request.extends)
            if parent.user_id != request.user_id:
                return VideoNotYours(parent.id)
            model, options, parent_id = parent.model, parent.options, parent.id
            if kind in _UPSCALES:
                prompt = parent.prompt
        provider = self._models.provider_for(model)
        if provider is None:
            return ModelNotOffered(model) if self._models.knows(model) else UnknownModel(model)
        if options.has_image and request.extends is None:
            frames = self._models.frames_taken(model)
            if frames == 0:
                return TakesNoPhoto(model)
            if frames == 1 and options.last_image_source:
                options = options.replace(last_image_source=None)  # an album's second photo, where it cannot end
        return Job(
            id=request.job_id or self._new_id(),
            user_id=request.user_id,
            chat_id=request.chat_id,
            model=model,
            prompt=prompt,
            options=options,
            provider=provider,
            parent_id=parent_id,
            kind=kind,
            api_key=request.api_key,
            callback_url=request.callback_url,
            metadata=request.metadata,
        )

    async def _hold_and_store(self, held: _Held, request: JobRequest) -> Outcome:
        """Count the allowance, reserve the credits and store the job; any failure comes back as an outcome."""
        try:
            refusal = await self._take_allowance(held)
            if refusal is None:
                refusal = await self._reserve(held)
            if refusal is not None:
                return refusal
            # One step with the per-user active limit: two prompts at once (two bot processes) cannot both pass.
            await self._jobs.create(held.job, _session_of(request), max_active=self._rules.max_active_per_user)
        except TooManyActive as refused:
            return TooManyInProgress(refused.count)
        except Exception as exc:  # a Redis error, a prompt that cannot be encoded, an id already taken…
            # The one case where it was stored: a create re-sent after its reply was lost ("exists").
            if await self._stored(held.job):
                return Created(held.job)
            log.error("job.not_stored", job_id=held.job.id, user_id=held.job.user_id, error=type(exc).__name__)
            return NotStored()
        return Created(held.job)

    async def _take_allowance(self, held: _Held) -> Refusal | None:
        limit, user_id = self._rules.daily_videos_per_user, held.job.user_id
        if limit is None or self._quota is None or user_id in self._rules.unlimited_user_ids:
            return None
        take = await self._quota.take(user_id, limit, self._clock())
        if not take.ok:
            return DailyLimitReached(limit=limit, resets_at=take.resets_at)
        held.allowance = take
        return None

    async def _reserve(self, held: _Held) -> Refusal | None:
        if self._credits is None or self._prices is None:
            return None
        job = held.job
        price = self._prices.price(job.model, job.options.duration_s, job.kind)
        if price is None:
            return UnknownModel(job.model)
        held.credits = True
        reserved = await self._credits.reserve(job.user_id, job.id, price)
        if not reserved.ok:
            held.credits = False  # nothing was taken
            return OutOfCredits(balance=reserved.balance, price=price)
        held.job = job.replace(cost=price, billing_state="reserved")
        return None

    async def _give_back(self, held: _Held) -> None:
        """Refund the credits and the allowance of a job that was not stored (each at most once)."""
        job = held.job
        if held.credits and self._credits is not None:
            held.credits = False
            try:
                # Idempotent per job in the ledger itself. Never reported as reserved, so not as refunded either.
                await self._credits.refund(job.user_id, job.id)
            except Exception as exc:
                log.error("job.refund_failed", job_id=job.id, user_id=job.user_id, error=type(exc).__name__)
        if held.allowance is not None and self._quota is not None:
            take, held.allowance = held.allowance, None
            try:
                await self._quota.give_back(take)
            except Exception as exc:
                log.error("job.allowance_not_returned", job_id=job.id, user_id=job.user_id, error=type(exc).__name__)

    async def _stored(self, job: Job) -> bool:
        """Whether this very job is in the store (after an error that leaves it unknown)."""
        try:
            found = await self._find(job.id)
        except Exception:
            return False  # unknown: give back rather than keep credits for a job that may not exist
        return found is not None and found.user_id == job.user_id

    async def _find(self, job_id: str) -> Job | None:
        try:
            return await self._jobs.get(job_id)
        except JobNotFound:
            return None

    async def _acknowledge_and_announce(self, job: Job, acknowledge: Acknowledge) -> None:
        # From here the job is stored and paid for: it runs, and its video arrives, whatever fails below. So a
        # failure is logged, never raised: an error answer would make the user try again and pay twice.
        try:
            message_id = await acknowledge(job)
            if message_id is not None:
                await self._sessions.set_status_message(job.id, message_id)
        except Exception as exc:
            log.error("job.acknowledge_failed", job_id=job.id, error=type(exc).__name__, exc_info=exc)
        try:
            # Any poller claims it at once; without the notice, the pollers' scan of the active index adopts it.
            await self._events.publish(NEW_JOB, job.id)
        except Exception as exc:
            log.error("job.announce_failed", job_id=job.id, error=type(exc).__name__)
        log.info(
            "job.created",
            job_id=job.id,
            user_id=job.user_id,
            model=job.model,
            kind=job.kind.value,
            parent_id=job.parent_id,
            cost=job.cost,
        )


def _session_of(request: JobRequest) -> Session:
    settings = {"extends": request.extends} if request.extends is not None else dict(request.settings)
    return Session(chat_id=request.chat_id, user_id=request.user_id, language=request.language, settings=settings)
