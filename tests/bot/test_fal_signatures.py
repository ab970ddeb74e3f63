"""fal webhook signatures: fresh and valid ones pass; wrong keys, tampered bodies, stale or missing headers do not;
the keys are cached (at most 24 h) and fetched through the outbound policy; the route answers 401 or pokes the job."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import httpx
import pytest
from starlette.routing import Route

from bot.http.callbacks import callback_routes
from bot.http.fal_signatures import (
    KEYS_MAX_AGE_S,
    REFETCH_AFTER_S,
    TOLERANCE_S,
    FalSignatures,
    KeysUnavailable,
    jwks_fetcher,
)
from outbound import Network
from poller.worker import POKE
from sandbox.fal import WebhookSigner
from tests.bot.test_http_server import serving
from tests.fixtures.fal import FalStandIn

NOW = 1_800_000_000.0
BODY = json.dumps({"request_id": "req-1", "status": "OK", "payload": {"video": {"url": "https://x/v.mp4"}}}).encode()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class Jwks:
    """Serves a signer's JWKS and counts the fetches."""

    def __init__(self, signer: WebhookSigner) -> None:
        self.signer = signer
        self.fetches = 0

    async def __call__(self) -> bytes:
        self.fetches += 1
        return json.dumps(self.signer.jwks()).encode()


def headers(signer: WebhookSigner, body: bytes = BODY, at: float = NOW) -> dict[str, str]:
    return {name.lower(): value for name, value in signer.headers("req-1", body, timestamp=int(at)).items()}


@pytest.fixture
def signer() -> WebhookSigner:
    return WebhookSigner()


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def test_a_fresh_valid_signature_verifies(signer: WebhookSigner, clock: Clock) -> None:
    assert await FalSignatures(Jwks(signer), clock=clock).verify(headers(signer), BODY)


async def test_a_signature_by_another_key_does_not(signer: WebhookSigner, clock: Clock) -> None:
    assert not await FalSignatures(Jwks(signer), clock=clock).verify(headers(WebhookSigner()), BODY)


async def test_a_tampered_body_does_not(signer: WebhookSigner, clock: Clock) -> None:
    assert not await FalSignatures(Jwks(signer), clock=clock).verify(headers(signer), BODY + b" ")


@pytest.mark.parametrize("skew", [TOLERANCE_S + 1, -(TOLERANCE_S + 1)])
async def test_a_stale_or_future_timestamp_does_not(signer: WebhookSigner, clock: Clock, skew: float) -> None:
    verifier = FalSignatures(Jwks(signer), clock=clock)

    assert not await verifier.verify(headers(signer, at=NOW - skew), BODY)
    assert await verifier.verify(headers(signer, at=NOW - skew / 2), BODY), "within the tolerance it passes"


@pytest.mark.parametrize("missing", ["request-id", "user-id", "timestamp", "signature"])
async def test_a_missing_header_does_not(signer: WebhookSigner, clock: Clock, missing: str) -> None:
    signed = headers(signer)
    del signed[f"x-fal-webhook-{missing}"]

    assert not await FalSignatures(Jwks(signer), clock=clock).verify(signed, BODY)


async def test_a_signature_that_is_not_hex_does_not(signer: WebhookSigner, clock: Clock) -> None:
    signed = headers(signer) | {"x-fal-webhook-signature": "not-hex"}

    assert not await FalSignatures(Jwks(signer), clock=clock).verify(signed, BODY)


async def test_the_keys_are_cached_for_at_most_a_day(signer: WebhookSigner, clock: Clock) -> None:
    jwks = Jwks(signer)
    verifier = FalSignatures(jwks, clock=clock)

    for _ in range(3):
        assert await verifier.verify(headers(signer), BODY)
    assert jwks.fetches == 1

    clock.now += KEYS_MAX_AGE_S
    assert await verifier.verify(headers(signer, at=clock.now), BODY)
    assert jwks.fetches == 2


async def test_a_rotated_key_is_fetched_again_but_not_on_every_bad_signature(
    signer: WebhookSigner, clock: Clock
) -> None:
    jwks = Jwks(signer)
    verifier = FalSignatures(jwks, clock=clock)
    assert await verifier.verify(headers(signer), BODY)
    rotated = WebhookSigner()
    jwks.signer = rotated

    assert not await verifier.verify(headers(rotated), BODY), "too soon to refetch"
    assert jwks.fetches == 1
    clock.now += REFETCH_AFTER_S
    assert await verifier.verify(headers(rotated, at=clock.now), BODY)
    assert jwks.fetches == 2


async def test_a_jwks_without_ed25519_keys_means_nothing_can_be_verified(signer: WebhookSigner, clock: Clock) -> None:
    async def rsa_only() -> bytes:
        return json.dumps({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}).encode()

    with pytest.raises(KeysUnavailable):
        await FalSignatures(rsa_only, clock=clock).verify(headers(signer), BODY)


def test_the_simulator_serves_its_key_as_fal_does(signer: WebhookSigner) -> None:
    [key] = signer.jwks()["keys"]

    assert (key["kty"], key["crv"]) == ("OKP", "Ed25519")
    assert len(base64.urlsafe_b64decode(key["x"] + "=")) == 32


@pytest.mark.integration
async def test_the_jwks_is_fetched_through_the_address_checks(fal: FalStandIn) -> None:
    allowed, close_allowed = jwks_fetcher(
        fal.jwks_url, Network.configure(proxy_url=None, allow_private_addresses=True), 2
    )
    refused, close_refused = jwks_fetcher(
        fal.jwks_url, Network.configure(proxy_url=None, allow_private_addresses=False), 2
    )
    try:
        assert json.loads(await allowed())["keys"][0]["crv"] == "Ed25519"
        with pytest.raises(KeysUnavailable):
            await refused()  # the simulator listens on loopback: refused like any private address
    finally:
        await close_allowed()
        await close_refused()


class KnownToken:
    async def job_for(self, token: str) -> str | None:
        return "job-1" if token == "tok" else None


class Events:
    def __init__(self) -> None:
        self.published: list[tuple[str, str]] = []

    async def publish(self, kind: str, job_id: str = "") -> None:
        self.published.append((kind, job_id))


@pytest.mark.integration
async def test_the_route_pokes_the_job_only_for_a_signed_callback(signer: WebhookSigner) -> None:
    events = Events()
    routes: Callable[..., list[Route]] = callback_routes
    verifier = FalSignatures(Jwks(signer))
    async with serving(routes(KnownToken(), events, fal=verifier)) as port, httpx.AsyncClient() as client:
        url = f"http://127.0.0.1:{port}/callbacks/fal/tok"
        unsigned = await client.post(url, content=BODY)
        forged = await client.post(url, content=BODY, headers=signer.headers("req-1", b"other body"))
        signed = await client.post(url, content=BODY, headers=signer.headers("req-1", BODY))

    assert (unsigned.status_code, forged.status_code, signed.status_code) == (401, 401, 200)
    assert events.published == [(POKE, "job-1")]


@pytest.mark.integration
async def test_without_fal_configured_there_is_no_fal_route() -> None:
    routes: Callable[..., list[Route]] = callback_routes
    async with serving(routes(KnownToken(), Events())) as port, httpx.AsyncClient() as client:
        answer = await client.post(f"http://127.0.0.1:{port}/callbacks/fal/tok", content=BODY)

    assert answer.status_code in (404, 405)
