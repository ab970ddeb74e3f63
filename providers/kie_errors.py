"""KIE.ai error normalization: HTTP/body codes and failure messages onto the error taxonomy.

The table (provider-apis.md §1.6, §2.2; DESIGN.md "Error taxonomy"):

======================  =========================  ==================================================
code                    normalized                 why
======================  =========================  ==================================================
400                     invalid_input              bad request; "1080P is processing" is transient
401, 403                provider_error             our key is wrong: permanent, logged loudly
402                     insufficient_credits       the KIE account is out of credits
404                     provider_error             task or endpoint not found
422                     invalid_input              validation; moderation when the message says so;
                                                   "4k is processing" is transient
429                     rate_limited               20 submits / 10 s per account
451                     moderation_rejected        undocumented; by analogy with HTTP 451 (legal)
455                     provider_unavailable       maintenance
500, 502, 503, 504      provider_unavailable       server trouble; try again
501                     provider_error             generation failed
505                     provider_error             feature disabled
======================  =========================  ==================================================

Messages that talk about content policy, safety, moderation, sensitive or NSFW content mean
``moderation_rejected`` wherever they appear (HTTP errors, Veo ``errorMessage``, Market ``failMsg``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import structlog

from poller.errors import ErrorCode, JobError

log = structlog.get_logger(__name__)

_MODERATION = re.compile(
    r"content[\s_-]*polic|polic(?:y|ies)\s+violation|safety|moderat|sensitive|nsfw|inappropriate"
    r"|violat|prohibited|flagged|unsafe",
    re.IGNORECASE,
)
_STILL_PROCESSING = re.compile(r"\b(?:is\s+)?(?:processing|in\s+progress|not\s+ready)\b", re.IGNORECASE)

_BY_CODE: dict[int, ErrorCode] = {
    400: ErrorCode.INVALID_INPUT,
    401: ErrorCode.PROVIDER_ERROR,
    402: ErrorCode.INSUFFICIENT_CREDITS,
    403: ErrorCode.PROVIDER_ERROR,
    404: ErrorCode.PROVIDER_ERROR,
    422: ErrorCode.INVALID_INPUT,
    429: ErrorCode.RATE_LIMITED,
    451: ErrorCode.MODERATION_REJECTED,
    455: ErrorCode.PROVIDER_UNAVAILABLE,
    500: ErrorCode.PROVIDER_UNAVAILABLE,
    501: ErrorCode.PROVIDER_ERROR,
    502: ErrorCode.PROVIDER_UNAVAILABLE,
    503: ErrorCode.PROVIDER_UNAVAILABLE,
    504: ErrorCode.PROVIDER_UNAVAILABLE,
    505: ErrorCode.PROVIDER_ERROR,
}
# Codes whose meaning a message cannot change: credentials, billing, throttling and server trouble are
# not about content (a 500 "safety checker timed out" must stay transient).
_MESSAGE_BLIND = frozenset({401, 402, 403, 429, 455, 500, 502, 503, 504})
# Codes KIE answers while an upgrade of a finished video renders: 400 "1080P is processing", 422 "4k is processing".
_PROCESSING_CODES = frozenset({400, 422})


def still_processing(code: int | None, message: str) -> bool:
    """Whether a KIE answer says the thing asked for is still being made (not a failure, not yet a result)."""
    return code in _PROCESSING_CODES and bool(_STILL_PROCESSING.search(message))


def mentions_moderation(text: str) -> bool:
    """Whether a provider message says the content was refused (policy, safety, NSFW …)."""
    return bool(_MODERATION.search(text))


def envelope_code(payload: object) -> int | None:
    """The KIE envelope's body ``code`` as an int, when there is one."""
    if isinstance(payload, Mapping):
        code = payload.get("code")
        if isinstance(code, bool):
            return None
        if isinstance(code, int):
            return code
        if isinstance(code, str) and code.strip().isdigit():
            return int(code)
    return None


def envelope_message(payload: object) -> str:
    """The envelope's ``msg`` (or ``message``, as some Market pages spell it), or the text itself."""
    if isinstance(payload, Mapping):
        for key in ("msg", "message", "error", "detail"):
            value = payload.get(key)
            if isinstance(value, str) and value:
                return value
        return ""
    if isinstance(payload, str | bytes):
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
        return text[:500]
    return ""


def normalize_kie_error(
    http_status: int | None,
    payload: object,
    *,
    retry_after: float | None = None,
    request_sent: bool = True,
) -> JobError:
    """Map an HTTP status and/or a KIE error body onto a :class:`JobError`.

    The body ``code`` wins over the HTTP status when it is an error code: KIE answers a bad key
    with HTTP 200 and ``code`` 401.
    """
    body_code = envelope_code(payload)
    code = body_code if body_code is not None and body_code != 200 else http_status
    message = envelope_message(payload)
    raw = f"HTTP {http_status}, code {code}: {message}" if message else f"HTTP {http_status}, code {code}"
    error_code = _classify(code, message)
    if code in (401, 403):
        # The key is wrong or revoked: every job will fail until an operator fixes the configuration.
        log.error("kie.auth_rejected", http_status=http_status, code=code, message=message[:200])
    # 455: KIE is down for maintenance; it refused the request, and a retry in seconds will not find it back.
    return JobError(error_code, raw, retry_after=retry_after, request_sent=request_sent, provider_down=code == 455)


def task_failure_error(code: object, message: str) -> JobError:
    """The error for a task the provider reports as failed (Veo ``errorCode``, Market ``failCode``).

    A failed task never comes back, so codes that would be transient for a request (500, 455)
    become ``provider_error`` here.
    """
    text = f"{code} {message}".strip() if code not in (None, "") else message
    numeric = envelope_code({"code": code})
    if mentions_moderation(text):
        error_code = ErrorCode.MODERATION_REJECTED
    else:
        error_code = _classify(numeric, message) if numeric is not None else ErrorCode.PROVIDER_ERROR
        if error_code.retryable:
            error_code = ErrorCode.PROVIDER_ERROR
    return JobError(error_code, f"task failed: {text}" if text else "task failed")


def _classify(code: int | None, message: str) -> ErrorCode:
    if code in _MESSAGE_BLIND:
        return _BY_CODE[code]
    if still_processing(code, message):
        return ErrorCode.PROVIDER_UNAVAILABLE
    if mentions_moderation(message):
        return ErrorCode.MODERATION_REJECTED
    if code is None:
        return ErrorCode.PROVIDER_ERROR
    if code in _BY_CODE:
        return _BY_CODE[code]
    if 500 <= code < 600:
        return ErrorCode.PROVIDER_UNAVAILABLE
    return ErrorCode.PROVIDER_ERROR


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
