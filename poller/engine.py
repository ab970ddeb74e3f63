"""The engine: one APScheduler entry per job this process holds, running the job's next step.

Redis is the source of truth. The scheduler only says *when* to look at a job next; every step first
reads the job and acts on its stored status (submit, poll or deliver), and every status change is a
checked compare-and-set. A step also checks that this process still holds the job's lease, so a job
adopted by another process (after this one stalled) is dropped here, never worked on twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC
from typing import TypeVar

import structlog

from poller.delivery import DeliveryPipeline
from poller.errors import ErrorCode, InvalidTransition, JobError, JobNotFound
from poller.events import JobEvents, NoEvents, PollOutcome, ProviderOperation
from poller.finish import JobFinisher
from poller.jobs import ACTIVE_STATES, COST_REPORTED, Job, JobStatus, RefusedSubmit, TaskKind
from poller.ports import (
    Failover,
    FailoverTarget,
    InputPreparer,
    JobOwnership,
    JobStore,
    Notifier,
    PollResult,
    ProviderLookup,
    SessionStore,
    SubmitPacer,
    SubmitRequest,
    SubmittedTask,
    TaskBindings,
    TaskRef,
    TaskState,
)
from poller.schedule import PollPolicy
from poller.scheduler import EngineScheduler

log = structlog.get_logger(__name__)

SWEEPER_ID = "reelay:delayed-sweeper"
# Jobs whose unexpected errors were logged already (each is logged once per job); bounded, oldest dropped.
REPORTED_JOBS_KEPT = 10_000
# "No such task" answers in a row taken as a hiccup (a just-submitted fal request may not be visible yet) before the
# job fails with provider_error.
TASK_MISSES_TOLERATED = 2
# Below the Redis pool size (storage.redis_support.POOL_SIZE), leaving connections for everything else.
READS_IN_FLIGHT = 32
CallbackUrlFor = Callable[[Job], Awaitable[str | None]]
_T = TypeVar("_T")
_OPERATIONS = {
    TaskKind.GENERATE: ProviderOperation.SUBMIT,
    TaskKind.EXTEND: ProviderOperation.EXTEND,
    TaskKind.UPSCALE_1080P: ProviderOperation.UPSCALE,
    TaskKind.UPSCALE_4K: ProviderOperation.UPSCALE,
}
# (what the answer said, whether it came without an error) -> what the poll learned, for the listeners.
_OUTCOMES = {
    (TaskState.PENDING, True): PollOutcome.RUNNING,
    (TaskState.PENDING, False): PollOutcome.TRANSIENT_ERROR,
    (TaskState.SUCCEEDED, True): PollOutcome.SUCCEEDED,
    (TaskState.SUCCEEDED, False): PollOutcome.SUCCEEDED,
    (TaskState.FAILED, True): PollOutcome.FAILED,
    (TaskState.FAILED, False): PollOutcome.FAILED,
}


async def _no_callback(job: Job) -> str | None:
    return None


class Engine:
    """Schedules and runs the steps of the jobs this process holds."""

    def __init__(
        self,
        *,
        process_id: str,
        jobs: JobStore,
        sessions: SessionStore,
        providers: ProviderLookup,
        delivery: DeliveryPipeline,
        finisher: JobFinisher,
        notifier: Notifier,
        policy: PollPolicy,
        max_polls_in_flight: int,
        callback_url_for: CallbackUrlFor = _no_callback,
        events: JobEvents | None = None,
        tasks: TaskBindings | None = None,
        inputs: InputPreparer | None = None,
        pacer: SubmitPacer | None = None,
        failover: Failover | None = None,
    ) -> None:
        self.process_id = process_id
        self._jobs = jobs
        self._sessions = sessions
        self._providers = providers
        self._delivery = delivery
        self._finisher = finisher
        self._notifier = notifier
        self.policy = policy
        self._callback_url_for = callback_url_for
        self._events: JobEvents = events or NoEvents()
        self._inputs = inputs  # photos stored where the provider fetches them, before the submit
        self._pacer = pacer  # submits paced to what each provider allows, across processes
        self._failover = failover  # where a refused submit goes next
        self._tasks = tasks  # provider task -> job, so a task id finds its job (the console's search, callbacks)
        # When each held job's next step was planned to start (for its lateness), set wherever it is scheduled.
        self._planned: dict[str, float] = {}
        # Polls wait here, not inside the HTTP pool: an unbounded poller collapses once thousands
        # of due polls queue in httpx's pool (measured; see docs/performance.md).
        self._poll_slots = asyncio.Semaphore(max_polls_in_flight)
        self.owned: set[str] = set()
        self._busy: set[str] = set()
        self._again: set[str] = set()
        self._idle = asyncio.Event()
        # Steps start by reading Redis; bounding the reads keeps a burst of due steps (thousands after a
        # stall or an adoption) queued here in FIFO order, instead of in the Redis pool, whose waiters
        # are all woken on every release and time out after 30 s (measured at 20,000 jobs).
        self._read_slots = asyncio.Semaphore(READS_IN_FLIGHT)
        self._reported: dict[str, None] = {}  # insertion-ordered set of job ids (see _unexpected)
        self.scheduler = EngineScheduler(
            timezone=UTC,
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 2},
        )

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the scheduler and the delayed-job sweeper (jobs arrive through :meth:`adopt`)."""
        self.scheduler.start()
        self.scheduler.add_job(
            self._sweep_delayed,
            "interval",
            seconds=self.policy.delayed_interval_s,
            id=SWEEPER_ID,
            replace_existing=True,
            max_instances=1,
        )
        log.info("engine.started", process_id=self.process_id)

    async def stop(self, grace_s: float = 30.0) -> None:
        """Stop starting steps, let the running ones finish (up to ``grace_s``), then stop the scheduler.

        APScheduler's shutdown cancels coroutine jobs still running, which would cut a delivery short
        (a send cut mid-flight can only be resumed as a link), so the scheduler is paused first.
        """
        if not self.scheduler.running:
            return
        self.scheduler.pause()
        if self._busy:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace_s):
                    await self._idle.wait()
        unfinished = len(self._busy)
        self.scheduler.shutdown(wait=False)
        log.info("engine.stopped", unfinished_steps=unfinished, held_jobs=len(self.owned))

    @property
    def running(self) -> bool:
        """Whether the scheduler is running (for /readyz)."""
        return bool(self.scheduler.running)

    # ------------------------------------------------------------------ holding jobs

    def adopt(self, job: Job) -> None:
        """Start working on a job whose lease this process now holds, at the time its next step is due."""
        self._hold(job.id, job.status, job.next_poll_at)

    def adopt_many(self, held: Iterable[JobOwnership]) -> None:
        """:meth:`adopt` for a batch known by status and due time (from the ownership scan or the lease take)."""
        for job in held:
            if job.status is not None:
                self._hold(job.job_id, job.status, job.next_poll_at)

    def _hold(self, job_id: str, status: JobStatus, next_poll_at: float | None) -> None:
        if status.terminal:
            return
        self.owned.add(job_id)
        if status is JobStatus.DELAYED:
            return  # the sweeper looks at delayed jobs at its own pace
        now = time.time()
        due = next_poll_at if status is JobStatus.RUNNING and next_poll_at else now
        self._schedule_at(job_id, max(now, due))

    def forget(self, job_id: str) -> None:
        """Stop working on a job (it ended, or another process holds it now)."""
        self.owned.discard(job_id)
        self._planned.pop(job_id, None)
        entry = self.scheduler.get_job(job_id)
        if entry is not None:
            entry.remove()

    def poll_now(self, job_id: str) -> None:
        """Look at a held job right away (a provider callback said something changed)."""
        if job_id in self.owned:
            self._schedule(job_id, 0.0)

    def _schedule(self, job_id: str, delay_s: float) -> None:
        self._schedule_at(job_id, time.time() + delay_s)

    def _schedule_at(self, job_id: str, when: float) -> None:
        if job_id in self.owned:
            self._planned[job_id] = when
            self.scheduler.run_at(self._step, job_id, when, job_id)

    # ------------------------------------------------------------------ the step

    async def _step(self, job_id: str) -> None:
        """Advance one job by one step, according to its stored status."""
        if job_id in self._busy:
            # A run came due while the previous one is still finishing (a callback, or a zero delay):
            # the running step looks again as soon as it is done, so nothing is lost or doubled.
            self._again.add(job_id)
            return
        self._busy.add(job_id)
        self._idle.clear()
        planned = self._planned.pop(job_id, None)
        if planned is not None:
            self._events.step_started(max(0.0, time.time() - planned))
        try:
            await self._step_held_job(job_id)
        except JobNotFound:
            log.warning("job.vanished", job_id=job_id)
            self.forget(job_id)
        except InvalidTransition as exc:
            # Another actor (a /cancel, another process) moved the job first: look at it afresh.
            log.info("job.transition_lost", job_id=job_id, current=exc.current, target=exc.target)
            self._schedule(job_id, 0.0)
        except Exception as exc:
            # The step could not even record its outcome (Redis restarting): look again later. Errors of the
            # job's own calls never get here; they count against its attempts (see _unexpected).
            self._log_once(job_id, exc, "job.step_crashed")
            self._schedule(job_id, self.policy.interval_s)
        finally:
            self._busy.discard(job_id)
            if not self._busy:
                self._idle.set()
            if job_id in self._again:
                self._again.discard(job_id)
                if self.scheduler.running:
                    self._schedule(job_id, 0.0)

    async def _step_held_job(self, job_id: str) -> None:
        # One round trip: the read, and for a pollable job the attempt count and next due time.
        async with self._read_slots:
            job = await self._jobs.start_step(job_id, self.process_id, self.policy.attempt_timing())
        if job.owner != self.process_id:
            log.warning("job.lease_lost", job_id=job_id, owner=job.owner or None)
            self.forget(job_id)
            return
        if job.status.terminal:
            self.forget(job_id)
            return
        # bind/reset rather than bound_contextvars: the latter copies the whole context to save what it
        # replaces (a third of the cost, on every poll).
        tokens = structlog.contextvars.bind_contextvars(
            job_id=job_id, user_id=job.user_id, task_id=job.provider_task_id, model=job.model
        )
        try:
            await self._advance(job)
        finally:
            structlog.contextvars.reset_contextvars(**tokens)

    async def _advance(self, job: Job) -> None:
        match job.status:
            case JobStatus.QUEUED:
                await self._submit(job)
            case JobStatus.VALIDATING:
                await self._recover_interrupted_submit(job)
            case JobStatus.RUNNING | JobStatus.DELAYED:
                await self._poll(job)
            case JobStatus.DELIVERING:
                await self._deliver(job)
            case _:
                pass

    # ------------------------------------------------------------------ submit

    async def _submit(self, job: Job) -> None:
        if self._inputs is not None and (job.options.image_source or job.options.last_image_source):
            try:
                job = await self._inputs.prepare(job)
            except JobError as exc:
                await self._not_submitted(job, exc)
                return
        if self._pacer is not None:
            wait_s = await self._pacer.admit(job)
            if wait_s > 0:
                await self._wait_for_pace(job, wait_s)
                return
        job = await self._jobs.transition(job.id, JobStatus.VALIDATING, expected=frozenset({JobStatus.QUEUED}))
        try:
            task = await self._call_submit(job)
        except JobError as exc:
            await self._submit_failed(job, exc)
            return
        except Exception as exc:
            # Whether the request left is unknown, so it is never sent again (see _submit_failed).
            await self._submit_failed(job, self._unexpected(job.id, exc, ErrorCode.PROVIDER_UNAVAILABLE, sent=True))
            return
        next_at = time.time() + self.policy.first_delay()
        fields = {"provider_task_id": task.task_id, "next_poll_at": str(next_at), "attempts": "0"}
        if task.meta:
            fields["task_meta"] = json.dumps(dict(task.meta), separators=(",", ":"))
        job = await self._jobs.transition(
            job.id, JobStatus.RUNNING, expected=frozenset({JobStatus.VALIDATING}), fields=fields
        )
        log.info("job.submitted", task_id=task.task_id, provider=job.provider)
        self._schedule(job.id, next_at - time.time())
        # Once per job: only one process wins the move to running above.
        await self._events.job_running(job)
        # An upscale follows its parent's task id: the task stays bound to the parent's job.
        if self._tasks is not None and not job.is_upscale:
            try:
                await self._tasks.bind(job.provider, task.task_id, job.id)
            except Exception as exc:  # only a lookup aid: the job runs without it
                log.warning("job.task_not_bound", error_type=type(exc).__name__)
        await self._tell_progress(job)

    async def _call_submit(self, job: Job) -> SubmittedTask:
        provider = self._providers.for_model(job.model)
        callback_url = await self._callback_url_for(job)
        parent_task_id = None
        if job.parent_id is not None:
            parent = await self._jobs.get(job.parent_id)
            if not parent.provider_task_id or not provider.supports_kind(parent.model, job.kind):
                raise JobError(ErrorCode.INVALID_INPUT, f"job {parent.id} cannot make {job.kind}", request_sent=False)
            parent_task_id = parent.provider_task_id
        request = SubmitRequest(
            model=job.model,
            prompt=job.prompt,
            options=job.options,
            callback_url=callback_url,
            kind=job.kind,
            parent_task_id=parent_task_id,
        )
        return await self._timed_call(job, _OPERATIONS[job.kind], provider.submit(request))

    async def _timed_call(self, job: Job, operation: ProviderOperation, call: Awaitable[_T]) -> _T:
        """Await a provider call and report how long it took and how it failed."""
        started = time.perf_counter()
        try:
            answer = await call
        except JobError as exc:
            self._events.provider_called(job.provider, operation, time.perf_counter() - started, exc)
            raise
        self._events.provider_called(job.provider, operation, time.perf_counter() - started, None)
        return answer

    async def _submit_failed(self, job: Job, exc: JobError) -> None:
        failures = job.attempts + 1
        # Refused: the provider answered no (or could not be reached), so no task exists and nothing was charged.
        refused = exc.retryable and not exc.outcome_unknown
        target = self._failover.next_for(job) if refused and self._failover is not None else None
        # A provider down for maintenance will not be back in seconds: with a fallback, go there at once.
        if refused and failures < self.policy.submit_attempts and not (exc.provider_down and target is not None):
            # Trying the same provider again cannot charge twice.
            delay = self.policy.retry_delay(failures, exc.retry_after)
            await self._jobs.transition(
                job.id, JobStatus.QUEUED, expected=frozenset({JobStatus.VALIDATING}), fields={"attempts": str(failures)}
            )
            log.warning("job.submit_retry", error=exc.code, raw=exc.raw, failures=failures, retry_in_s=round(delay, 1))
            self._schedule(job.id, delay)
            return
        if target is not None:
            await self._fail_over(job, target, exc)
            return
        if exc.outcome_unknown:
            # The request may have reached the provider, but we never learned a task id, and KIE has no
            # idempotency key or task search: resubmitting (here or elsewhere) could make and charge a second video.
            log.error("job.submit_outcome_unknown", raw=exc.raw)
        await self._fail(job, exc.code if not exc.retryable else ErrorCode.PROVIDER_ERROR, exc.raw)

    async def _fail_over(self, job: Job, target: FailoverTarget, exc: JobError) -> None:
        """Move a refused job to the next fallback model; its price stays what the user was quoted."""
        refused = (*job.refused_submits, RefusedSubmit(job.model, job.provider, exc.code.value, exc.raw, time.time()))
        options = target.options
        fields = {
            "model": target.model,
            "provider": target.provider,
            "requested_model": job.requested_model or job.model,
            "refused_submits": json.dumps([step.to_json() for step in refused], separators=(",", ":")),
            "aspect_ratio": options.aspect_ratio.value,
            "duration_s": str(options.duration_s),
            "attempts": "0",
            "pace_waiting": "0",
        }
        if options.resolution:
            fields["resolution"] = options.resolution
        if self._pacer is not None:
            await self._pacer.release(job)
        moved = await self._jobs.transition(
            job.id, JobStatus.QUEUED, expected=frozenset({JobStatus.VALIDATING}), fields=fields
        )
        log.warning(
            "job.failed_over", from_model=job.model, to_model=target.model, to_provider=target.provider, error=exc.code
        )
        self._schedule(job.id, 0.0)
        await self._tell_progress(moved)

    async def _not_submitted(self, job: Job, exc: JobError) -> None:
        """A queued job could not be made ready (its photo): try again later, or fail it (nothing was sent)."""
        failures = job.attempts + 1
        if exc.retryable and failures < self.policy.submit_attempts:
            delay = self.policy.retry_delay(failures, exc.retry_after)
            await self._jobs.update_fields(job.id, {"attempts": str(failures)})
            log.warning("job.inputs_retry", error=exc.code, raw=exc.raw, failures=failures, retry_in_s=round(delay, 1))
            self._schedule(job.id, delay)
            return
        await self._fail(job, exc.code if not exc.retryable else ErrorCode.PROVIDER_ERROR, exc.raw)

    async def _wait_for_pace(self, job: Job, wait_s: float) -> None:
        """Over the provider's pace: stay queued, in line, and say so once on the status message."""
        if not job.pace_waiting:
            job = job.replace(pace_waiting=True)
            await self._jobs.update_fields(job.id, {"pace_waiting": "1"})
            await self._tell_progress(job)
        self._schedule(job.id, wait_s)

    async def _recover_interrupted_submit(self, job: Job) -> None:
        # A process died between claiming the submit and recording the task id. We cannot tell
        # whether the provider accepted it, so we neither resubmit nor leave the user waiting.
        log.error("job.submit_interrupted")
        await self._fail(job, ErrorCode.PROVIDER_ERROR, "submission interrupted by a restart; outcome unknown")

    # ------------------------------------------------------------------ poll

    async def _poll(self, job: Job) -> None:
        if job.status is JobStatus.DELAYED and self._past_deadline(job):
            await self._fail(job, ErrorCode.TIMEOUT, "no result before poll.delayed_deadline_s")
            return
        # start_step already counted this attempt and planned the next one (job.next_poll_at).
        result = await self.check(job)
        await self._act_on(job, result)

    async def check(self, job: Job) -> PollResult:
        """Ask the provider about a job's task (bounded by the poll slots); errors become results."""
        assert job.provider_task_id is not None
        started = time.perf_counter()
        try:
            provider = self._providers.for_model(job.model)
            async with self._poll_slots:
                started = time.perf_counter()  # the call's own time, not the wait for a slot
                result = await provider.poll(TaskRef.of(job))
        except JobError as exc:
            result = PollResult(state=TaskState.PENDING if exc.retryable else TaskState.FAILED, error=exc)
        except Exception as exc:
            # An answer no parser survived (400 kB of nested brackets) must cost an attempt like any
            # malformed answer, or the job would poll forever without reaching its attempt limit.
            error = self._unexpected(job.id, exc, ErrorCode.PROVIDER_UNAVAILABLE)
            result = PollResult(state=TaskState.PENDING, error=error)
        self._events.polled(
            job.provider, _OUTCOMES[result.state, result.error is None], time.perf_counter() - started, result.error
        )
        return result

    async def _act_on(self, job: Job, result: PollResult) -> None:
        attempts = job.attempts
        if result.state is TaskState.SUCCEEDED and result.video_url:
            fields = {"result_url": result.video_url}
            if result.cost is not None:
                fields["provider_cost"] = repr(result.cost)  # what the provider says it charged
                fields["cost_source"] = COST_REPORTED
            job = await self._jobs.transition(job.id, JobStatus.DELIVERING, fields=fields)
            log.info("job.generated", attempts=attempts, parser=result.parser)
            await self._deliver(job)
            return
        if result.state is TaskState.FAILED:
            error = result.error or JobError(ErrorCode.PROVIDER_ERROR, "provider reported a failure")
            await self._fail(job, error.code, error.raw)
            return
        if result.error is not None:
            log.warning("job.poll_error", error=result.error.code, raw=result.error.raw, attempts=attempts)
            if result.error.task_missing and await self._task_missing(job, result.error):
                return
        elif job.task_misses:
            await self._jobs.update_fields(job.id, {"task_misses": "0"})  # found again: the misses were not in a row
        if result.error is None and result.queue_position != job.queue_position:
            await self._note_queue_place(job, result.queue_position)  # the common poll writes nothing
        if job.status is JobStatus.DELAYED:
            return  # the sweeper comes back at its own pace
        if attempts >= self.policy.max_attempts:
            job = await self._jobs.transition(job.id, JobStatus.DELAYED, expected=frozenset({JobStatus.RUNNING}))
            log.info("job.delayed", attempts=attempts)
            await self._tell_progress(job)
            return
        # Planned from the start of this poll, so a slow answer does not push every later poll back.
        due = job.next_poll_at or time.time() + self.policy.interval_s
        hint = result.error.retry_after if result.error else None
        self._schedule_at(job.id, max(due, time.time() + (hint or 0.0)))

    async def _task_missing(self, job: Job, error: JobError) -> bool:
        """Count a "no such task" answer; the one past :data:`TASK_MISSES_TOLERATED` in a row fails the job (True)."""
        misses = job.task_misses + 1
        if misses > TASK_MISSES_TOLERATED:
            await self._fail(job, ErrorCode.PROVIDER_ERROR, f"the provider no longer knows the task: {error.raw}")
            return True
        await self._jobs.update_fields(job.id, {"task_misses": str(misses)})
        return False

    async def _note_queue_place(self, job: Job, place: int | None) -> None:
        """Keep the task's new place in the provider's queue on the job (None: it left the queue) and show it. Called
        only for a change, and never for an error, which says nothing about the place."""
        await self._jobs.update_fields(job.id, {"queue_position": "" if place is None else str(place)})
        log.info("job.queue_place", place=place)
        await self._tell_progress(job.replace(queue_position=place))

    def _past_deadline(self, job: Job) -> bool:
        since = job.transitions.get(JobStatus.DELAYED.value, job.updated_at)
        return time.time() - since >= self.policy.delayed_deadline_s

    async def _sweep_delayed(self) -> None:
        """Check the delayed jobs this process holds, failing those past the deadline."""
        ids = [job_id for job_id in await self._jobs.delayed_job_ids() if job_id in self.owned]
        if ids:
            log.info("sweeper.run", delayed_jobs=len(ids))
        await asyncio.gather(*(self._step(job_id) for job_id in ids if job_id not in self._busy))

    # ------------------------------------------------------------------ deliver

    async def _deliver(self, job: Job) -> None:
        try:
            await self._delivery.deliver(job)
        except (InvalidTransition, JobNotFound):
            raise  # another actor moved the job: the step looks at it afresh
        except Exception as exc:
            if not isinstance(exc, JobError):
                exc = self._unexpected(job.id, exc, ErrorCode.DELIVERY_FAILED)
            failures = job.delivery_attempts + 1
            await self._jobs.update_fields(job.id, {"delivery_attempts": str(failures)})
            if exc.retryable and failures < self.policy.delivery_attempts:
                delay = self.policy.retry_delay(failures, exc.retry_after)
                log.warning("job.delivery_retry", error=exc.code, raw=exc.raw, failures=failures)
                self._schedule(job.id, delay)
                return
            await self._fail(job, exc.code, exc.raw)
            return
        self.forget(job.id)

    # ------------------------------------------------------------------ surprises

    def _unexpected(self, job_id: str, exc: Exception, code: ErrorCode, *, sent: bool = False) -> JobError:
        """An exception no adapter should raise, as a retryable error of ``code`` that counts against the
        job's attempts like any other; logged once per job, by type, without a traceback per poll."""
        self._log_once(job_id, exc, "job.unexpected_error")
        detail = str(exc)[:200]
        raw = f"unexpected {type(exc).__name__}: {detail}" if detail else f"unexpected {type(exc).__name__}"
        return JobError(code, raw, request_sent=sent, outcome_unknown=sent)

    def _log_once(self, job_id: str, exc: Exception, event: str) -> None:
        if job_id in self._reported:
            log.debug(event, job_id=job_id, error_type=type(exc).__name__, exc_info=exc)
            return
        if len(self._reported) >= REPORTED_JOBS_KEPT:
            del self._reported[next(iter(self._reported))]
        self._reported[job_id] = None
        log.error(event, job_id=job_id, error_type=type(exc).__name__, error=str(exc)[:300])

    # ------------------------------------------------------------------ endings

    async def _fail(self, job: Job, code: ErrorCode, raw: str) -> None:
        await self._finisher.refund_first(job)
        job = await self._jobs.transition(
            job.id,
            JobStatus.FAILED,
            expected=frozenset(ACTIVE_STATES),
            fields={"error_code": code.value, "error_raw": raw[:2000]},
        )
        self.forget(job.id)
        log.warning("job.failed", error=code, raw=raw[:300])
        await self._finisher.ended(job)

    async def _tell_progress(self, job: Job) -> None:
        session = await self._sessions.get(job.id)
        if session is None:
            return
        try:
            await self._notifier.job_progress(job, session)
        except Exception:
            # A status message that cannot be edited must never stop the job itself.
            log.warning("notify.failed", exc_info=True)
