"""One job as its page shows it: the job, its session, its credits in the ledger, its timeline and the actions it
allows. Read the same way by the page and by its live feed."""

from __future__ import annotations

import re
from dataclasses import dataclass

from console.deps import ConsoleDeps
from poller.control import can_rerun_delivery
from poller.jobs import Job, JobStatus, can_transition
from poller.ports import Session

JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what poller.jobs.new_job_id produces, with room


@dataclass(frozen=True)
class Step:
    """One line of a job's timeline."""

    name: str
    at: float
    after_s: float  # since the job was created


@dataclass(frozen=True)
class JobView:
    """Everything a job's page shows."""

    job: Job
    session: Session | None
    ledger: str | None  # reserved, captured, refunded; None when it never reserved credits (or credits are off)
    credits_on: bool

    @property
    def timeline(self) -> list[Step]:
        """Creation and every transition's latest time, in order (a state reached twice shows its last time)."""
        job = self.job
        steps = [Step("created", job.created_at, 0.0)]
        for name, at in sorted(job.transitions.items(), key=lambda item: item[1]):
            steps.append(Step(name, at, max(0.0, at - job.created_at)))
        return steps

    @property
    def billing(self) -> str:
        """Where the job's credits are: the ledger's word when credits are on, else what the job recorded."""
        if not self.credits_on:
            return {"none": "nothing charged (credits are off)", "external": "paid elsewhere (an adopted task)"}.get(
                self.job.billing_state, self.job.billing_state
            )
        if self.ledger is None:
            return "external: paid elsewhere" if self.job.billing_state == "external" else "nothing reserved"
        return self.ledger  # reserved, captured or refunded

    @property
    def can_cancel(self) -> bool:
        """The transition table lets it be cancelled (active, and not already being delivered)."""
        return can_transition(self.job.status, JobStatus.CANCELLED)

    @property
    def can_rerun(self) -> bool:
        """It failed in our delivery steps after the provider made the video."""
        return can_rerun_delivery(self.job)

    @property
    def can_refund(self) -> bool:
        """Its credits are still reserved."""
        return self.ledger == "reserved"

    def fingerprint(self) -> tuple[object, ...]:
        """What changes when anything the page shows changes (the live feed sends an update then)."""
        return (tuple(sorted(self.job.to_fields().items())), self.session is None, self.ledger)


async def load_job_view(deps: ConsoleDeps, job: Job) -> JobView:
    """The session and ledger state around ``job``."""
    session = await deps.sessions.get(job.id)
    ledger = await deps.credits.state(job.user_id, job.id) if deps.credits is not None else None
    return JobView(job=job, session=session, ledger=ledger, credits_on=deps.credits is not None)
