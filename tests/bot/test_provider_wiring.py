"""The provider adapters the settings configure, and where each provider calls back."""

from __future__ import annotations

from pathlib import Path

from bot.provider_wiring import build_fal_signatures, build_providers, callback_path
from bot.settings import load_settings
from outbound import Network
from poller.jobs import Job
from tests.bot.test_settings import MINIMAL, write

FAL = '[providers.fal]\napi_key = "fal-secret"\n'
NETWORK = Network.configure(proxy_url=None, allow_private_addresses=False)


async def test_fal_is_wired_only_when_configured(tmp_path: Path) -> None:
    without = build_providers(load_settings(write(tmp_path, MINIMAL)), NETWORK)
    with_fal = build_providers(load_settings(write(tmp_path, MINIMAL + FAL)), NETWORK)
    try:
        assert [provider.name for provider in without] == ["kie_veo", "kie_market"]
        assert [provider.name for provider in with_fal] == ["kie_veo", "kie_market", "fal"]
        assert with_fal.for_model("fal-ai/veo3/fast").name == "fal"
        assert with_fal.for_model("veo3_fast").name == "kie_veo"
    finally:
        await without.aclose()
        await with_fal.aclose()


async def test_the_webhook_verifier_exists_only_with_fal(tmp_path: Path) -> None:
    closers: list[object] = []

    assert build_fal_signatures(load_settings(write(tmp_path, MINIMAL)), NETWORK, closers) is None
    assert build_fal_signatures(load_settings(write(tmp_path, MINIMAL + FAL)), NETWORK, closers) is not None
    assert len(closers) == 1


def test_each_provider_calls_back_on_its_own_path() -> None:
    job = Job(id="j1", user_id=1, chat_id=1, model="fal-ai/veo3/fast", prompt="p", provider="fal")

    assert callback_path(job) == "/callbacks/fal"
    assert callback_path(job.replace(model="veo3_fast", provider="kie_veo")) == "/callbacks/kie"
