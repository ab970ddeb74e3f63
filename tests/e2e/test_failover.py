"""Failover end to end: KIE refusing a submit (455 maintenance) moves the job to the configured fallback exactly
once, at the same price; a submit whose outcome is unknown (a timeout after sending) never moves."""

from __future__ import annotations

import pytest

from bot import texts
from poller.errors import ErrorCode
from poller.jobs import JobStatus
from sandbox.kie_simulator import Scenario
from tests.e2e.conftest import ALICE, SettingsFactory, bot_messages, running, videos_in, wait_for_job_status
from tests.fixtures.kie import KieStandIn
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.e2e
FALLBACK = {"veo3_fast": ["veo3_lite", "bytedance/seedance-2"]}
MOVED = texts.failed_over("Veo 3.1 Fast", "kie_veo", "Veo 3.1 Lite")


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
