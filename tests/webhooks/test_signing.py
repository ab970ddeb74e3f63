"""Standard Webhooks signing against the spec's published test vector, and the receiver's check."""

from __future__ import annotations

import base64

import pytest

from webhooks.signing import (
    InvalidSecret,
    VerificationFailed,
    new_secret,
    secret_key,
    signature,
    signed_headers,
    verify,
)

# The vector of the reference libraries' tests (standard-webhooks/standard-webhooks,
# libraries/go/webhook_test.go, TestWebhookSign; the same in the other languages' tests).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_published_vector() -> None:
    assert signature(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_signed_headers_carry_id_timestamp_and_vector_signature() -> None:
    headers = signed_headers(VECTOR_SECRET, VECTOR_ID, VECTOR_BODY, now=VECTOR_TIMESTAMP + 0.9)
    assert headers == {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }


def _vector_headers(signatures: str = VECTOR_SIGNATURE) -> dict[str, str]:
    return {"Webhook-Id": VECTOR_ID, "Webhook-Timestamp": str(VECTOR_TIMESTAMP), "Webhook-Signature": signatures}


def test_verify_accepts_the_vector_within_tolerance() -> None:
    verify(VECTOR_SECRET, _vector_headers(), VECTOR_BODY, now=VECTOR_TIMESTAMP + 299)
    verify(VECTOR_SECRET, _vector_headers(), VECTOR_BODY, now=VECTOR_TIMESTAMP - 299)


def test_verify_accepts_one_good_signature_among_several() -> None:
    wrong = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
    several = f"{wrong} v2,{VECTOR_SIGNATURE[3:]} {VECTOR_SIGNATURE} {wrong}"
    verify(VECTOR_SECRET, _vector_headers(several), VECTOR_BODY, now=VECTOR_TIMESTAMP)


@pytest.mark.parametrize(
    ("headers", "body", "now"),
    [
        (_vector_headers(), b'{"test": 2432232315}', VECTOR_TIMESTAMP),  # body changed
        (_vector_headers("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="), VECTOR_BODY, VECTOR_TIMESTAMP),
        (_vector_headers("v2," + VECTOR_SIGNATURE[3:]), VECTOR_BODY, VECTOR_TIMESTAMP),  # right bytes, wrong version
        (_vector_headers(), VECTOR_BODY, VECTOR_TIMESTAMP + 301),  # too old
        (_vector_headers(), VECTOR_BODY, VECTOR_TIMESTAMP - 301),  # from the future
        ({**_vector_headers(), "Webhook-Id": "msg_other"}, VECTOR_BODY, VECTOR_TIMESTAMP),
        ({"webhook-id": VECTOR_ID, "webhook-signature": VECTOR_SIGNATURE}, VECTOR_BODY, VECTOR_TIMESTAMP),
        ({**_vector_headers(), "Webhook-Timestamp": "soon"}, VECTOR_BODY, VECTOR_TIMESTAMP),
    ],
)
def test_verify_refuses_tampered_stale_or_incomplete_requests(headers: dict[str, str], body: bytes, now: float) -> None:
    with pytest.raises(VerificationFailed):
        verify(VECTOR_SECRET, headers, body, now=now)


def test_verify_refuses_another_secret() -> None:
    with pytest.raises(VerificationFailed):
        verify(new_secret(), _vector_headers(), VECTOR_BODY, now=VECTOR_TIMESTAMP)


def test_new_secret_is_whsec_and_32_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_")
    assert first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
    assert len(secret_key(first)) == 32
    body = b'{"type":"job.created"}'
    verify(first, signed_headers(first, "msg_1", body), body)


@pytest.mark.parametrize("secret", ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not*base64!", "whsec_c2hvcnQ="])
def test_malformed_secrets_are_refused_without_quoting_them(secret: str) -> None:
    with pytest.raises(InvalidSecret) as caught:
        secret_key(secret)
    assert secret.removeprefix("whsec_") not in str(caught.value)
