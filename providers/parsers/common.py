"""Helpers shared by the format parsers: envelope unwrapping, status words, URL lookup."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from poller.errors import ErrorCode, JobError
from poller.ports import PollResult, TaskState

PENDING_WORDS = frozenset(
    {
        "pending", "waiting", "wait", "queued", "queuing", "queueing", "in_queue", "created", "submitted",
        "accepted", "starting", "started", "running", "generating", "processing", "in_progress",
    }
)  # fmt: skip
SUCCESS_WORDS = frozenset({"success", "succeeded", "successful", "completed", "complete", "done", "finished", "ok"})
FAILURE_WORDS = frozenset(
    {"fail", "failed", "failure", "error", "errored", "cancelled", "canceled", "rejected", "expired"}
)

# Keys that hold a failure reason, most specific first.
ERROR_TEXT_KEYS = ("errorMessage", "error_message", "failMsg", "fail_msg", "error", "message", "msg", "detail")


def as_mapping(value: object) -> Mapping[str, Any] | None:
    """``value`` when it is a JSON object, else None."""
    return value if isinstance(value, Mapping) else None


def unwrap(payload: object) -> Mapping[str, Any] | None:
    """The KIE envelope's ``data`` object when there is one, else the payload itself (if an object)."""
    body = as_mapping(payload)
    if body is None:
        return None
    data = as_mapping(body.get("data"))
    return data if data is not None else body


def is_envelope(payload: object) -> bool:
    """Whether ``payload`` looks like a whole KIE body ``{code, msg, data}`` rather than its ``data``."""
    body = as_mapping(payload)
    return body is not None and "code" in body and ("msg" in body or "message" in body or "data" in body)


def classify_status(value: object) -> TaskState | None:
    """A status word in any case (``COMPLETED``, ``in_progress``, ``Fail``) as a :class:`TaskState`."""
    if not isinstance(value, str):
        return None
    word = value.strip().lower().replace("-", "_").replace(" ", "_")
    if word in SUCCESS_WORDS:
        return TaskState.SUCCEEDED
    if word in FAILURE_WORDS:
        return TaskState.FAILED
    if word in PENDING_WORDS:
        return TaskState.PENDING
    return None


def is_http_url(value: object) -> bool:
    """Whether ``value`` is an absolute http(s) URL string."""
    return isinstance(value, str) and value.strip().lower().startswith(("http://", "https://"))


def first_url(value: object) -> str | None:
    """``value`` if it is an http(s) URL, or the first such URL in a list of them."""
    if is_http_url(value):
        return str(value).strip()
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        for item in value:
            if is_http_url(item):
                return str(item).strip()
    return None


def dig(value: object, *path: str) -> object:
    """``value[path[0]][path[1]]…`` through nested objects, or None where the path breaks."""
    for key in path:
        mapping = as_mapping(value)
        if mapping is None:
            return None
        value = mapping.get(key)
    return value


def error_text(body: Mapping[str, Any]) -> str:
    """The first non-empty failure reason in ``body``."""
    for key in ERROR_TEXT_KEYS:
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, Mapping | list) and value:
            return str(value)[:500]
    return ""


def as_progress(value: object) -> float | None:
    """A progress percentage (0–100) from a number or numeric string."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value) if isinstance(value, int | float | str) else None
    except ValueError:
        return None
    if number is None or not 0 <= number <= 100:
        return None
    return number


def malformed(parser: str, why: str) -> JobError:
    """A recognised shape that cannot be used as it is: retryable, costs one attempt."""
    return JobError(ErrorCode.PROVIDER_UNAVAILABLE, f"malformed {parser} answer: {why}")


def succeeded(parser: str, url: str | None, why_missing: str = "success without a video URL") -> PollResult:
    """A SUCCEEDED result; raise :func:`malformed` when the URL is missing."""
    if url is None:
        raise malformed(parser, why_missing)
    return PollResult(TaskState.SUCCEEDED, video_url=url, progress=100.0, parser=parser)


def pending(parser: str, progress: float | None = None) -> PollResult:
    """A PENDING result from ``parser``."""
    return PollResult(TaskState.PENDING, progress=progress, parser=parser)


def failed(parser: str, error: JobError) -> PollResult:
    """A FAILED result carrying the normalized ``error``."""
    return PollResult(TaskState.FAILED, error=error, parser=parser)
