"""What an operator can do to a job, each a use case of the core (``poller.control``): cancel it (its credits go
back), run its failed delivery again, refund its credits.

Each is a POST from a form that asked for confirmation first (the page's confirm step sends ``confirm=yes``) and
carries the session's form token; each is logged as ``console.action`` with the job, the action, the outcome and the
operator's address (never the token). The answer is the job's page again, with what happened on top.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from console.auth import client_address, form_token_ok
from console.deps import ConsoleDeps
from console.job_view import JOB_ID
from console.render import flash
from poller.control import AlreadyFinished, RerunRefused, cancel_job, refund_credits, rerun_delivery
from poller.errors import InvalidTransition, JobNotFound
from poller.jobs import Job

log = structlog.get_logger(__name__)

Outcome = tuple[str, str]  # (message for the operator, "ok" or "refused")
Action = Callable[[Job], Awaitable[Outcome]]


class Actions:
    """The POST handlers of the job page's actions."""

    def __init__(self, deps: ConsoleDeps) -> None:
        self._deps = deps

    async def cancel(self, request: Request) -> Response:
        """``POST /console/jobs/{job_id}/cancel``."""
        return await self._run(request, "cancel", self._cancel)

    async def rerun_delivery(self, request: Request) -> Response:
        """``POST /console/jobs/{job_id}/rerun-delivery``."""
        return await self._run(request, "rerun_delivery", self._rerun)

    async def refund(self, request: Request) -> Response:
        """``POST /console/jobs/{job_id}/refund``."""
        return await self._run(request, "refund", self._refund)

    async def _run(self, request: Request, action: str, run: Action) -> Response:
        job_id = request.path_params["job_id"]
        if not JOB_ID.fullmatch(job_id):
            return RedirectResponse("/console/jobs", status_code=303)
        page = f"/console/jobs/{job_id}"
        form = await request.form()
        if not form_token_ok(request, form.get("csrf")):
            outcome: Outcome = ("The form was out of date; nothing was done. Try again.", "refused")
        elif form.get("confirm") != "yes":
            outcome = ("Nothing was done: the action was not confirmed.", "refused")
        else:
            try:
                outcome = await run(await self._deps.jobs.get(job_id))
            except JobNotFound:
                outcome = ("No such job (it may have expired).", "refused")
        log.info(
            "console.action",
            action=action,
            job_id=job_id,
            outcome=outcome[1],
            detail=outcome[0],
            address=client_address(request),
        )
        flash(request, *outcome)
        return RedirectResponse(page, status_code=303)

    async def _cancel(self, job: Job) -> Outcome:
        deps = self._deps
        try:
            await cancel_job(
                job.id, jobs=deps.jobs, finisher=deps.finisher, events=deps.events, providers=deps.adapters
            )
        except AlreadyFinished:
            return "Too late: the provider had already made the video; it is being delivered.", "refused"
        except InvalidTransition as exc:
            return f"This job can no longer be cancelled: it is {exc.current}.", "refused"
        return f"Cancelled. {await self._credits_after(job)}", "ok"

    async def _rerun(self, job: Job) -> Outcome:
        deps = self._deps
        try:
            await rerun_delivery(job.id, jobs=deps.jobs, events=deps.events)
        except RerunRefused as exc:
            return f"The delivery cannot be run again: {exc.reason}.", "refused"
        except InvalidTransition as exc:
            return f"The job changed meanwhile (it is {exc.current}); nothing was done.", "refused"
        return "Delivery started again: a poller takes the job now. The refund given at the failure stands.", "ok"

    async def _refund(self, job: Job) -> Outcome:
        deps = self._deps
        if deps.credits is None:
            return "Nothing to refund: credits are switched off (credits.enabled).", "refused"
        if await refund_credits(job.id, jobs=deps.jobs, finisher=deps.finisher):
            return f"Refunded {job.cost} credits to user {job.user_id}.", "ok"
        state = await deps.credits.state(job.user_id, job.id)
        if state is None:
            return "Nothing to refund: this job never held credits.", "refused"
        return f"Nothing to refund: the job's credits were already {state}.", "refused"

    async def _credits_after(self, job: Job) -> str:
        if self._deps.credits is None:
            return "Credits are switched off."
        state = await self._deps.credits.state(job.user_id, job.id)
        if state == "refunded":
            return f"Its {job.cost} credits are back with user {job.user_id}."
        return "It held no credits." if state is None else f"Its credits are {state}."
