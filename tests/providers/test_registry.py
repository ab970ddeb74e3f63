"""The provider registry: lookups by model and by name, and closing."""

from __future__ import annotations

import pytest

from poller.errors import ErrorCode, JobError
from providers.api_client import ApiClient
from providers.kie_market import KieMarketProvider
from providers.kie_veo import KieVeoProvider
from providers.registry import ProviderRegistry


@pytest.fixture
def registry(api_client: ApiClient) -> ProviderRegistry:
    base = "http://127.0.0.1:9"
    return ProviderRegistry([KieVeoProvider(api_client, base, "k"), KieMarketProvider(api_client, base, "k")])


@pytest.mark.parametrize(
    ("model", "name"),
    [("veo3", "kie_veo"), ("veo3_fast", "kie_veo"), ("sora-2-text-to-video", "kie_market")],
)
def test_for_model_finds_the_serving_adapter(registry: ProviderRegistry, model: str, name: str) -> None:
    assert registry.for_model(model).name == name


def test_for_model_without_an_adapter_is_invalid_input(registry: ProviderRegistry) -> None:
    with pytest.raises(JobError) as caught:
        registry.for_model("fal-ai/kling")
    assert caught.value.code is ErrorCode.INVALID_INPUT


def test_by_name(registry: ProviderRegistry) -> None:
    assert registry.by_name("kie_market").name == "kie_market"
    with pytest.raises(JobError) as caught:
        registry.by_name("fal")
    assert caught.value.code is ErrorCode.PROVIDER_ERROR


def test_names_must_be_unique(api_client: ApiClient) -> None:
    with pytest.raises(ValueError, match="kie_veo"):
        ProviderRegistry([KieVeoProvider(api_client, "http://x", "k"), KieVeoProvider(api_client, "http://x", "k")])


async def test_aclose_closes_every_adapter_once_even_on_a_shared_client() -> None:
    shared = ApiClient(timeout_s=1.0, max_connections=2)
    registry = ProviderRegistry(
        [KieVeoProvider(shared, "http://127.0.0.1:9", "k"), KieMarketProvider(shared, "http://127.0.0.1:9", "k")]
    )
    await registry.aclose()
    assert shared.closed
    assert [provider.name for provider in registry] == ["kie_veo", "kie_market"]
