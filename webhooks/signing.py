"""Standard Webhooks signatures (https://www.standardwebhooks.com/): how Reelay signs what it sends and how a
receiver checks it.

Three headers travel with every signed POST: ``webhook-id`` (the event's id, the same on every retry, so a
receiver deduplicates by it), ``webhook-timestamp`` (Unix seconds of this attempt) and ``webhook-signature``
(``v1,`` + base64 of HMAC-SHA256 over ``"{id}.{timestamp}.{body}"``, keyed with the base64-decoded part of the
``whsec_`` secret after its prefix). The signature covers the timestamp, so a captured request cannot be replayed
outside the tolerance window.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
TOLERANCE_S = 5 * 60
HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"


class InvalidSecret(ValueError):
    """A signing secret that is not ``whsec_`` followed by base64 (the message never quotes the secret)."""


class VerificationFailed(ValueError):
    """A request whose signature headers are missing, stale or do not match its body."""


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret; :class:`InvalidSecret` when it is malformed."""
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidSecret(f"a signing secret starts with {SECRET_PREFIX}")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSecret(f"the part after {SECRET_PREFIX} must be base64") from None
    # The spec asks for 24 to 64 bytes; shorter keys are guessable.
    if not 24 <= len(key) <= 64:
        raise InvalidSecret(f"the part after {SECRET_PREFIX} must decode to 24-64 bytes")
    return key


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,<base64>`` signature of one request."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(secret: str, msg_id: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers for sending ``body`` as event ``msg_id`` now."""
    timestamp = int(time.time() if now is None else now)
    return {
        HEADER_ID: msg_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: signature(secret, msg_id, timestamp, body),
    }


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: float | None = None, tolerance_s: int = TOLERANCE_S
) -> None:
    """Check a received request; raise :class:`VerificationFailed` unless one of its ``v1`` signatures matches and
    its timestamp is within ``tolerance_s`` of ``now``. ``headers`` is looked up case-insensitively."""
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get(HEADER_ID)
    stamp = lowered.get(HEADER_TIMESTAMP)
    offered = lowered.get(HEADER_SIGNATURE)
    if not msg_id or not stamp or not offered:
        raise VerificationFailed("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise VerificationFailed("webhook-timestamp is not an integer") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise VerificationFailed("webhook-timestamp is outside the tolerance")
    expected = signature(secret, msg_id, timestamp, body).encode()
    # Several signatures may be sent (a secret being rotated); any matching v1 one passes.
    for candidate in offered.split(" "):
        version, _, _ = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(candidate.encode(), expected):
            return
    raise VerificationFailed("no matching signature")
