"""The engine: one APScheduler entry per job that moves it forward (submit, poll, deliver).

Redis is the source of truth. The scheduler only says *when* to look at a job next; every step first
reads the job from the store and acts on its stored status, and every status change is a checked
compare-and-set, so a restart (which rebuilds the schedule from Redis) or a repeated step is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from poller.delivery import DeliveryPipeline
from poller.errors import ErrorCode, InvalidTransition, JobError, JobNotFound
from poller.jobs import ACTIVE_STATES, Job, JobStatus
from poller.ports import JobStore, Notifier, PollResult, ProviderLookup, SessionStore, SubmitRequest, TaskState
from poller.schedule import PollPolicy

log = structlog.get_logger(__name__)

SWEEPER_ID = "reelay:delayed-sweeper"


class Engine:
    """Schedules and runs the steps of every active job in this process."""

    def __init__(
        self,
        *,
        jobs: JobStore,
        sessions: SessionStore,
        providers: ProviderLookup,
        delivery: DeliveryPipeline,
        notifier: Notifier,
        policy: PollPolicy,
        max_polls_in_flight: int,
        callback_url_for: Callable[[Job], str | None] | None = None,
    ) -> None:
        self._jobs = jobs
        self._sessions = sessions
        self._providers = providers
        self._delivery = delivery
        self._notifier = notifier
        self.policy = policy
        self._callback_url_for = callback_url_for or (lambda job: None)
        # Polls wait here, not inside the HTTP pool: an unbounded poller collapses once thousands
        # of due polls queue in httpx's pool (measured; see docs/performance.md).
        self._poll_slots = asyncio.Semaphore(max_polls_in_flight)
        self._busy: set[str] = set()
        self._again: set[str] = set()
        self._idle = asyncio.Event()
        self.scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 2},
        )

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> int:
        """Start the scheduler and rebuild the schedule from Redis; return how many jobs were resumed."""
        self.scheduler.start()
        self.scheduler.add_job(
            self._sweep_delayed,
            "interval",
            seconds=self.policy.delayed_interval_s,
            id=SWEEPER_ID,
            replace_existing=True,
            max_instances=1,
        )
        resumed = await self.rebuild()
        log.info("engine.started", resumed_jobs=resumed)
        return resumed

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
                await asyncio.wait_for(self._idle.wait(), timeout=grace_s)
        unfinished = len(self._busy)
        self.scheduler.shutdown(wait=False)
        log.info("engine.stopped", unfinished_steps=unfinished)

    @property
    def running(self) -> bool:
        """Whether the scheduler is running (for /readyz)."""
        return bool(self.scheduler.running)

    async def rebuild(self) -> int:
        """Schedule every active job in Redis at the time its next step is due."""
        count = 0
        now = time.time()
        for job_id in await self._jobs.active_job_ids():
            try:
                job = await self._jobs.get(job_id)
            except JobNotFound:
                continue
            if job.status is JobStatus.DELAYED:
                continue  # the sweeper owns delayed jobs
            due = job.next_poll_at if job.status is JobStatus.RUNNING and job.next_poll_at else now
            self._schedule(job.id, max(0.0, due - now))
            count += 1
        return count

    # ------------------------------------------------------------------ commands

    def enqueue(self, job_id: str) -> None:
        """Start work on a freshly created job (submission happens at once, off the handler)."""
        self._schedule(job_id, 0.0)

    def poll_now(self, job_id: str) -> None:
        """Look at a job right away (a provider callback said something changed)."""
        self._schedule(job_id, 0.0)

    async def cancel(self, job_id: str) -> Job:
        """Cancel an active job; raise :class:`InvalidTransition` when it can no longer be cancelled."""
        job = await self._jobs.transition(job_id, JobStatus.CANCELLED, fields={"error_code": ErrorCode.CANCELLED})
        self._unschedule(job_id)
        log.info("job.cancelled", job_id=job_id)
        await self._end(job)
        return job

    # ------------------------------------------------------------------ scheduling

    def _schedule(self, job_id: str, delay_s: float) -> None:
        run_at = datetime.fromtimestamp(time.time() + delay_s, tz=UTC)
        self.scheduler.add_job(self._step, "date", run_date=run_at, args=[job_id], id=job_id, replace_existing=True)

    def _unschedule(self, job_id: str) -> None:
        job = self.scheduler.get_job(job_id)
        if job is not None:
            job.remove()

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
        try:
            with structlog.contextvars.bound_contextvars(job_id=job_id):
                job = await self._jobs.get(job_id)
                with structlog.contextvars.bound_contextvars(
                    user_id=job.user_id, task_id=job.provider_task_id, model=job.model
                ):
                    await self._advance(job)
        except JobNotFound:
            log.warning("job.vanished", job_id=job_id)
        except InvalidTransition as exc:
            # Another actor (a /cancel, a second process) moved the job first: nothing to do.
            log.info("job.transition_lost", job_id=job_id, current=exc.current, target=exc.target)
        except Exception:
            # Never let one job's surprise kill the schedule: log it and look again later.
            log.exception("job.step_crashed", job_id=job_id)
            self._schedule(job_id, self.policy.interval_s)
        finally:
            self._busy.discard(job_id)
            if not self._busy:
                self._idle.set()
            if job_id in self._again:
                self._again.discard(job_id)
                if self.scheduler.running:
                    self._schedule(job_id, 0.0)

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
                pass  # terminal: the schedule entry simply ends

    # ------------------------------------------------------------------ submit

    async def _submit(self, job: Job) -> None:
        job = await self._jobs.transition(job.id, JobStatus.VALIDATING, expected=frozenset({JobStatus.QUEUED}))
        try:
            task_id = await self._call_submit(job)
        except JobError as exc:
            await self._submit_failed(job, exc)
            return
        next_at = time.time() + self.policy.first_delay()
        job = await self._jobs.transition(
            job.id,
            JobStatus.RUNNING,
            expected=frozenset({JobStatus.VALIDATING}),
            fields={"provider_task_id": task_id, "next_poll_at": str(next_at), "attempts": "0"},
        )
        log.info("job.submitted", task_id=task_id, provider=job.provider)
        self._schedule(job.id, next_at - time.time())
        await self._tell_progress(job)

    async def _call_submit(self, job: Job) -> str:
        provider = self._providers.for_model(job.model)
        callback_url = self._callback_url_for(job)
        if job.parent_id is None:
            return await provider.submit(
                SubmitRequest(model=job.model, prompt=job.prompt, options=job.options, callback_url=callback_url)
            )
        parent = await self._jobs.get(job.parent_id)
        if not parent.provider_task_id or not provider.supports_extend(parent.model):
            raise JobError(ErrorCode.INVALID_INPUT, f"job {parent.id} cannot be extended")
        return await provider.extend(parent.provider_task_id, job.prompt, job.model, callback_url)

    async def _submit_failed(self, job: Job, exc: JobError) -> None:
        failures = job.attempts + 1
        safe_to_repeat = exc.retryable and not exc.outcome_unknown
        if safe_to_repeat and failures < self.policy.submit_attempts:
            # The provider refused or was unreachable, so no task exists: trying again cannot charge twice.
            delay = self.policy.retry_delay(failures, exc.retry_after)
            await self._jobs.transition(
                job.id, JobStatus.QUEUED, expected=frozenset({JobStatus.VALIDATING}), fields={"attempts": str(failures)}
            )
            log.warning("job.submit_retry", error=exc.code, raw=exc.raw, failures=failures, retry_in_s=round(delay, 1))
            self._schedule(job.id, delay)
            return
        if exc.outcome_unknown:
            # The request may have reached the provider, but we never learned a task id, and KIE has no
            # idempotency key or task search: resubmitting could make (and charge) a second video.
            log.error("job.submit_outcome_unknown", raw=exc.raw)
        await self._fail(job, exc.code if not exc.retryable else ErrorCode.PROVIDER_ERROR, exc.raw)

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
        provider = self._providers.for_model(job.model)
        assert job.provider_task_id is not None
        try:
            async with self._poll_slots:
                result = await provider.poll(job.provider_task_id)
        except JobError as exc:
            result = PollResult(state=TaskState.FAILED if not exc.retryable else TaskState.PENDING, error=exc)
        next_delay = self.policy.delay_after(job.attempts + 1)
        attempts = await self._jobs.record_attempt(job.id, time.time() + next_delay)
        await self._act_on(job, result, attempts, next_delay)

    async def _act_on(self, job: Job, result: PollResult, attempts: int, next_delay: float) -> None:
        if result.state is TaskState.SUCCEEDED and result.video_url:
            job = await self._jobs.transition(job.id, JobStatus.DELIVERING, fields={"result_url": result.video_url})
            log.info("job.generated", attempts=attempts, parser=result.parser)
            await self._deliver(job)
            return
        if result.state is TaskState.FAILED:
            error = result.error or JobError(ErrorCode.PROVIDER_ERROR, "provider reported a failure")
            await self._fail(job, error.code, error.raw)
            return
        if result.error is not None:
            log.warning("job.poll_error", error=result.error.code, raw=result.error.raw, attempts=attempts)
        if job.status is JobStatus.DELAYED:
            return  # the sweeper comes back at its own pace
        if attempts >= self.policy.max_attempts:
            job = await self._jobs.transition(job.id, JobStatus.DELAYED, expected=frozenset({JobStatus.RUNNING}))
            log.info("job.delayed", attempts=attempts)
            await self._tell_progress(job)
            return
        self._schedule(job.id, max(next_delay, result.error.retry_after or 0) if result.error else next_delay)

    def _past_deadline(self, job: Job) -> bool:
        since = job.transitions.get(JobStatus.DELAYED.value, job.updated_at)
        return time.time() - since >= self.policy.delayed_deadline_s

    async def _sweep_delayed(self) -> None:
        """Check every delayed job once (bounded by the poll semaphore), failing those past the deadline."""
        ids = await self._jobs.delayed_job_ids()
        if ids:
            log.info("sweeper.run", delayed_jobs=len(ids))
        await asyncio.gather(*(self._step(job_id) for job_id in ids if job_id not in self._busy))

    # ------------------------------------------------------------------ deliver

    async def _deliver(self, job: Job) -> None:
        try:
            await self._delivery.deliver(job)
        except JobError as exc:
            failures = job.delivery_attempts + 1
            await self._jobs.update_fields(job.id, {"delivery_attempts": str(failures)})
            if exc.retryable and failures < self.policy.delivery_attempts:
                delay = self.policy.retry_delay(failures, exc.retry_after)
                log.warning("job.delivery_retry", error=exc.code, raw=exc.raw, failures=failures)
                self._schedule(job.id, delay)
                return
            await self._fail(job, exc.code, exc.raw)

    # ------------------------------------------------------------------ endings

    async def _fail(self, job: Job, code: ErrorCode, raw: str) -> None:
        job = await self._jobs.transition(
            job.id,
            JobStatus.FAILED,
            expected=frozenset(ACTIVE_STATES),
            fields={"error_code": code.value, "error_raw": raw[:2000]},
        )
        self._unschedule(job.id)
        log.warning("job.failed", error=code, raw=raw[:300])
        await self._end(job)

    async def _end(self, job: Job) -> None:
        """After a job failed or was cancelled: tell the user once, drop the session, log the record."""
        session = await self._sessions.get(job.id)
        if session is not None:
            await self._safely(self._notifier.job_ended(job, session))
        await self._sessions.delete(job.id)
        self._delivery.log_completion(job)

    async def _tell_progress(self, job: Job) -> None:
        session = await self._sessions.get(job.id)
        if session is not None:
            await self._safely(self._notifier.job_progress(job, session))

    @staticmethod
    async def _safely(call: Awaitable[None]) -> None:
        # A status message that cannot be edited must never stop the job itself.
        try:
            await call
        except Exception:
            log.warning("notify.failed", exc_info=True)
