"""The KIE error normalization table, moderation wording, task failures and Retry-After parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from structlog.testing import capture_logs

from poller.errors import ErrorCode
from providers.kie_errors import normalize_kie_error, parse_retry_after, task_failure_error


def body(code: int, msg: str = "something went wrong") -> dict[str, object]:
    return {"code": code, "msg": msg, "data": None}


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (400, ErrorCode.INVALID_INPUT),
        (401, ErrorCode.PROVIDER_ERROR),
        (402, ErrorCode.INSUFFICIENT_CREDITS),
        (403, ErrorCode.PROVIDER_ERROR),
        (404, ErrorCode.PROVIDER_ERROR),
        (422, ErrorCode.INVALID_INPUT),
        (429, ErrorCode.RATE_LIMITED),
        (451, ErrorCode.MODERATION_REJECTED),
        (455, ErrorCode.PROVIDER_UNAVAILABLE),
        (500, ErrorCode.PROVIDER_UNAVAILABLE),
        (501, ErrorCode.PROVIDER_ERROR),
        (502, ErrorCode.PROVIDER_UNAVAILABLE),
        (503, ErrorCode.PROVIDER_UNAVAILABLE),
        (504, ErrorCode.PROVIDER_UNAVAILABLE),
        (505, ErrorCode.PROVIDER_ERROR),
    ],
)
def test_table_maps_http_and_body_codes_alike(code: int, expected: ErrorCode) -> None:
    assert normalize_kie_error(code, body(code)).code is expected
    assert normalize_kie_error(200, body(code)).code is expected  # HTTP 200, refusal in the body


@pytest.mark.parametrize("code", [429, 455, 500, 502, 503, 504])
def test_transient_codes_are_retryable(code: int) -> None:
    assert normalize_kie_error(code, body(code)).retryable


@pytest.mark.parametrize("code", [400, 401, 402, 403, 404, 422, 451, 501, 505])
def test_permanent_codes_are_not_retryable(code: int) -> None:
    assert not normalize_kie_error(code, body(code)).retryable


def test_body_code_wins_over_http_200() -> None:
    error = normalize_kie_error(200, body(401, "You do not have access permissions"))
    assert error.code is ErrorCode.PROVIDER_ERROR
    assert "401" in error.raw


def test_auth_refusal_is_logged_loudly_without_the_key() -> None:
    with capture_logs() as logs:
        normalize_kie_error(200, body(401, "You do not have access permissions"))
    [entry] = [log for log in logs if log["event"] == "kie.auth_rejected"]
    assert entry["log_level"] == "error"


def test_1080p_still_processing_is_transient_not_invalid_input() -> None:
    error = normalize_kie_error(200, body(400, "1080P is processing, please try again later"))
    assert error.code is ErrorCode.PROVIDER_UNAVAILABLE


def test_4k_still_processing_is_transient_but_other_422s_are_not() -> None:
    processing = normalize_kie_error(200, body(422, "4k is processing. It should be ready in 5-10 minutes."))
    refused = normalize_kie_error(200, body(422, "record status is not success"))
    assert (processing.code, refused.code) == (ErrorCode.PROVIDER_UNAVAILABLE, ErrorCode.INVALID_INPUT)


@pytest.mark.parametrize(
    "message",
    [
        "The prompt violates our content policy",
        "Rejected by the safety system",
        "Blocked by moderation",
        "Sensitive content detected",
        "NSFW image",
    ],
)
def test_422_that_talks_about_content_is_moderation(message: str) -> None:
    assert normalize_kie_error(422, body(422, message)).code is ErrorCode.MODERATION_REJECTED


def test_plain_422_is_invalid_input() -> None:
    assert normalize_kie_error(200, body(422, "prompt is required")).code is ErrorCode.INVALID_INPUT


def test_server_error_mentioning_safety_stays_transient() -> None:
    error = normalize_kie_error(500, body(500, "safety checker timed out"))
    assert error.code is ErrorCode.PROVIDER_UNAVAILABLE


def test_message_key_is_read_when_msg_is_absent() -> None:
    error = normalize_kie_error(200, {"code": 422, "message": "NSFW content", "data": None})
    assert error.code is ErrorCode.MODERATION_REJECTED


def test_plain_text_error_body_uses_the_http_status() -> None:
    error = normalize_kie_error(503, "<html>Service Unavailable</html>")
    assert error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert "Service Unavailable" in error.raw


def test_retry_after_and_request_sent_are_carried() -> None:
    error = normalize_kie_error(429, body(429), retry_after=12.0, request_sent=False)
    assert (error.retry_after, error.request_sent) == (12.0, False)


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        ("500", "internal error", ErrorCode.PROVIDER_ERROR),
        (501, "Generation failed", ErrorCode.PROVIDER_ERROR),
        ("455", "maintenance", ErrorCode.PROVIDER_ERROR),  # the task is over: not transient any more
        ("400", "Only English prompts are supported", ErrorCode.INVALID_INPUT),
        ("402", "insufficient credits", ErrorCode.INSUFFICIENT_CREDITS),
        (None, "flagged: nsfw", ErrorCode.MODERATION_REJECTED),
        ("SENSITIVE_CONTENT", "", ErrorCode.MODERATION_REJECTED),
        ("", "", ErrorCode.PROVIDER_ERROR),
    ],
)
def test_task_failures(code: object, message: str, expected: ErrorCode) -> None:
    error = task_failure_error(code, message)
    assert error.code is expected
    assert not error.retryable


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), ("2.5", 2.5), (" 30 ", 30.0), ("-3", 0.0), ("", None), (None, None), ("soon", None), ("inf", None)],
)
def test_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_retry_after_http_date() -> None:
    when = datetime.now(UTC) + timedelta(seconds=90)
    seconds = parse_retry_after(format_datetime(when, usegmt=True))
    assert seconds is not None
    assert 60 < seconds <= 90
