"""fal.ai webhook signatures (docs/providers.md, "fal.ai": webhooks).

fal signs ``request_id + "\\n" + user_id + "\\n" + timestamp + "\\n" + hex(sha256(body))`` with Ed25519 and sends the
hex signature in ``X-Fal-Webhook-Signature`` next to the three values' own headers; its public keys are a JWKS
(``providers.fal.jwks_url``, OKP / Ed25519, ``x`` base64url). Keys are cached for at most 24 h, and fetched again
early (at most every 5 minutes) when no cached key verifies a signature, so a rotation is picked up.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress

import aiohttp
import structlog
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from outbound import Network, OutboundError, UntrustedGets

log = structlog.get_logger(__name__)

HEADER_PREFIX = "x-fal-webhook-"
TOLERANCE_S = 300.0  # fal: accept timestamps within ±5 minutes
KEYS_MAX_AGE_S = 24 * 3600.0  # fal: cache the JWKS for at most 24 h
REFETCH_AFTER_S = 300.0  # an unknown key refetches the JWKS, at most this often
MAX_JWKS_BYTES = 64 * 1024

FetchJwks = Callable[[], Awaitable[bytes]]


class KeysUnavailable(Exception):
    """The JWKS could not be fetched or read: nothing can be verified now (fal retries the webhook)."""


class FalSignatures:
    """Verifies fal webhook signatures against the cached JWKS. ``clock`` is Unix time (tests move it)."""

    def __init__(self, fetch_jwks: FetchJwks, *, clock: Callable[[], float] = time.time) -> None:
        self._fetch = fetch_jwks
        self._clock = clock
        self._keys: list[Ed25519PublicKey] = []
        self._fetched_at: float | None = None
        self._refreshing = asyncio.Lock()  # a burst of webhooks fetches the JWKS once

    async def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether ``headers`` carry a fresh, valid signature of ``body``; raise :class:`KeysUnavailable`."""
        values = [headers.get(f"{HEADER_PREFIX}{name}") for name in ("request-id", "user-id", "timestamp")]
        signature_hex = headers.get(f"{HEADER_PREFIX}signature")
        request_id, user_id, timestamp = values
        if not request_id or not user_id or not timestamp or not signature_hex:
            return False
        try:
            stamp = int(timestamp)
            signature = bytes.fromhex(signature_hex)
        except ValueError:
            return False
        if abs(self._clock() - stamp) > TOLERANCE_S:
            return False  # stale or from the future: a replay
        message = "\n".join([request_id, user_id, timestamp, hashlib.sha256(body).hexdigest()]).encode()
        if _any_verifies(await self._current_keys(), signature, message):
            return True
        if self._fetched_at is not None and self._clock() - self._fetched_at >= REFETCH_AFTER_S:
            return _any_verifies(await self._refresh(), signature, message)  # fal may have rotated its key
        return False

    async def _current_keys(self) -> list[Ed25519PublicKey]:
        if self._fetched_at is None or self._clock() - self._fetched_at >= KEYS_MAX_AGE_S:
            return await self._refresh()
        return self._keys

    async def _refresh(self) -> list[Ed25519PublicKey]:
        fetched_before = self._fetched_at
        async with self._refreshing:
            if self._fetched_at != fetched_before:
                return self._keys  # another webhook fetched them while this one waited
            keys = parse_jwks(await self._fetch())
            if not keys:
                raise KeysUnavailable("the JWKS holds no Ed25519 key")
            self._keys, self._fetched_at = keys, self._clock()
        log.info("fal.jwks_fetched", keys=len(keys))
        return keys


def parse_jwks(raw: bytes) -> list[Ed25519PublicKey]:
    """The Ed25519 keys of a JWKS document (others are skipped); :class:`KeysUnavailable` when it is not one."""
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise KeysUnavailable("the JWKS is not JSON") from exc
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise KeysUnavailable("the JWKS has no keys list")
    keys = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519":
            continue
        x = entry.get("x")
        if not isinstance(x, str):
            continue
        with suppress(binascii.Error, ValueError):
            keys.append(Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))))
    return keys


def _any_verifies(keys: list[Ed25519PublicKey], signature: bytes, message: bytes) -> bool:
    for key in keys:
        try:
            key.verify(signature, message)
        except InvalidSignature:
            continue
        return True
    return False


def jwks_fetcher(url: str, network: Network, timeout_s: float) -> tuple[FetchJwks, Callable[[], Awaitable[None]]]:
    """Fetch the JWKS through the outbound policy (proxy, address checks, header limits), at most 64 KiB; and the
    close of its client."""
    gets = UntrustedGets(
        network.proxies,
        network.addresses,
        timeout=aiohttp.ClientTimeout(total=timeout_s),
        max_connections=2,
        headers={"Accept": "application/json"},
    )

    async def fetch() -> bytes:
        try:
            response = await gets.get(url)
            try:
                if response.status != 200:
                    raise KeysUnavailable(f"the JWKS answered HTTP {response.status}")
                body = await response.content.read(MAX_JWKS_BYTES + 1)
            finally:
                response.release()
        except (OutboundError, aiohttp.ClientError, TimeoutError) as exc:
            raise KeysUnavailable(f"the JWKS could not be fetched: {type(exc).__name__}") from exc
        if len(body) > MAX_JWKS_BYTES:
            raise KeysUnavailable("the JWKS is too large")
        return body

    return fetch, gets.aclose
