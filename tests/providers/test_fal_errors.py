"""fal's HTTP statuses and error types onto the taxonomy."""

from __future__ import annotations

import pytest

from poller.errors import ErrorCode
from providers.fal_errors import normalize_fal_error, result_failure


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (422, {"detail": [{"loc": ["body", "prompt"], "msg": "field required", "type": "missing"}]}, "invalid_input"),
        (422, {"detail": [{"msg": "flagged", "type": "content_policy_violation"}]}, "moderation_rejected"),
        (429, {"detail": "limit", "error_type": "concurrent_requests_limit"}, "rate_limited"),
        (503, {"detail": "unavailable"}, "provider_unavailable"),
        (504, {"detail": "timed out", "error_type": "request_timeout"}, "provider_unavailable"),
        (504, {"detail": "slow start", "error_type": "startup_timeout"}, "provider_unavailable"),
        (500, {"detail": "boom", "error_type": "runner_server_error"}, "provider_unavailable"),
        (500, {"detail": "upstream", "error_type": "downstream_service_error"}, "provider_unavailable"),
        (504, {"detail": "too long", "error_type": "generation_timeout"}, "provider_unavailable"),
        (401, {"detail": "Invalid authentication credentials"}, "provider_error"),
        (404, {"detail": "Application not found"}, "provider_error"),
        (502, "<html>bad gateway</html>", "provider_unavailable"),
    ],
)
def test_http_errors_map_onto_the_taxonomy(status: int, body: object, code: str) -> None:
    assert normalize_fal_error(status, body).code is ErrorCode(code)


def test_only_503_means_fal_is_down() -> None:
    assert normalize_fal_error(503, {}).provider_down
    assert not normalize_fal_error(429, {}).provider_down
    assert not normalize_fal_error(500, {}).provider_down


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"error": "nsfw", "error_type": "content_policy_violation"}, "moderation_rejected"),
        ({"error": "took too long", "error_type": "generation_timeout"}, "provider_unavailable"),
        ({"error": "runner died", "error_type": "runner_disconnected"}, "provider_unavailable"),
        ({"error": "cancelled", "error_type": "client_cancelled"}, "cancelled"),
        ({"error": "the model could not make it"}, "provider_error"),
    ],
)
def test_a_completed_request_with_an_error_is_a_failure_of_its_type(body: dict[str, object], code: str) -> None:
    error = result_failure(body)

    assert error.code is ErrorCode(code)
    assert error.raw.startswith("task failed")
