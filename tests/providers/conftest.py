"""Fixtures for provider tests: a real API client and the adapters pointed at the KIE simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from providers.api_client import ApiClient
from providers.kie_market import KieMarketProvider
from providers.kie_veo import KieVeoProvider
from tests.fixtures.kie import KieStandIn


@pytest.fixture
async def api_client() -> AsyncIterator[ApiClient]:
    """A client built like production's, with timeouts short enough for fast failure tests."""
    client = ApiClient(timeout_s=2.0, max_connections=10)
    yield client
    await client.aclose()


@pytest.fixture
def veo(api_client: ApiClient, kie: KieStandIn) -> KieVeoProvider:
    """The Veo adapter talking to the simulator."""
    return KieVeoProvider(api_client, kie.url, kie.api_key)


@pytest.fixture
def market(api_client: ApiClient, kie: KieStandIn) -> KieMarketProvider:
    """The Market adapter talking to the simulator."""
    return KieMarketProvider(api_client, kie.url, kie.api_key)


@pytest.fixture(autouse=True)
def _made_up_image_urls(request: pytest.FixtureRequest) -> None:
    """These tests check request shapes with made-up image URLs (img.example): the simulator must not fetch them.
    The fetch itself is tested in tests/sandbox/test_kie_inputs.py and end to end in tests/e2e/test_photos.py."""
    if "kie" in request.fixturenames:
        kie: KieStandIn = request.getfixturevalue("kie")
        kie.sim.fetch_images = False
