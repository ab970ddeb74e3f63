"""Parsers for fal.ai: the webhook body, the queue status and the result (provider-apis.md §4)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from poller.errors import ErrorCode, JobError
from poller.ports import PollResult
from providers.kie_errors import mentions_moderation
from providers.parsers.common import (
    as_mapping,
    dig,
    error_text,
    failed,
    first_url,
    pending,
    succeeded,
)
from providers.parsers.generic import find_video_url

_QUEUE_STATUSES = frozenset({"IN_QUEUE", "IN_PROGRESS", "COMPLETED"})
_FAL_ONLY_KEYS = frozenset({"request_id", "response_url", "status_url", "queue_position", "logs", "metrics"})


def fal_webhook(payload: object) -> PollResult | None:
    """fal webhook: ``{request_id, status: "OK"|"ERROR", payload, error}``."""
    body = as_mapping(payload)
    if body is None or "request_id" not in body or not ("payload" in body or "error" in body):
        return None
    status = str(body.get("status", "")).upper()
    if status == "OK":
        inner = body.get("payload")
        return succeeded("fal_webhook", first_url(dig(inner, "video", "url")) or find_video_url(inner))
    if status == "ERROR":
        return failed("fal_webhook", fal_failure_error(body))
    return None


def fal_queue_status(payload: object) -> PollResult | None:
    """fal queue status: ``IN_QUEUE`` / ``IN_PROGRESS`` pending; ``COMPLETED`` carries no video.

    On ``COMPLETED`` the result must be fetched from ``response_url``, which a parser cannot do:
    without a video URL (or an error) in the body it stays PENDING, and a fal adapter is expected
    to fetch the result before handing it to the chain.
    """
    body = as_mapping(payload)
    status = body.get("status") if body is not None else None
    if body is None or not isinstance(status, str) or status.upper() not in _QUEUE_STATUSES:
        return None
    if status != status.upper() and not _FAL_ONLY_KEYS & body.keys():
        return None  # a lowercase "completed" without fal's keys belongs to another shape
    if status.upper() != "COMPLETED":
        return pending("fal_queue_status")
    if body.get("error"):
        return failed("fal_queue_status", fal_failure_error(body))
    url = first_url(dig(body, "video", "url"))
    return succeeded("fal_queue_status", url) if url else pending("fal_queue_status")


def fal_result(payload: object) -> PollResult | None:
    """fal result: ``{video: {url, content_type, …}, seed}``."""
    video = as_mapping(dig(payload, "video"))
    if video is None or "url" not in video:
        return None
    return succeeded("fal_result", first_url(video.get("url")), "video.url is not an http(s) URL")


def fal_failure_error(body: Mapping[str, Any]) -> JobError:
    """Normalize a fal failure: validation details are invalid input, policy words moderation."""
    inner = as_mapping(body.get("payload")) or {}
    text = " ".join(part for part in (error_text(body), error_text(inner)) if part)
    if mentions_moderation(text):
        code = ErrorCode.MODERATION_REJECTED
    elif isinstance(inner.get("detail"), list):
        code = ErrorCode.INVALID_INPUT  # fal's 422 body: {"detail": [{loc, msg, type}]}
    else:
        code = ErrorCode.PROVIDER_ERROR
    return JobError(code, f"fal request failed: {text}" if text else "fal request failed")
