"""The last resort: any body with a status word and/or an http(s) video URL in a recognisable key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from poller.ports import PollResult, TaskState
from providers.kie_errors import task_failure_error
from providers.parsers.common import (
    as_mapping,
    as_progress,
    classify_status,
    error_text,
    failed,
    first_url,
    pending,
    succeeded,
    unwrap,
)

# Keys that name a video URL directly, most specific first.
URL_KEYS = (
    "videoUrl", "video_url", "videoUrls", "video_urls", "resultUrl", "result_url", "resultUrls",
    "result_urls", "outputUrl", "output_url", "downloadUrl", "download_url", "url", "uri",
)  # fmt: skip
# Keys whose value may hold such a key deeper down.
CONTAINER_KEYS = (
    "video", "videos", "result", "results", "response", "info", "output", "outputs", "data", "payload",
    "videoInfo", "job",
)  # fmt: skip
STATUS_KEYS = ("status", "state", "task_status", "taskStatus")
_MAX_DEPTH = 4


def find_video_url(value: object, depth: int = 0) -> str | None:
    """The first http(s) URL under a recognisable key, searching nested objects a few levels deep."""
    if depth > _MAX_DEPTH:
        return None
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return find_video_url(value[0], depth + 1) if value else None
    mapping = as_mapping(value)
    if mapping is None:
        return None
    for key in URL_KEYS:
        url = first_url(mapping.get(key))
        if url is not None:
            return url
    for key in CONTAINER_KEYS:
        if key in mapping:
            url = find_video_url(mapping[key], depth + 1)
            if url is not None:
                return url
    return None


def generic_video_url(payload: object) -> PollResult | None:
    """A status word (any case) and/or a video URL anywhere recognisable; None when neither is there."""
    body = as_mapping(payload)
    if body is None:
        return None
    inner = unwrap(body) or body
    status_holder, state = _find_status(body, inner)
    url = find_video_url(body)
    if state is TaskState.FAILED:
        reason = error_text(status_holder) or error_text(body)
        return failed("generic", task_failure_error(status_holder.get("errorCode"), reason))
    if state is TaskState.PENDING:
        return pending("generic", as_progress(status_holder.get("progress")))
    if state is TaskState.SUCCEEDED or url is not None:
        return succeeded("generic", url)
    return None


def _find_status(*candidates: Mapping[str, Any]) -> tuple[Mapping[str, Any], TaskState | None]:
    for candidate in candidates:
        for key in STATUS_KEYS:
            state = classify_status(candidate.get(key))
            if state is not None:
                return candidate, state
    return candidates[0], None
