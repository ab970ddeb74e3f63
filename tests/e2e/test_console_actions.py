"""The console's actions on a whole Reelay (real Redis, Telegram and KIE stand-ins, S3), over real HTTP: cancel,
re-run a failed delivery, refund; each once, each confirmed, each logged with the operator's address."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from structlog.testing import capture_logs

from poller.errors import ErrorCode
from poller.jobs import JobStatus
from sandbox.fal import FalScenario
from tests.e2e.conftest import ALICE, SettingsFactory, bot_messages, videos_in, wait_for_job_status
from tests.e2e.console_support import TOKEN, Console, console_settings, signed_in, wait_for
from tests.fixtures.fal import FalStandIn
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.e2e
PRICE = 10  # veo3_fast, 8 s (the default prices)


@pytest.fixture
async def console(make_settings: SettingsFactory) -> AsyncIterator[Console]:
    # One delivery try: a download fault fails the delivery at once.
    async with signed_in(console_settings(make_settings, poll={"delivery_attempts": 1})) as signed:
        yield signed


async def balance(console: Console) -> int:
    assert console.reelay.credits is not None
    return await console.reelay.credits.balance(ALICE)


async def test_cancel_stops_a_running_job_and_refunds_it_once(console: Console, telegram: TelegramStandIn) -> None:
    telegram.emulator.send_text(ALICE, ALICE, "A slow fox [after=60]")
    job = await wait_for_job_status(console.reelay, ALICE, JobStatus.RUNNING)
    assert await balance(console) == 100 - PRICE

    with capture_logs() as logs:
        first = await console.act(job.id, "cancel")
    second = await console.act(job.id, "cancel")

    assert first == f"Cancelled. Its {PRICE} credits are back with user {ALICE}."
    assert second == "This job can no longer be cancelled: it is cancelled."
    assert (await console.reelay.jobs.get(job.id)).status is JobStatus.CANCELLED
    assert await balance(console) == 100
    (line,) = [line for line in logs if line["event"] == "console.action"]
    assert (line["action"], line["job_id"], line["outcome"], line["address"]) == ("cancel", job.id, "ok", "127.0.0.1")
    assert all(TOKEN not in repr(entry) for entry in logs)


async def test_rerun_delivery_delivers_a_failed_delivery_exactly_once_without_charging(
    console: Console, telegram: TelegramStandIn
) -> None:
    telegram.emulator.send_text(ALICE, ALICE, "A fox behind a broken CDN [download_faults=503]")
    failed = await wait_for_job_status(console.reelay, ALICE, JobStatus.FAILED, timeout=20)
    assert failed.error_code is ErrorCode.DOWNLOAD_FAILED
    assert await balance(console) == 100  # refunded at the failure
    page = await console.client.get(f"/console/jobs/{failed.id}")
    assert 'data-testid="action-rerun"' in page.text

    first = await console.act(failed.id, "rerun-delivery")
    done = await wait_for(console.reelay, failed.id, JobStatus.SUCCEEDED)
    second = await console.act(failed.id, "rerun-delivery")

    assert first.startswith("Delivery started again")
    assert (
        second
        == "The delivery cannot be run again: only a failed job's delivery can be run again; this one is succeeded."
    )
    assert len(videos_in(telegram, ALICE)) == 1
    assert done.late
    assert await balance(console) == 100  # the refund given at the failure stands


async def test_refund_returns_a_jobs_credits_once_then_says_there_is_nothing_to_refund(
    console: Console, telegram: TelegramStandIn
) -> None:
    telegram.emulator.send_text(ALICE, ALICE, "A fox we will refund [after=60]")
    job = await wait_for_job_status(console.reelay, ALICE, JobStatus.RUNNING)

    first = await console.act(job.id, "refund")
    second = await console.act(job.id, "refund")
    cancelled = await console.act(job.id, "cancel")

    assert first == f"Refunded {PRICE} credits to user {ALICE}."
    assert second == "Nothing to refund: the job's credits were already refunded."
    assert cancelled == f"Cancelled. Its {PRICE} credits are back with user {ALICE}."
    assert await balance(console) == 100  # refunded once, whatever came after


async def test_an_action_without_the_form_token_or_the_confirmation_does_nothing(
    console: Console, telegram: TelegramStandIn
) -> None:
    telegram.emulator.send_text(ALICE, ALICE, "A fox nobody cancels [after=60]")
    job = await wait_for_job_status(console.reelay, ALICE, JobStatus.RUNNING)
    csrf = await console.form_token(job.id)

    forged = await console.client.post(f"/console/jobs/{job.id}/cancel", data={"csrf": "forged", "confirm": "yes"})
    unconfirmed = await console.client.post(f"/console/jobs/{job.id}/cancel", data={"csrf": csrf})
    cancel_by_get = await console.client.get(f"/console/jobs/{job.id}/cancel")

    assert forged.status_code == unconfirmed.status_code == 303
    assert cancel_by_get.status_code == 405
    assert (await console.reelay.jobs.get(job.id)).status is JobStatus.RUNNING
    assert await balance(console) == 100 - PRICE
    page = await console.client.get(f"/console/jobs/{job.id}")
    assert "Nothing was done: the action was not confirmed." in page.text
    assert not [m for m in bot_messages(telegram, ALICE) if "cancel" in (m.text or "").lower()]


async def test_cancel_of_a_fal_job_stops_it_at_fal(
    make_settings: SettingsFactory, telegram: TelegramStandIn, fal: FalStandIn
) -> None:
    fal.sim.queue_scenario(FalScenario(queue=1000))
    providers = {"fal": {"queue_url": fal.url, "api_key": fal.api_key, "jwks_url": fal.jwks_url}}
    settings = console_settings(make_settings, providers=providers, defaults={"model": "fal-ai/veo3/fast"})
    async with signed_in(settings) as console:
        telegram.emulator.send_text(ALICE, ALICE, "A slow heron")
        job = await wait_for_job_status(console.reelay, ALICE, JobStatus.RUNNING)

        said = await console.act(job.id, "cancel")

    assert said.startswith("Cancelled.")
    assert [call.path for call in fal.sim.calls_to("PUT")] == [f"/fal-ai/veo3/requests/{job.provider_task_id}/cancel"]
