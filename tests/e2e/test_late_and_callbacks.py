"""A video that turns up after the timeout is still delivered, marked late and never charged again;
a provider callback makes the job's holder poll at once instead of waiting for the schedule."""

from __future__ import annotations

import httpx
import pytest

from bot import texts
from bot.i18n import ENGLISH
from poller.errors import ErrorCode
from poller.jobs import JobStatus
from sandbox.serve import free_port
from tests.e2e.conftest import ALICE, SettingsFactory, bot_messages, running, videos_in, wait_for_job_status
from tests.fixtures.kie import KieStandIn
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.e2e


async def test_late_video_after_timeout_is_delivered_and_not_charged(
    make_settings: SettingsFactory, telegram: TelegramStandIn
) -> None:
    tg = telegram.emulator
    settings = make_settings(
        poll={
            "interval_s": 0.1,
            "max_attempts": 2,
            "delayed_interval_s": 0.1,
            "delayed_deadline_s": 0.3,
            "late_check_delays_s": [1.0, 2.0, 30.0],
            "lease_s": 1.0,
        },
        credits={"enabled": True, "initial_balance": 20},
    )
    async with running(settings) as reelay:
        assert reelay.credits is not None
        tg.send_text(ALICE, ALICE, "a very slow render [after=1.5]")
        failed = await wait_for_job_status(reelay, ALICE, JobStatus.FAILED)
        assert failed.error_code is ErrorCode.TIMEOUT
        await tg.wait_for_async(
            lambda: any(
                m.text == texts.error_message(ENGLISH, ErrorCode.TIMEOUT) for m in bot_messages(telegram, ALICE)
            ),
            what="the timeout notice that promises a late delivery",
        )
        assert await reelay.credits.balance(ALICE) == 20

        video = await tg.wait_for_async(
            lambda: next(iter(videos_in(telegram, ALICE)), None), timeout=20, what="late video"
        )
        done = await wait_for_job_status(reelay, ALICE, JobStatus.SUCCEEDED)
        balance = await reelay.credits.balance(ALICE)
        billing_state = await reelay.credits.state(ALICE, done.id)

    assert done.late is True
    assert "(arrived late)" in (video.caption or "")
    assert balance == 20, "the refund given at the timeout stands"
    assert billing_state == "refunded"


async def test_callback_triggers_an_immediate_poll(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    tg = telegram.emulator
    port = free_port()
    # Polls every 60 s: without the callback the video could not arrive within the wait below.
    settings = make_settings(
        poll={"interval_s": 60, "first_poll_s": 60, "lease_s": 60},
        http={"port": port, "public_url": f"http://127.0.0.1:{port}"},
    )
    async with running(settings):
        tg.send_text(ALICE, ALICE, "a quick one [after=0.5]")
        await tg.wait_for_async(lambda: videos_in(telegram, ALICE), timeout=15, what="the video after the callback")

    body = kie.sim.submissions[0]
    assert body["callBackUrl"].startswith(f"http://127.0.0.1:{port}/callbacks/kie/")
    assert len(body["callBackUrl"].rsplit("/", 1)[1]) >= 32, "the callback token is unguessable"
    assert kie.sim.callbacks[0].status_code == 200


async def test_forged_callbacks_are_refused_or_harmless(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    tg = telegram.emulator
    port = free_port()
    settings = make_settings(
        poll={"interval_s": 60, "first_poll_s": 60, "lease_s": 60},
        http={"port": port, "public_url": f"http://127.0.0.1:{port}"},
    )
    async with running(settings) as reelay, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        tg.send_text(ALICE, ALICE, "not done for a while [polls=1000]")
        await tg.wait_for_async(lambda: kie.sim.submissions, what="the submission")
        job = await wait_for_job_status(reelay, ALICE, JobStatus.RUNNING)
        real_url = kie.sim.submissions[0]["callBackUrl"]

        unknown = await client.post("/callbacks/kie/not-a-real-token", json={"code": 200})
        forged_success = {
            "code": 200,
            "data": {"taskId": job.provider_task_id, "info": {"resultUrls": ["http://x/v.mp4"]}},
        }
        known = await client.post(real_url.removeprefix(f"http://127.0.0.1:{port}"), json=forged_success)
        await tg.wait_for_async(lambda: sum(kie.sim.polls.values()) >= 1, what="the poll the callback caused")

    assert unknown.status_code == 404
    assert known.status_code == 200
    assert videos_in(telegram, ALICE) == [], "the callback body is never trusted; record-info said running"
