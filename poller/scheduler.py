"""APScheduler's asyncio scheduler, with one long-lived job per task and no wakeup per added job.

The stock ``AsyncIOScheduler`` runs its whole job-processing pass on the next loop turn after *every*
``add_job``. A job due no earlier than the armed timer needs no wakeup: the timer fires first, and the
pass it runs sees the job. Wakeups that are needed are coalesced: one pass per loop turn, however many
jobs were added in it (adopting 100k jobs would otherwise queue 100k passes).

Each task keeps **one** APScheduler job for as long as this process holds it. Its trigger has no next
run of its own, so after a run the job is parked (stored, paused: out of the store's heap) until the
engine says when to look next, and :meth:`run_at` moves the stored job instead of building a new one. A
date job per poll meant a new ``Job`` and ``DateTrigger`` on every poll, and two tracked objects per
held job that every full collection traverses (engine at 120,000 jobs: 362,794 -> 242,720 tracked
objects, a full collection 357 -> 186 ms; docs/performance.md §1.2-1.3). ``add_job`` gets a wrapper
whose signature is computed once (it calls ``inspect.signature`` on every add: 15 % of an adoption), and
builds only a step's first job: later tasks of the step get a copy of it (APScheduler validated every
job alike: 100,000 new jobs 2.2-2.4 -> 0.72-0.80 s). Jobs live in a :class:`HeapJobStore` (O(log n) per
operation instead of the stock store's sorted-list shifts, which dominated at 90,000 jobs).

A due task job is started straight from the pass: parked, then its step runs as a task on the loop.
APScheduler's executor path did the same with a lock, an instance count, two events, a coroutine wrapper
and two INFO log calls per run, which nothing here listens to. Jobs that need any of that (other
triggers, a misfire grace time, event listeners) still go through the stock pass.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from threading import TIMEOUT_MAX
from typing import Any

from apscheduler.job import Job
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_PAUSED
from apscheduler.triggers.base import BaseTrigger

from poller.heap_jobstore import HeapJobStore

Step = Callable[..., Coroutine[Any, Any, None]]
log = logging.getLogger("apscheduler.executors.default")  # where APScheduler logs a job's exception


class UntilRescheduled(BaseTrigger):  # type: ignore[misc]  # APScheduler 3 ships no type hints
    """The trigger of a task's job: no next run of its own; :meth:`EngineScheduler.run_at` sets each one."""

    __slots__ = ()

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> None:
        """None: the step decides when to look next (APScheduler would drop the job; EngineScheduler parks it)."""
        return None

    def __repr__(self) -> str:
        return "<UntilRescheduled>"


_JOB_SLOTS = tuple(slot for slot in Job.__slots__ if slot != "__weakref__")


def _job_like(template: Job, job_id: str, args: tuple[object, ...], run_date: datetime) -> Job:
    """A job for another task of the same step: the template's validated settings, its own id, args and time."""
    job = Job.__new__(Job)
    for slot in _JOB_SLOTS:
        try:  # noqa: SIM105 (contextlib.suppress costs a context manager per slot, per adopted job)
            setattr(job, slot, getattr(template, slot))
        except AttributeError:
            pass  # a slot the template never set stays unset here too
    job.id = job_id
    job.args = args
    job.kwargs = {}
    job.next_run_time = run_date
    return job


