"""Every documented response shape (fixtures/*.json) through the parser chain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from poller.errors import ErrorCode, JobError
from poller.ports import PollResult, TaskState
from providers.parsers import PARSERS, parse_status

FIXTURES = Path(__file__).parent / "fixtures"
PENDING, SUCCEEDED, FAILED = TaskState.PENDING, TaskState.SUCCEEDED, TaskState.FAILED

VEO_URL = "https://tempfile.aiquickdraw.com/v/veo_task_abc.mp4"
MARKET_URL = "https://file.aiquickdraw.com/m/task_x.mp4"
RUNWAY_URL = "https://file.aiquickdraw.com/r/rw_1.mp4"
FAL_URL = "https://v3.fal.media/files/rabbit/out.mp4"

# fixture -> (state, video URL, error code, parser that must recognise it)
EXPECTED: dict[str, tuple[TaskState, str | None, ErrorCode | None, str]] = {
    "veo_record_info_generating": (PENDING, None, None, "veo_record_info"),
    "veo_record_info_success": (SUCCEEDED, VEO_URL, None, "veo_record_info"),
    "veo_record_info_failed": (FAILED, None, ErrorCode.PROVIDER_ERROR, "veo_record_info"),
    "veo_record_info_create_failed": (FAILED, None, ErrorCode.PROVIDER_ERROR, "veo_record_info"),
    "veo_record_info_moderation": (FAILED, None, ErrorCode.MODERATION_REJECTED, "veo_record_info"),
    "veo_callback_success": (SUCCEEDED, VEO_URL, None, "veo_callback"),
    "veo_callback_generation_failed": (FAILED, None, ErrorCode.PROVIDER_ERROR, "veo_callback"),
    "veo_callback_content_policy": (FAILED, None, ErrorCode.MODERATION_REJECTED, "veo_callback"),
    "veo_callback_english_only": (FAILED, None, ErrorCode.INVALID_INPUT, "veo_callback"),
    "veo_callback_internal_error": (FAILED, None, ErrorCode.PROVIDER_ERROR, "veo_callback"),
    "veo_1080p_ready": (SUCCEEDED, "https://tempfile.aiquickdraw.com/p/1080.mp4", None, "veo_1080p"),
    "veo_1080p_processing": (PENDING, None, None, "kie_error_envelope"),
    # The 4K callback and the 4K "still rendering" answer (docs.kie.ai get-veo-3-4k-video and its callbacks page).
    "veo_4k_callback_success": (
        SUCCEEDED,
        "https://file.aiquickdraw.com/v/example_task_1234567890.mp4",
        None,
        "veo_callback",
    ),
    "veo_4k_processing": (PENDING, None, None, "kie_error_envelope"),
    "market_record_info_waiting": (PENDING, None, None, "market_record_info"),
    "market_record_info_queuing": (PENDING, None, None, "market_record_info"),
    "market_record_info_generating": (PENDING, None, None, "market_record_info"),
    "market_record_info_success": (SUCCEEDED, MARKET_URL, None, "market_record_info"),
    "market_record_info_fail": (FAILED, None, ErrorCode.PROVIDER_ERROR, "market_record_info"),
    "market_record_info_fail_sensitive": (FAILED, None, ErrorCode.MODERATION_REJECTED, "market_record_info"),
    "market_callback_success": (SUCCEEDED, MARKET_URL, None, "market_record_info"),
    "market_callback_fail": (FAILED, None, ErrorCode.PROVIDER_ERROR, "market_record_info"),
    "runway_record_detail_queueing": (PENDING, None, None, "runway_record_detail"),
    "runway_record_detail_success": (SUCCEEDED, RUNWAY_URL, None, "runway_record_detail"),
    "runway_record_detail_fail": (FAILED, None, ErrorCode.MODERATION_REJECTED, "runway_record_detail"),
    "runway_record_detail_expired": (FAILED, None, ErrorCode.PROVIDER_ERROR, "runway_record_detail"),
    "runway_callback": (SUCCEEDED, RUNWAY_URL, None, "legacy_video_url"),
    "runway_callback_failed": (FAILED, None, ErrorCode.MODERATION_REJECTED, "legacy_video_url"),
    "legacy_data_video_url": (SUCCEEDED, "https://cdn.example.com/legacy.mp4", None, "legacy_video_url"),
    "workflow_veo_completed": (SUCCEEDED, "https://cdn.example.com/veo.mp4", None, "workflow_veo_style"),
    "workflow_veo_pending": (PENDING, None, None, "workflow_veo_style"),
    "workflow_veo_failed": (FAILED, None, ErrorCode.PROVIDER_ERROR, "workflow_veo_style"),
    "workflow_market_success": (SUCCEEDED, "https://cdn.example.com/market.mp4", None, "workflow_market_style"),
    "workflow_market_generating": (PENDING, None, None, "workflow_market_style"),
    "workflow_market_fail": (FAILED, None, ErrorCode.MODERATION_REJECTED, "workflow_market_style"),
    "fal_queue_in_queue": (PENDING, None, None, "fal_queue_status"),
    "fal_queue_in_progress": (PENDING, None, None, "fal_queue_status"),
    # COMPLETED carries no video: the result must be fetched from response_url (see fal_queue_status).
    "fal_queue_completed": (PENDING, None, None, "fal_queue_status"),
    "fal_result": (SUCCEEDED, FAL_URL, None, "fal_result"),
    "fal_webhook_ok": (SUCCEEDED, FAL_URL, None, "fal_webhook"),
    "fal_webhook_error": (FAILED, None, ErrorCode.PROVIDER_ERROR, "fal_webhook"),
    "fal_webhook_validation_error": (FAILED, None, ErrorCode.INVALID_INPUT, "fal_webhook"),
    "fal_webhook_content_policy": (FAILED, None, ErrorCode.MODERATION_REJECTED, "fal_webhook"),
    "generic_nested_output": (SUCCEEDED, "https://cdn.example.com/generic.mp4", None, "generic"),
    "generic_uppercase_running": (PENDING, None, None, "generic"),
    "generic_bare_result_urls": (SUCCEEDED, "https://cdn.example.com/bare.mp4", None, "generic"),
    "generic_error_status": (FAILED, None, ErrorCode.MODERATION_REJECTED, "generic"),
    "kie_error_envelope_insufficient_credits": (FAILED, None, ErrorCode.INSUFFICIENT_CREDITS, "kie_error_envelope"),
    "unknown_shape": (PENDING, None, None, "unknown"),
    "unknown_shape_bare_list": (PENDING, None, None, "unknown"),
}
# Recognised shapes that cannot be used: a retryable error, never a verdict on the job.
MALFORMED = {
    "veo_record_info_success_without_url",
    "market_record_info_result_json_not_json",
    "market_record_info_success_empty_result",
    "workflow_veo_completed_without_url",
    "kie_error_envelope_server_error",
}
# Whole KIE bodies whose ``data`` is what an adapter hands the chain after unwrapping the envelope.
UNWRAPPABLE = sorted(
    name
    for name in EXPECTED
    if name.startswith(("veo_record_info", "market_record_info", "runway_record_detail", "veo_1080p_ready"))
)


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def check(result: PollResult, name: str) -> None:
    state, url, code, parser = EXPECTED[name]
    assert (result.state, result.video_url, result.parser) == (state, url, parser)
    if code is None:
        assert result.error is None
    else:
        assert result.error is not None
        assert result.error.code is code


def test_every_fixture_file_has_an_expectation() -> None:
    on_disk = {path.stem for path in FIXTURES.glob("*.json")}
    assert on_disk == set(EXPECTED) | MALFORMED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_whole_body_is_parsed_as_documented(name: str) -> None:
    check(parse_status(load(name)), name)


@pytest.mark.parametrize("name", UNWRAPPABLE)
def test_unwrapped_data_parses_like_the_whole_body(name: str) -> None:
    check(parse_status(load(name)["data"]), name)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_raw_json_text_parses_like_the_decoded_body(name: str) -> None:
    check(parse_status(json.dumps(load(name)).encode()), name)


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_shapes_raise_a_retryable_error(name: str) -> None:
    with pytest.raises(JobError) as caught:
        parse_status(load(name))
    assert caught.value.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert caught.value.retryable


def test_json_nested_deeper_than_the_parser_recurses_is_a_retryable_error() -> None:
    with pytest.raises(JobError) as caught:
        parse_status(b"[" * 200_000 + b"]" * 200_000)
    assert caught.value.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert caught.value.retryable


def test_body_that_is_not_json_raises_a_retryable_error() -> None:
    with pytest.raises(JobError) as caught:
        parse_status(b'{"code": 200, "data": {"taskId": ')
    assert caught.value.code is ErrorCode.PROVIDER_UNAVAILABLE


def test_market_progress_is_reported_as_a_percentage() -> None:
    assert parse_status(load("market_record_info_generating")).progress == 40.0


def test_failure_keeps_the_providers_words_for_operators() -> None:
    result = parse_status(load("market_record_info_fail_sensitive"))
    assert result.error is not None
    assert "flagged as sensitive" in result.error.raw


@pytest.mark.parametrize(
    ("payload", "state"),
    [
        ({"status": "Completed", "videoUrl": "https://x.test/a.mp4"}, SUCCEEDED),
        ({"status": "SUCCESS", "video_url": "https://x.test/a.mp4"}, SUCCEEDED),
        ({"state": "In_Progress"}, PENDING),
        ({"status": "QUEUED"}, PENDING),
        ({"status": "Failed", "error": "boom"}, FAILED),
        ({"job": {"status": "SUCCEEDED", "result": {"url": "https://x.test/a.mp4"}}}, SUCCEEDED),
        ({"job": {"status": "Queued"}}, PENDING),
    ],
)
def test_status_words_are_read_in_any_case(payload: dict[str, Any], state: TaskState) -> None:
    assert parse_status(payload).state is state


def test_a_success_with_a_non_http_url_is_malformed() -> None:
    with pytest.raises(JobError):
        parse_status({"status": "completed", "videoUrl": "ftp://x.test/a.mp4"})


def test_unknown_shape_is_logged_with_the_raw_body_truncated() -> None:
    payload = {"mystery": "x" * 5000}
    with capture_logs() as logs:
        result = parse_status(payload)
    assert (result.state, result.parser) == (PENDING, "unknown")
    [entry] = [log for log in logs if log["event"] == "parser.unknown_shape"]
    assert entry["body"].startswith('{"mystery":"xxx')
    assert len(entry["body"]) <= 501


def test_a_crashing_parser_does_not_stop_the_chain() -> None:
    def broken(payload: object) -> PollResult | None:
        raise KeyError("bug")

    with capture_logs() as logs:
        result = parse_status(load("fal_result"), parsers=(broken, *PARSERS))
    assert result.parser == "fal_result"
    assert any(log["event"] == "parser.crashed" for log in logs)


def test_the_4k_callback_reports_what_kie_charged() -> None:
    assert parse_status(load("veo_4k_callback_success")).cost == 120.0
