"""Parsers for the two shapes the original n8n workflow normalized KIE answers into (DESIGN.md)."""

from __future__ import annotations

from poller.ports import PollResult, TaskState
from providers.kie_errors import task_failure_error
from providers.parsers.common import (
    as_mapping,
    as_progress,
    classify_status,
    dig,
    error_text,
    failed,
    first_url,
    pending,
    succeeded,
)
from providers.parsers.generic import find_video_url


def workflow_veo_style(payload: object) -> PollResult | None:
    """``{status: "completed", videoUrl}`` (also ``pending`` / ``failed`` with an error)."""
    body = as_mapping(payload)
    if body is None or "videoUrl" not in body or "status" not in body:
        return None
    return _by_status("workflow_veo_style", body.get("status"), first_url(body.get("videoUrl")), body)


def workflow_market_style(payload: object) -> PollResult | None:
    """``{job: {status: "success", result: {url}}}``."""
    job = as_mapping(dig(payload, "job"))
    if job is None or "status" not in job:
        return None
    result = job.get("result")
    url = first_url(dig(result, "url")) or find_video_url(result)
    return _by_status("workflow_market_style", job.get("status"), url, job)


def _by_status(parser: str, status: object, url: str | None, body: object) -> PollResult | None:
    state = classify_status(status)
    if state is TaskState.SUCCEEDED:
        return succeeded(parser, url)
    mapping = as_mapping(body) or {}
    if state is TaskState.FAILED:
        return failed(parser, task_failure_error(mapping.get("errorCode"), error_text(mapping)))
    if state is TaskState.PENDING:
        return pending(parser, as_progress(mapping.get("progress")))
    return None
