"""The one thing a provider callback's body is read for: the cost it reports (KIE's 4K ``creditsConsumed`` is
reported nowhere else). Never the video URL or the outcome: those come from polling the provider, so a forged or
replayed callback can at most set a wrong cost figure on the job it names, and cause one extra poll."""

from __future__ import annotations

import json

import structlog

from poller.errors import JobNotFound
from poller.jobs import COST_REPORTED
from poller.ports import JobStore
from providers.parsers.chain import reported_cost

log = structlog.get_logger(__name__)


async def record_reported_cost(jobs: JobStore, job_id: str, body: bytes) -> float | None:
    """Keep the cost ``body`` reports as the job's provider cost (recorded before the job is polled, so the poll
    that ends it counts it); the cost, or None when the body reports none."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return None
    cost = reported_cost(payload)
    if cost is None:
        return None
    try:
        await jobs.update_fields(job_id, {"provider_cost": repr(cost), "cost_source": COST_REPORTED})
    except JobNotFound:
        return None
    log.info("callback.cost_recorded", job_id=job_id, provider_cost=cost)
    return cost
