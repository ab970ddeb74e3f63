"""Invoice payloads for credit packs bought with Telegram Stars.

Telegram hands an invoice's payload back, unchanged, in the pre-checkout query and the successful payment. The
payload names the pack, its price and credits as the buyer saw them, and the buyer, and carries a MAC (keyed by a
secret of this deployment) so that nothing but an invoice this bot sent parses: ``r1.<pack>.<user>.<credits>.
<stars>.<mac>``, at most 128 bytes as Telegram requires."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

MAX_PAYLOAD_BYTES = 128
_VERSION = "r1"
_MAC_CHARS = 32  # 128 bits of HMAC-SHA256, hex
PACK_ID = re.compile(r"^[a-z0-9_-]{1,16}$")


@dataclass(frozen=True, slots=True)
class InvoicePayload:
    """What one invoice sells, and to whom."""

    pack_id: str
    user_id: int
    credits: int
    stars: int

    def encode(self, key: bytes) -> str:
        """The payload text, MAC included."""
        if not PACK_ID.match(self.pack_id):
            raise ValueError(f"pack ids are 1-16 of a-z 0-9 _ -, got {self.pack_id!r}")
        body = f"{_VERSION}.{self.pack_id}.{int(self.user_id)}.{int(self.credits)}.{int(self.stars)}"
        text = f"{body}.{_mac(key, body)}"
        if len(text.encode()) > MAX_PAYLOAD_BYTES:
            raise ValueError("an invoice payload must fit in 128 bytes")
        return text

    @classmethod
    def parse(cls, text: str, key: bytes) -> InvoicePayload | None:
        """The payload, or None for anything this deployment did not sign (or that is malformed)."""
        if len(text.encode()) > MAX_PAYLOAD_BYTES:
            return None
        body, _, mac = text.rpartition(".")
        if not body or not hmac.compare_digest(mac, _mac(key, body)):
            return None
        parts = body.split(".")
        if len(parts) != 5 or parts[0] != _VERSION or not PACK_ID.match(parts[1]):
            return None
        try:
            user_id, credits, stars = int(parts[2]), int(parts[3]), int(parts[4])
        except ValueError:
            return None
        if credits <= 0 or stars <= 0:
            return None
        return cls(parts[1], user_id, credits, stars)


def payload_key(secret: str) -> bytes:
    """The MAC key for invoice payloads, derived from a secret of the deployment (the bot token)."""
    return hashlib.sha256(b"reelay-invoice-payload:" + secret.encode()).digest()


def _mac(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()[:_MAC_CHARS]
