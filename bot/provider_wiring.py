"""Builds the provider adapters the settings configure: KIE (Veo and the Market) always, fal.ai when
``[providers.fal]`` is set. Each provider gets its own :class:`ApiClient` with its own timeout and route."""

from __future__ import annotations

from typing import Any

from bot.http.fal_signatures import FalSignatures, jwks_fetcher
from bot.settings import Settings
from outbound import Network
from poller.jobs import Job
from poller.ports import VideoProvider
from providers.api_client import ApiClient
from providers.fal import FalProvider
from providers.kie_market import KieMarketProvider
from providers.kie_veo import KieVeoProvider
from providers.registry import ProviderRegistry

# fal's account limit is 2 to 40 requests at once, and its polls are few: a small pool does.
FAL_MAX_CONNECTIONS = 10


def build_providers(settings: Settings, network: Network) -> ProviderRegistry:
    """The registry of every configured adapter (closing it closes their clients)."""
    kie = settings.providers.kie
    # A provider's base URL is operator configuration: a proxy may apply, the address check does not.
    kie_client = ApiClient(kie.timeout_s, kie.max_connections, proxy=network.proxy_for(kie.base_url))
    key = kie.api_key.get_secret_value()
    providers: list[VideoProvider] = [
        KieVeoProvider(kie_client, kie.base_url, key),
        KieMarketProvider(kie_client, kie.base_url, key),
    ]
    fal = settings.providers.fal
    if fal is not None:
        fal_client = ApiClient(fal.timeout_s, FAL_MAX_CONNECTIONS, proxy=network.proxy_for(fal.queue_url))
        providers.append(FalProvider(fal_client, fal.queue_url, fal.api_key.get_secret_value()))
    return ProviderRegistry(providers)


def callback_path(job: Job) -> str:
    """Where the job's provider calls back, under ``http.public_url``: ``/callbacks/fal`` or ``/callbacks/kie``."""
    return "/callbacks/fal" if job.provider == "fal" else "/callbacks/kie"


def build_fal_signatures(settings: Settings, network: Network, closers: list[Any]) -> FalSignatures | None:
    """The verifier of fal's webhook signatures when providers.fal is set (its JWKS client's close goes on
    ``closers``); None otherwise."""
    fal = settings.providers.fal
    if fal is None:
        return None
    fetch, close = jwks_fetcher(fal.jwks_url, network, fal.timeout_s)
    closers.append(close)
    return FalSignatures(fetch)
