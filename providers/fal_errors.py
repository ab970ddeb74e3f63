"""fal.ai error normalization: HTTP statuses and fal's ``error_type`` onto the error taxonomy (docs/providers.md,
"fal.ai"; provider-apis.md §4 and §8).

======================================  =========================  =============================================
fal says                                normalized                 why
======================================  =========================  =============================================
401, 403                                provider_error             our key is wrong: permanent, logged loudly
404 (submit)                            provider_error             no such model endpoint
404 NOT_FOUND (status of a known task)  provider_unavailable       ``task_missing``: the engine tolerates two
422, validation ``detail`` list          invalid_input              the input was refused
``content_policy_violation``            moderation_rejected        anywhere: an HTTP error or a failed result
429 ``concurrent_requests_limit``       rate_limited               refused before any request existed
503                                     provider_unavailable       ``provider_down``: refused, failover at once
other 5xx, 504                          provider_unavailable       server trouble; no request was queued
``request_timeout``, ``startup_timeout``,
``runner_*``, ``generation_timeout``,
``downstream_service_*``                provider_unavailable       fal's infrastructure, not the prompt
``client_cancelled``                    cancelled                  the request was cancelled
======================================  =========================  =============================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import structlog

from poller.errors import ErrorCode, JobError
from providers.kie_errors import mentions_moderation

log = structlog.get_logger(__name__)

_TRANSIENT_TYPES = frozenset({"request_timeout", "startup_timeout", "generation_timeout"})
_TRANSIENT_PREFIXES = ("runner_", "downstream_service_")


def error_type_of(payload: object) -> str:
    """fal's ``error_type`` (top level, or the first ``detail`` item's ``type``); "" when it names none."""
    if not isinstance(payload, Mapping):
        return ""
    value = payload.get("error_type")
    if isinstance(value, str) and value:
        return value
    detail = payload.get("detail")
    if isinstance(detail, Sequence) and not isinstance(detail, str) and detail:
        first = detail[0]
        if isinstance(first, Mapping) and isinstance(first.get("type"), str):
            return str(first["type"])
    return ""


def message_of(payload: object) -> str:
    """A short human text of fal's error body, for operators (never shown to users)."""
    if isinstance(payload, Mapping):
        for key in ("error", "detail", "message"):
            value = payload.get(key)
            if isinstance(value, str) and value:
                return value[:500]
            if isinstance(value, Sequence) and not isinstance(value, str) and value:
                first = value[0]
                if isinstance(first, Mapping) and isinstance(first.get("msg"), str):
                    return str(first["msg"])[:500]
        return ""
    if isinstance(payload, str | bytes):
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
        return text[:500]
    return ""


def code_for_type(error_type: str) -> ErrorCode | None:
    """The code an ``error_type`` decides by itself, or None when it does not (unknown, absent)."""
    if error_type == "content_policy_violation":
        return ErrorCode.MODERATION_REJECTED
    if error_type in _TRANSIENT_TYPES or error_type.startswith(_TRANSIENT_PREFIXES):
        return ErrorCode.PROVIDER_UNAVAILABLE
    if error_type == "client_cancelled":
        return ErrorCode.CANCELLED
    return None


def normalize_fal_error(
    http_status: int | None, payload: object, *, retry_after: float | None = None, request_sent: bool = True
) -> JobError:
    """Map an HTTP error answer of fal's queue API onto a :class:`JobError`."""
    error_type = error_type_of(payload)
    message = message_of(payload)
    raw = f"HTTP {http_status} {error_type}: {message}".strip() if error_type else f"HTTP {http_status}: {message}"
    code = code_for_type(error_type)
    if code is None:
        code = _by_status(http_status, message)
    if http_status in (401, 403):
        log.error("fal.auth_rejected", http_status=http_status, message=message[:200])
    return JobError(
        code,
        raw.rstrip(": "),
        retry_after=retry_after,
        request_sent=request_sent,
        provider_down=http_status == 503,
    )


def result_failure(payload: Mapping[str, object]) -> JobError:
    """The error of a request fal finished without a video (``COMPLETED`` with ``error`` / ``error_type``).

    Infrastructure failures stay ``provider_unavailable`` (fal bills no 5xx, so the user may simply try again);
    everything else the task itself ended with is ``provider_error``, unless it is about the content."""
    error_type = error_type_of(payload)
    message = message_of(payload)
    code = code_for_type(error_type)
    if code is None:
        code = ErrorCode.MODERATION_REJECTED if mentions_moderation(message) else ErrorCode.PROVIDER_ERROR
    text = f"{error_type}: {message}" if error_type else message
    return JobError(code, f"task failed: {text}".rstrip(": "))


def _by_status(http_status: int | None, message: str) -> ErrorCode:
    if http_status == 429:
        return ErrorCode.RATE_LIMITED
    if http_status == 422 or http_status == 400:
        return ErrorCode.MODERATION_REJECTED if mentions_moderation(message) else ErrorCode.INVALID_INPUT
    if http_status is not None and 500 <= http_status < 600:
        return ErrorCode.PROVIDER_UNAVAILABLE
    return ErrorCode.PROVIDER_ERROR
