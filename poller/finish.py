"""What happens, once, when a job ends without a video: refund, tell the user, clean up, log.

Callers reach here only after winning the compare-and-set into ``failed`` or ``cancelled``, so these
effects run once per job whichever process or command ended it; the refund is itself idempotent.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import structlog

from poller.errors import ErrorCode
from poller.events import CreditMove, JobEvents, NoEvents
from poller.jobs import Job
from poller.ports import Billing, LateCheckQueue, Notifier, SessionStore

log = structlog.get_logger(__name__)


def log_completion(job: Job) -> None:
    """The one completion record per job (status, attempts, time, video facts)."""
    out = job.output
    log.info(
        "job.completed",
        job_id=job.id,
        user_id=job.user_id,
        model=job.model,
        task_id=job.provider_task_id,
        status=job.status.value,
        error=job.error_code.value if job.error_code else None,
        attempts=job.attempts,
        total_s=round(job.elapsed_s(), 1),
        video_url=out.url.split("?", 1)[0] if out else None,  # a presigned query string is a credential
        duration_s=out.duration_s if out else None,
        resolution=f"{out.width}x{out.height}" if out and out.width and out.height else None,
        size_bytes=out.size_bytes if out else None,
        late=job.late,
    )


class JobFinisher:
    """Ends a failed or cancelled job: refund first (so "credits were returned" is true), then tell."""

    def __init__(
        self,
        *,
        sessions: SessionStore,
        notifier: Notifier,
        billing: Billing,
        late_checks: LateCheckQueue | None = None,
        late_check_delays_s: Sequence[float] = (),
        events: JobEvents | None = None,
    ) -> None:
        self._sessions = sessions
        self._notifier = notifier
        self._billing = billing
        self._events: JobEvents = events or NoEvents()
        self._late_checks = late_checks
        self._late_delays = tuple(late_check_delays_s)

    async def refund_first(self, job: Job) -> bool:
        """Refund before the job is marked failed, so a crash in between cannot lose the refund.

        The refund is idempotent, and a refunded job is never charged: if the failure then loses a race
        (another process delivered the video after all), the user simply does not pay for it.
        """
        return await self._refund(job)

    async def refund(self, job: Job) -> bool:
        """Give the job's credits back now, whatever its state (an operator's refund); True only the first time,
        never after a capture. A job refunded while it runs is never charged when it succeeds."""
        return await self._refund(job)

    async def _refund(self, job: Job) -> bool:
        refunded = await self._billing.refund(job)
        if refunded:
            self._events.credits_moved(CreditMove.REFUNDED, job.cost)
        return refunded

    async def ended(self, job: Job) -> None:
        """Run the endings of ``job`` (already in ``failed`` or ``cancelled``)."""
        refunded = await self._refund(job)
        if job.error_code is ErrorCode.TIMEOUT and self._late_checks is not None and self._late_delays:
            # The provider may still finish: the reconciler looks again over the following day.
            await self._late_checks.schedule(job.id, time.time() + self._late_delays[0])
        session = await self._sessions.get(job.id)
        if session is not None:
            try:
                await self._notifier.job_ended(job, session)
            except Exception:
                log.warning("notify.failed", job_id=job.id, exc_info=True)
        await self._sessions.delete(job.id)
        log.info("job.ended", job_id=job.id, status=job.status.value, refunded=refunded)
        log_completion(job)
        await self._events.job_ended(job)
