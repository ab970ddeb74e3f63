"""Fixtures for provider tests: a real httpx client and the adapters pointed at the KIE simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from providers.http import make_http_client
from providers.kie_market import KieMarketProvider
from providers.kie_veo import KieVeoProvider
from tests.fixtures.kie import KieStandIn


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    """A client built like production's, with timeouts short enough for fast failure tests."""
    client = make_http_client(timeout_s=2.0, max_connections=10)
    yield client
    await client.aclose()


@pytest.fixture
def veo(http_client: httpx.AsyncClient, kie: KieStandIn) -> KieVeoProvider:
    """The Veo adapter talking to the simulator."""
    return KieVeoProvider(http_client, kie.url, kie.api_key)


@pytest.fixture
def market(http_client: httpx.AsyncClient, kie: KieStandIn) -> KieMarketProvider:
    """The Market adapter talking to the simulator."""
    return KieMarketProvider(http_client, kie.url, kie.api_key)
