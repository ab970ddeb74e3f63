"""Failover end to end: KIE refusing a submit (455 maintenance) moves the job to the configured fallback exactly
once, at the same price (to another KIE model, or to fal, and from fal back); a submit whose outcome is unknown (a
timeout after sending) never moves."""

from __future__ import annotations

from typing import Any

import pytest

from bot import texts
from bot.i18n import ENGLISH
from poller.errors import ErrorCode
from poller.jobs import JobStatus
from sandbox.fal import FalScenario
from sandbox.kie_simulator import Scenario
from tests.e2e.conftest import ALICE, SettingsFactory, bot_messages, running, videos_in, wait_for_job_status
from tests.fixtures.fal import FalStandIn
from tests.fixtures.kie import KieStandIn
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.e2e
FALLBACK = {"veo3_fast": ["veo3_lite", "bytedance/seedance-2"]}
MOVED = texts.failed_over(ENGLISH, "Veo 3.1 Fast", "kie_veo", "Veo 3.1 Lite")


def status_texts(telegram: TelegramStandIn) -> list[str]:
    """Every text the status message ever showed (first send and each edit)."""
    status = next(m for m in bot_messages(telegram, ALICE) if m.text and m.text.startswith(texts.GENERATING))
    return [*(version.text or "" for version in status.history), status.text or ""]


async def test_kie_maintenance_fails_over_once_at_the_same_price(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    kie.sim.queue_scenario(Scenario(submit_fault="455"))
    settings = make_settings(failover=FALLBACK, credits={"enabled": True, "initial_balance": 50})
    async with running(settings) as reelay:
        telegram.emulator.send_text(ALICE, ALICE, "a kite over the dunes")
        done = await wait_for_job_status(reelay, ALICE, JobStatus.SUCCEEDED)
        await telegram.emulator.wait_for_async(lambda: len(videos_in(telegram, ALICE)) == 1, what="the video")

        assert [sent["model"] for sent in kie.sim.submissions] == ["veo3_fast", "veo3_lite"]
        assert (done.model, done.requested_model, done.provider) == ("veo3_lite", "veo3_fast", "kie_veo")
        assert [(step.model, step.error) for step in done.refused_submits] == [("veo3_fast", "provider_unavailable")]
        assert done.cost == 10, "the price of the model asked for"
        assert reelay.credits is not None
        assert await reelay.credits.balance(ALICE) == 40
        assert sum(MOVED in text for text in status_texts(telegram)) >= 1
        assert len(videos_in(telegram, ALICE)) == 1


async def test_a_timeout_after_sending_never_fails_over(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    kie.sim.hang_s = 5
    kie.sim.queue_scenario(Scenario(submit_fault="timeout"))
    settings = make_settings(
        failover=FALLBACK, providers={"kie": {"base_url": kie.url, "api_key": kie.api_key, "timeout_s": 0.5}}
    )
    async with running(settings) as reelay:
        telegram.emulator.send_text(ALICE, ALICE, "a kite over the dunes")
        done = await wait_for_job_status(reelay, ALICE, JobStatus.FAILED)

        assert [sent["model"] for sent in kie.sim.submissions] == ["veo3_fast"]
        assert (done.model, done.requested_model, done.refused_submits) == ("veo3_fast", None, ())
        assert done.error_code is ErrorCode.PROVIDER_ERROR


FAL_FALLBACK = {"veo3_fast": ["fal-ai/veo3/fast"]}


def fal_section(fal: FalStandIn) -> dict[str, Any]:
    return {"fal": {"queue_url": fal.url, "api_key": fal.api_key, "jwks_url": fal.jwks_url, "timeout_s": 5}}


async def test_kie_maintenance_fails_over_to_fal_exactly_once(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn, fal: FalStandIn
) -> None:
    kie.sim.queue_scenario(Scenario(submit_fault="455"))
    settings = make_settings(
        failover=FAL_FALLBACK,
        providers=fal_section(fal),
        credits={"enabled": True, "initial_balance": 50},
    )
    async with running(settings) as reelay:
        telegram.emulator.send_text(ALICE, ALICE, "a kite over the dunes")
        done = await wait_for_job_status(reelay, ALICE, JobStatus.SUCCEEDED)
        await telegram.emulator.wait_for_async(lambda: len(videos_in(telegram, ALICE)) == 1, what="the video")
        assert reelay.credits is not None
        balance = await reelay.credits.balance(ALICE)

    assert [sent["model"] for sent in kie.sim.submissions] == ["veo3_fast"]
    assert [call.path for call in fal.sim.calls_to("POST")] == ["/fal-ai/veo3/fast"]
    assert (done.model, done.requested_model, done.provider) == ("fal-ai/veo3/fast", "veo3_fast", "fal")
    assert [(step.model, step.provider) for step in done.refused_submits] == [("veo3_fast", "kie_veo")]
    assert (done.cost, balance) == (10, 40), "the user pays the price of the model asked for"
    moved = texts.failed_over(ENGLISH, "Veo 3.1 Fast", "kie_veo", "Veo 3 Fast · fal")
    assert sum(moved in text for text in status_texts(telegram)) >= 1


async def test_a_timeout_after_sending_never_fails_over_to_fal(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn, fal: FalStandIn
) -> None:
    kie.sim.hang_s = 5
    kie.sim.queue_scenario(Scenario(submit_fault="timeout"))
    settings = make_settings(
        failover=FAL_FALLBACK,
        providers={"kie": {"base_url": kie.url, "api_key": kie.api_key, "timeout_s": 0.5}, **fal_section(fal)},
    )
    async with running(settings) as reelay:
        telegram.emulator.send_text(ALICE, ALICE, "a kite over the dunes")
        done = await wait_for_job_status(reelay, ALICE, JobStatus.FAILED)

    assert [sent["model"] for sent in kie.sim.submissions] == ["veo3_fast"]
    assert fal.sim.calls == [], "the outcome at KIE is unknown: a second submit could charge twice"
    assert (done.model, done.refused_submits) == ("veo3_fast", ())


async def test_fal_refusing_a_submit_is_refused_and_fails_over_back_to_kie(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn, fal: FalStandIn
) -> None:
    fal.sim.queue_scenario(FalScenario(submit_fault=503))
    settings = make_settings(
        failover={"fal-ai/veo3/fast": ["veo3_fast"]}, providers=fal_section(fal), defaults={"model": "fal-ai/veo3/fast"}
    )
    async with running(settings) as reelay:
        telegram.emulator.send_text(ALICE, ALICE, "a kite over the dunes")
        done = await wait_for_job_status(reelay, ALICE, JobStatus.SUCCEEDED)

    assert len(fal.sim.calls_to("POST")) == 1, "fal's 503 moves the job on at once"
    assert [sent["model"] for sent in kie.sim.submissions] == ["veo3_fast"]
    assert (done.model, done.provider) == ("veo3_fast", "kie_veo")
