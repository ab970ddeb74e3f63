"""fal.ai end to end against its simulator: a job waits in fal's queue with its place on the status message and is
delivered; /cancel stops it at fal; a signed webhook makes the job poll at once, an unsigned one is refused."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bot import texts
from bot.i18n import ENGLISH
from poller.jobs import JobStatus
from sandbox.fal import FalScenario
from sandbox.serve import free_port
from tests.e2e.conftest import ALICE, SettingsFactory, bot_messages, running, videos_in, wait_for_job_status
from tests.fixtures.fal import FalStandIn
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.e2e
VEO_FAST = "fal-ai/veo3/fast"


def fal_section(fal: FalStandIn) -> dict[str, Any]:
    """``providers.fal`` pointing at the simulator."""
    return {"fal": {"queue_url": fal.url, "api_key": fal.api_key, "jwks_url": fal.jwks_url, "timeout_s": 5}}


def status_texts(telegram: TelegramStandIn) -> list[str]:
    """Every text the status message ever showed (first send and each edit)."""
    status = next(m for m in bot_messages(telegram, ALICE) if m.text and m.text.startswith(texts.GENERATING))
    return [*(version.text or "" for version in status.history), status.text or ""]


async def test_a_fal_job_shows_its_place_in_the_queue_and_is_delivered(
    make_settings: SettingsFactory, telegram: TelegramStandIn, fal: FalStandIn
) -> None:
    fal.sim.queue_scenario(FalScenario(queue=3, running=2))
    settings = make_settings(providers=fal_section(fal), defaults={"model": VEO_FAST})
    async with running(settings) as reelay:
        telegram.emulator.send_text(ALICE, ALICE, "a heron at dawn")
        done = await wait_for_job_status(reelay, ALICE, JobStatus.SUCCEEDED)
        await telegram.emulator.wait_for_async(lambda: len(videos_in(telegram, ALICE)) == 1, what="the video")
        shown = status_texts(telegram)

    assert (done.model, done.provider) == (VEO_FAST, "fal")
    [submit] = fal.sim.calls_to("POST")
    assert submit.path == f"/{VEO_FAST}"
    places = [line for text in shown for line in text.splitlines() if "in the queue" in line]
    assert places, f"no queue place was shown: {shown}"
    # Places only go down (each shown once, as it changed), and the line is gone once the video is made.
    assert places == [
        p
        for p in (texts.queue_place(ENGLISH, 2), texts.queue_place(ENGLISH, 1), texts.queue_place(ENGLISH, 0))
        if p in places
    ]
    assert "in the queue" not in shown[-1]
    assert done.queue_position is None


async def test_cancel_of_a_queued_fal_job_cancels_it_at_fal(
    make_settings: SettingsFactory, telegram: TelegramStandIn, fal: FalStandIn
) -> None:
    fal.sim.queue_scenario(FalScenario(queue=1000))
    settings = make_settings(providers=fal_section(fal), defaults={"model": VEO_FAST})
    async with running(settings) as reelay:
        telegram.emulator.send_text(ALICE, ALICE, "a slow heron")
        job = await wait_for_job_status(reelay, ALICE, JobStatus.RUNNING)
        telegram.emulator.send_text(ALICE, ALICE, "/cancel")
        cancelled = await wait_for_job_status(reelay, ALICE, JobStatus.CANCELLED)
        await telegram.emulator.wait_for_async(
            lambda: any(m.text == texts.CANCELLED for m in bot_messages(telegram, ALICE)), what="the cancel answer"
        )

    [put] = fal.sim.calls_to("PUT")
    assert put.path == f"/fal-ai/veo3/requests/{job.provider_task_id}/cancel"
    assert put.authorized
    assert fal.sim.get(job.provider_task_id or "") is not None
    assert cancelled.id == job.id
    assert videos_in(telegram, ALICE) == []


async def test_a_cancel_after_fal_finished_delivers_the_video(
    make_settings: SettingsFactory, telegram: TelegramStandIn, fal: FalStandIn
) -> None:
    fal.sim.queue_scenario(FalScenario(completion_s=0.0))
    # Polls every 60 s: only the cancel's "poll now" can bring the video in time.
    settings = make_settings(
        providers=fal_section(fal), defaults={"model": VEO_FAST}, poll={"interval_s": 60, "first_poll_s": 60}
    )
    async with running(settings) as reelay:
        telegram.emulator.send_text(ALICE, ALICE, "a quick heron")
        await wait_for_job_status(reelay, ALICE, JobStatus.RUNNING)
        telegram.emulator.send_text(ALICE, ALICE, "/cancel")
        await wait_for_job_status(reelay, ALICE, JobStatus.SUCCEEDED, timeout=15)
        await telegram.emulator.wait_for_async(lambda: len(videos_in(telegram, ALICE)) == 1, what="the video")

    assert any(m.text == texts.ALREADY_FINISHED for m in bot_messages(telegram, ALICE))


async def test_a_signed_fal_webhook_makes_the_job_poll_now(
    make_settings: SettingsFactory, telegram: TelegramStandIn, fal: FalStandIn
) -> None:
    port = free_port()
    # Polls every 60 s: without the webhook the video could not arrive within the wait below.
    settings = make_settings(
        providers=fal_section(fal),
        defaults={"model": VEO_FAST},
        poll={"interval_s": 60, "first_poll_s": 60, "lease_s": 60},
        http={"port": port, "public_url": f"http://127.0.0.1:{port}"},
    )
    async with running(settings):
        telegram.emulator.send_text(ALICE, ALICE, "a quick heron [after=0.5]")
        await telegram.emulator.wait_for_async(
            lambda: videos_in(telegram, ALICE), timeout=15, what="the video after the webhook"
        )

    webhook = fal.sim.calls_to("POST")[0].query["fal_webhook"]
    assert webhook.startswith(f"http://127.0.0.1:{port}/callbacks/fal/")
    assert len(webhook.rsplit("/", 1)[1]) >= 32, "the callback token is unguessable"
    assert fal.sim.webhooks[0].status_code == 200


async def test_an_unsigned_fal_webhook_is_refused_and_polls_nothing(
    make_settings: SettingsFactory, telegram: TelegramStandIn, fal: FalStandIn
) -> None:
    port = free_port()
    fal.sim.queue_scenario(FalScenario(queue=1000))
    settings = make_settings(
        providers=fal_section(fal),
        defaults={"model": VEO_FAST},
        poll={"interval_s": 60, "first_poll_s": 60, "lease_s": 60},
        http={"port": port, "public_url": f"http://127.0.0.1:{port}"},
    )
    async with running(settings) as reelay, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        telegram.emulator.send_text(ALICE, ALICE, "a slow heron")
        job = await wait_for_job_status(reelay, ALICE, JobStatus.RUNNING)
        path = fal.sim.calls_to("POST")[0].query["fal_webhook"].removeprefix(f"http://127.0.0.1:{port}")
        body = b'{"request_id": "%s", "status": "OK", "payload": {}}' % (job.provider_task_id or "").encode()

        unsigned = await client.post(path, content=body)
        stale = await client.post(
            path, content=body, headers=fal.sim.signer.headers(job.provider_task_id or "", body, timestamp=1)
        )
        signed = await client.post(path, content=body, headers=fal.sim.signer.headers(job.provider_task_id or "", body))
        await telegram.emulator.wait_for_async(
            lambda: len(fal.sim.calls_to("GET", "/status")) >= 1, what="the poll the signed webhook caused"
        )

    assert (unsigned.status_code, stale.status_code, signed.status_code) == (401, 401, 200)
    assert len(fal.sim.calls_to("GET", "/status")) == 1, "only the signed webhook made the job poll"
