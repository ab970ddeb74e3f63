"""Late success after a timeout: a timed-out job keeps its task id, and is checked a few more times.

If the video turns up, it is delivered (marked late) through the ordinary delivery step. The refund given
at the timeout stands: the delivery's capture finds the credits already refunded and charges nothing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import structlog

from poller.engine import Engine
from poller.errors import ErrorCode, InvalidTransition, JobNotFound
from poller.jobs import JobStatus
from poller.ports import JobStore, LateCheckQueue, TaskState

log = structlog.get_logger(__name__)

CLAIM_RETRY_S = 600.0  # a claimed check whose process died comes due again after this


class LateReconciler:
    """Runs the due late checks; each check is taken by exactly one process."""

    def __init__(self, *, engine: Engine, jobs: JobStore, checks: LateCheckQueue, delays_s: Sequence[float]) -> None:
        self._engine = engine
        self._jobs = jobs
        self._checks = checks
        self._delays = tuple(delays_s)

    async def run_due(self, limit: int = 100) -> int:
        """Run the checks that are due now; return how many ran."""
        ran = 0
        for job_id in await self._checks.due(time.time(), limit):
            # Claimed by pushing the check later, not by removing it: a process that dies mid-check
            # leaves the check to come due again instead of losing the remaining ones.
            if await self._checks.claim_due(job_id, CLAIM_RETRY_S):
                ran += 1
                try:
                    await self._check(job_id)
                except (JobNotFound, InvalidTransition):
                    await self._checks.take(job_id)
        return ran

    async def _check(self, job_id: str) -> None:
        job = await self._jobs.get(job_id)
        if job.status is not JobStatus.FAILED or job.error_code is not ErrorCode.TIMEOUT or not job.provider_task_id:
            await self._checks.take(job_id)
            return
        result = await self._engine.check(job)
        done = job.late_checks + 1
        if result.state is TaskState.SUCCEEDED and result.video_url:
            job = await self._jobs.transition(
                job.id,
                JobStatus.DELIVERING,
                expected=frozenset({JobStatus.FAILED}),
                fields={
                    "result_url": result.video_url,
                    "late": "1",
                    "late_checks": str(done),
                    "owner": self._engine.process_id,
                    "delivery_attempts": "0",
                },
            )
            log.info("job.late_success", job_id=job.id, task_id=job.provider_task_id, checks=done)
            await self._checks.take(job.id)
            self._engine.adopt(job)
            return
        await self._jobs.update_fields(job.id, {"late_checks": str(done)})
        if result.state is TaskState.PENDING and done < len(self._delays):
            await self._checks.schedule(job.id, time.time() + self._delays[done] - self._delays[done - 1])
            return
        await self._checks.take(job.id)
        log.info("job.late_check_done", job_id=job.id, state=result.state.value, checks=done)
