"""APScheduler's asyncio scheduler, without a wakeup per added job.

The stock ``AsyncIOScheduler`` runs its whole job-processing pass on the next loop turn after *every*
``add_job``. The engine adds one date job per poll, so at 2,000 polls/s that pass ran 2,000 times a
second for nothing (about 10 % of the engine's CPU in the capacity benchmark). A job due no earlier
than the armed timer needs no wakeup: the timer fires first, and the pass it runs sees the new job.
Wakeups that are needed are coalesced: one pass per loop turn, however many jobs were added in it
(adopting 100k jobs would otherwise queue 100k passes). And ``add_job`` checks the callable's
signature on every call (``inspect.signature``: 15 % of an adoption); :meth:`run_at` hands it a
wrapper whose signature is computed once. Jobs live in a :class:`HeapJobStore` (O(log n) per operation
instead of the stock store's sorted-list shifts, which dominated at 90,000 jobs).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from poller.heap_jobstore import HeapJobStore


class EngineScheduler(AsyncIOScheduler):  # type: ignore[misc]  # APScheduler 3 ships no type hints
    """An ``AsyncIOScheduler`` whose :meth:`run_at` wakes the scheduler only when the job is due before its timer."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("jobstores", {"default": HeapJobStore()})
        super().__init__(**options)
        self._quiet = False
        self._wakeup_pending = False
        self._entries: dict[Callable[..., Coroutine[Any, Any, None]], Callable[..., Coroutine[Any, Any, None]]] = {}

    def run_at(self, func: Callable[..., Coroutine[Any, Any, None]], job_id: str, when: float, *args: object) -> None:
        """Run ``func(*args)`` once at Unix time ``when``, replacing any pending run with the same id."""
        self._quiet = self._timer_fires_by(when)
        try:
            run_date = datetime.fromtimestamp(when, tz=UTC)
            entry = self._entries.get(func) or self._entry_for(func)
            self.add_job(entry, "date", run_date=run_date, args=args, id=job_id, replace_existing=True)
        finally:
            self._quiet = False

    def wakeup(self) -> None:
        """Process due jobs on the next loop turn, unless the job just added is covered by the timer or
        a pass is already pending."""
        if self._quiet or self._wakeup_pending or self._eventloop is None:
            return
        self._wakeup_pending = True
        self._eventloop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        self._wakeup_pending = False
        if self._eventloop is None:
            return  # shut down meanwhile
        self._stop_timer()
        self._start_timer(self._process_jobs())

    def _entry_for(self, func: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., Coroutine[Any, Any, None]]:
        async def entry(*args: object) -> None:
            await func(*args)

        # inspect.signature returns a function's __signature__ as is, without rebuilding it.
        entry.__signature__ = inspect.signature(entry)  # type: ignore[attr-defined]
        entry.__qualname__ = getattr(func, "__qualname__", entry.__qualname__)  # readable in APScheduler's logs
        self._entries[func] = entry
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
