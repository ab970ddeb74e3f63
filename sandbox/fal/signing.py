"""The simulator's webhook signing: an Ed25519 key served as a JWKS, and fal's signature headers over a body."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

SIM_USER_ID = "sim-user"


class WebhookSigner:
    """Signs webhooks as fal does (docs/providers.md, "fal.ai": webhooks)."""

    def __init__(self, key: Ed25519PrivateKey | None = None, *, kid: str = "fal-sim-1") -> None:
        self._key = key or Ed25519PrivateKey.generate()
        self.kid = kid

    def jwks(self) -> dict[str, Any]:
        """The public key as fal's JWKS serves it (OKP / Ed25519, ``x`` base64url without padding)."""
        raw = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": self.kid, "use": "sig", "alg": "EdDSA"}]}

    def headers(
        self, request_id: str, body: bytes, *, timestamp: int | None = None, user_id: str = SIM_USER_ID
    ) -> dict[str, str]:
        """The four ``X-Fal-Webhook-*`` headers for ``body``."""
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        message = "\n".join([request_id, user_id, stamp, hashlib.sha256(body).hexdigest()]).encode()
        return {
            "X-Fal-Webhook-Request-Id": request_id,
            "X-Fal-Webhook-User-Id": user_id,
            "X-Fal-Webhook-Timestamp": stamp,
            "X-Fal-Webhook-Signature": self._key.sign(message).hex(),
        }