class EngineScheduler(AsyncIOScheduler):  # type: ignore[misc]  # APScheduler 3 ships no type hints
    """An ``AsyncIOScheduler`` whose :meth:`run_at` reuses each task's job and wakes the scheduler only
    when the job is due before its timer."""

    def __init__(self, **options: Any) -> None:
        if "jobstores" in options:
            raise TypeError("EngineScheduler keeps its jobs in its own HeapJobStore")
        self._store = HeapJobStore()
        super().__init__(jobstores={"default": self._store}, **options)
        self._trigger = UntilRescheduled()
        self._quiet = False
        self._wakeup_pending = False
        self._in_pass = False
        self._entries: dict[Step, Step] = {}
        self._steps: dict[Step, Step] = {}  # entry -> the step it wraps (the lean run calls the step itself)
        self._running: set[asyncio.Task[None]] = set()
        # The first job APScheduler built and validated per step and argument count; later tasks of the same
        # step copy it (add_job validated every job alike: about half of adopting 100,000 jobs).
        self._templates: dict[tuple[Step, int], Job] = {}

    def run_at(self, func: Step, job_id: str, when: float, *args: object) -> None:
        """Run ``func(*args)`` once at Unix time ``when``, replacing any pending run with the same id."""
        self._quiet = self._timer_fires_by(when)
        try:
            run_date = datetime.fromtimestamp(when, tz=UTC)
            entry = self._entries.get(func) or self._entry_for(func)
            job = self._store.lookup_job(job_id)
            if job is not None and job.func is entry and job.args == args:
                # The task's own job, parked or pending: move it (no new Job, trigger or events).
                job.next_run_time = run_date
                self._store.update_job(job)
                self.wakeup()
            elif job is None and (template := self._templates.get((entry, len(args)))) is not None:
                self._store.add_job(_job_like(template, job_id, args, run_date))
                self.wakeup()
            else:
                self.add_job(entry, self._trigger, args=args, id=job_id, next_run_time=run_date, replace_existing=True)
                if (added := self._store.lookup_job(job_id)) is not None:  # None while the scheduler is not started
                    self._templates.setdefault((entry, len(args)), added)
        finally:
            self._quiet = False

    def remove_job(self, job_id: str, jobstore: str | None = None) -> None:
        """Remove a job; but a task's job that has just run (the pass removes jobs with no next run) is
        parked instead: paused in the store, out of its heap, until :meth:`run_at` moves it."""
        if self._in_pass:
            job = self._store.lookup_job(job_id)
            if job is not None and job.trigger is self._trigger:
                job.next_run_time = None
                self._store.update_job(job)
                return
        super().remove_job(job_id, jobstore)

    def _process_jobs(self) -> float | None:
        if self.state != STATE_PAUSED and not self._listeners:
            now = time.time()
            self._start_due_task_jobs(now)
            next_at = self._store.next_run_timestamp()
            if next_at is None:
                return None  # nothing scheduled: the next run_at wakes the scheduler
            if next_at > now:
                # Only task jobs were due. Jobs that came due since ``now`` wait for the next pass (at
                # once), which starts them here too instead of through the stock pass and its executor.
                return min(max(next_at - time.time(), 0.0), TIMEOUT_MAX)
        self._in_pass = True
        try:
            wait_seconds: float | None = super()._process_jobs()
        finally:
            self._in_pass = False
        return wait_seconds

    def _start_due_task_jobs(self, now: float) -> None:
        """Park each task job due at ``now`` and run its step as a task (what the stock pass and executor
        would do, minus their per-run lock, instance count, events and log calls)."""
        loop = self._eventloop
        for job in self._store.park_due(now, self._runs_lean):
            step = self._steps.get(job.func, job.func)
            task = loop.create_task(self._run_step(step, job.args, job))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    def _runs_lean(self, job: Job) -> bool:
        return job.trigger is self._trigger and job.misfire_grace_time is None

    @staticmethod
    async def _run_step(step: Step, args: tuple[object, ...], job: Job) -> None:
        try:
            await step(*args)
        except Exception:
            log.exception('Job "%s" raised an exception', job)

    def shutdown(self, wait: bool = True) -> None:
        """Shut down; like APScheduler's executor, cancel the steps still running."""
        super().shutdown(wait)
        for task in self._running:
            task.cancel()
        self._running.clear()

    def wakeup(self) -> None:
        """Process due jobs on the next loop turn, unless the job just added is covered by the timer or
        a pass is already pending."""
        if self._quiet or self._wakeup_pending or self._eventloop is None:
            return
        self._wakeup_pending = True
        try:
            on_loop = asyncio.get_running_loop() is self._eventloop
        except RuntimeError:
            on_loop = False
        # call_soon_threadsafe also writes to the loop's self-pipe: a syscall per wakeup, needed only
        # from another thread.
        (self._eventloop.call_soon if on_loop else self._eventloop.call_soon_threadsafe)(self._wake)

    def _wake(self) -> None:
        self._wakeup_pending = False
        if self._eventloop is None:
            return  # shut down meanwhile
        self._stop_timer()
        self._start_timer(self._process_jobs())

    def _entry_for(self, func: Step) -> Step:
        async def entry(*args: object) -> None:
            await func(*args)

        # inspect.signature returns a function's __signature__ as is, without rebuilding it.
        entry.__signature__ = inspect.signature(entry)  # type: ignore[attr-defined]
        entry.__qualname__ = getattr(func, "__qualname__", entry.__qualname__)  # readable in APScheduler's logs
        self._entries[func] = entry
        self._steps[entry] = func
        return entry

    def _timer_fires_by(self, when: float) -> bool:
        timer = self._timeout
        if timer is None or timer.cancelled() or self._eventloop is None:
            return False
        fires_at = getattr(timer, "when", None)
        if fires_at is None:
            # uvloop turns a call_later under 1 ms into a plain Handle (no when()): it runs next turn.
            return True
        return bool(fires_at() <= self._eventloop.time() + (when - time.time()))
