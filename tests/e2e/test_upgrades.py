"""Upgrades of a delivered Veo video: the 1080p and 4K buttons, each a paid child job, once per video, owner only."""

from __future__ import annotations

from typing import Any

import pytest

from bot import texts
from bot.i18n import ENGLISH
from bot.settings import Settings
from poller.errors import ErrorCode
from poller.jobs import Job, JobStatus, TaskKind
from sandbox.serve import free_port
from sandbox.telegram import Message
from tests.e2e.conftest import (
    ALICE,
    BOB,
    SettingsFactory,
    answer_to,
    bot_messages,
    button_data,
    first_text,
    running,
    videos_in,
    wait_for_job_status,
)
from tests.fixtures.kie import KieStandIn
from tests.fixtures.s3_server import S3Server
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.e2e

HD, UHD = texts.upgrade_button(TaskKind.UPSCALE_1080P), texts.upgrade_button(TaskKind.UPSCALE_4K)


def upgrade_settings(make_settings: SettingsFactory, kie: KieStandIn, **overrides: Any) -> Settings:
    kie_section = {"base_url": kie.url, "api_key": kie.api_key, "timeout_s": 5, "offer_upgrades": True}
    return make_settings(providers={"kie": kie_section}, **overrides)


async def delivered_video(telegram: TelegramStandIn, chat_id: int, prompt: str, user_id: int = ALICE) -> Message:
    telegram.emulator.send_text(chat_id, user_id, prompt)
    return await telegram.emulator.wait_for_async(
        lambda: next(iter(videos_in(telegram, chat_id)), None), timeout=20, what="the video"
    )


async def jobs_of(reelay: Any, user_id: int) -> list[Job]:
    jobs: list[Job] = await reelay.jobs.jobs_for_user(user_id, limit=10)
    return jobs


async def test_1080p_press_delivers_the_upgraded_video_once_and_charges_the_upgrade_price(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn, s3_server: S3Server, s3_bucket: str
) -> None:
    tg = telegram.emulator
    settings = upgrade_settings(make_settings, kie, credits={"enabled": True, "initial_balance": 20})
    async with running(settings) as reelay:
        assert reelay.credits is not None
        preview = await delivered_video(telegram, ALICE, "a harbour at dawn [polls=1] [upgrade_polls=2]")
        buttons = button_data(preview)
        assert set(buttons) == {texts.PUBLISH, texts.EXTEND, HD, UHD}
        assert all(len(data.encode()) <= 64 for data in buttons.values())
        parent = await wait_for_job_status(reelay, ALICE, JobStatus.SUCCEEDED)

        tg.press_button(ALICE, preview.message_id, ALICE, buttons[HD])

        ack = await tg.wait_for_async(
            lambda: next(
                (
                    m
                    for m in bot_messages(telegram, ALICE)
                    if m.message_id > preview.message_id and first_text(m) == texts.GENERATING
                ),
                None,
            ),
            what="the instant ack of the upgrade",
        )
        assert ack.reply_to_message_id == preview.message_id
        upgraded = await tg.wait_for_async(
            lambda: len(videos_in(telegram, ALICE)) == 2 and videos_in(telegram, ALICE)[1],
            timeout=20,
            what="the 1080p video",
        )
        child = await wait_for_job_status(reelay, ALICE, JobStatus.SUCCEEDED)
        marked = await tg.wait_for_async(
            lambda: (
                texts.upgrade_asked(ENGLISH, TaskKind.UPSCALE_1080P)
                in button_data(tg.message(ALICE, preview.message_id))
            ),
            what="the parent's 1080p done mark",
        )
        assert marked
        balance = await reelay.credits.balance(ALICE)

        # A second press (a stale keyboard, a double tap) starts nothing.
        again = tg.press_button(ALICE, preview.message_id, ALICE, buttons[HD], require_button=False)
        assert await answer_to(telegram, again) == texts.BUTTON_EXPIRED
        all_jobs = await jobs_of(reelay, ALICE)

    assert (child.kind, child.parent_id, child.model, child.prompt) == (
        TaskKind.UPSCALE_1080P,
        parent.id,
        parent.model,
        parent.prompt,
    )
    assert child.cost == 3, "priced by credits.prices.veo3_1080p, not by the model"
    assert balance == 20 - 10 - 3
    assert (upgraded.caption or "").startswith("🎬 Veo 3.1 Fast · 1080p version")
    assert set(button_data(upgraded)) == {texts.PUBLISH}, "an upgraded video is not upgraded or extended again"
    assert UHD in button_data(tg.message(ALICE, preview.message_id) or preview), "4K is still on offer"
    assert len(all_jobs) == 2
    calls = kie.sim.upgrades.calls
    assert {(call.kind, call.task_id) for call in calls} == {("1080p", parent.provider_task_id)}
    assert [call.code for call in calls][-1] == 200
    assert len(kie.sim.submissions) == 1, "no new generation was paid for"
    stored = s3_server.client().list_objects_v2(Bucket=s3_bucket)["Contents"]
    assert len(stored) == 2, "the upgraded video is stored like any other"


async def test_4k_press_pays_once_and_records_what_kie_charged(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    port = free_port()
    # Polls every 60 s: the videos can only arrive this soon through the callbacks, as in production.
    settings = upgrade_settings(
        make_settings,
        kie,
        poll={"interval_s": 60, "first_poll_s": 60, "lease_s": 60},
        http={"port": port, "public_url": f"http://127.0.0.1:{port}"},
    )
    tg = telegram.emulator
    async with running(settings) as reelay:
        preview = await delivered_video(telegram, ALICE, "a glacier calving [after=0.3] [upgrade_after=0.5]")
        parent = await wait_for_job_status(reelay, ALICE, JobStatus.SUCCEEDED)

        tg.press_button(ALICE, preview.message_id, ALICE, button_data(preview)[UHD])

        upgraded = await tg.wait_for_async(
            lambda: len(videos_in(telegram, ALICE)) == 2 and videos_in(telegram, ALICE)[1],
            timeout=20,
            what="the 4K video, brought by its callback",
        )
        child = await wait_for_job_status(reelay, ALICE, JobStatus.SUCCEEDED)

    assert parent.provider_task_id is not None
    assert child.kind is TaskKind.UPSCALE_4K
    assert child.provider_cost == 120.0, "the callback's creditsConsumed"
    assert (upgraded.caption or "").startswith("🎬 Veo 3.1 Fast · 4K version")
    assert len(kie.sim.upgrades.paid_calls("4k")) == 1
    assert all(call.code == 422 for call in kie.sim.upgrades.calls[1:]), "every poll was a free repeat"
    upgrade = kie.sim.upgrades.get("4k", parent.provider_task_id)
    assert upgrade is not None
    assert upgrade.callback_url is not None
    assert upgrade.callback_url.startswith(f"http://127.0.0.1:{port}/callbacks/kie/")
    assert [record.status_code for record in kie.sim.callbacks] == [200, 200]


async def test_an_upgrade_refused_for_credits_can_be_asked_for_again_later(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    tg = telegram.emulator
    settings = upgrade_settings(make_settings, kie, credits={"enabled": True, "initial_balance": 20})
    async with running(settings) as reelay:
        assert reelay.credits is not None
        preview = await delivered_video(telegram, ALICE, "a night market [upgrade_polls=0]")
        await wait_for_job_status(reelay, ALICE, JobStatus.SUCCEEDED)
        press = button_data(preview)[UHD]

        refused = tg.press_button(ALICE, preview.message_id, ALICE, press)
        assert await answer_to(telegram, refused) == texts.out_of_credits(ENGLISH, 10, 15)
        assert UHD in button_data(tg.message(ALICE, preview.message_id) or preview), "nothing was ordered"
        await reelay.credits.grant(ALICE, 5)

        tg.press_button(ALICE, preview.message_id, ALICE, press)
        await tg.wait_for_async(lambda: len(videos_in(telegram, ALICE)) == 2, timeout=20, what="the 4K video")
        child = await wait_for_job_status(reelay, ALICE, JobStatus.SUCCEEDED)

    assert (child.kind, child.cost) == (TaskKind.UPSCALE_4K, 15)
    assert len(kie.sim.upgrades.paid_calls("4k")) == 1


async def test_only_the_owner_can_upgrade_a_video(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    tg = telegram.emulator
    async with running(upgrade_settings(make_settings, kie)) as reelay:
        group = tg.add_group("Friends")
        preview = await delivered_video(telegram, group, "/video a lighthouse in a storm")

        query = tg.press_button(group, preview.message_id, BOB, button_data(preview)[UHD])

        assert await answer_to(telegram, query) == texts.NOT_YOURS
        assert len(await jobs_of(reelay, ALICE)) == 1
        assert await jobs_of(reelay, BOB) == []
    assert kie.sim.upgrades.calls == []


async def test_a_failed_4k_is_told_once_and_refunded(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    tg = telegram.emulator
    settings = upgrade_settings(make_settings, kie, credits={"enabled": True, "initial_balance": 30})
    async with running(settings) as reelay:
        assert reelay.credits is not None
        preview = await delivered_video(telegram, ALICE, "a foggy pier [upgrade=fail]")
        await wait_for_job_status(reelay, ALICE, JobStatus.SUCCEEDED)

        tg.press_button(ALICE, preview.message_id, ALICE, button_data(preview)[UHD])

        failed = await wait_for_job_status(reelay, ALICE, JobStatus.FAILED)
        failure = texts.error_message(ENGLISH, ErrorCode.PROVIDER_ERROR)
        await tg.wait_for_async(
            lambda: any(m.text == failure for m in bot_messages(telegram, ALICE)), what="the failure notice"
        )
        balance = await reelay.credits.balance(ALICE)

    assert failed.kind is TaskKind.UPSCALE_4K
    assert failed.error_raw is not None
    assert "unavailable" in failed.error_raw
    assert balance == 30 - 10, "the 4K's 15 credits came back"
    assert len(videos_in(telegram, ALICE)) == 1


@pytest.mark.parametrize(
    ("model", "offer"),
    [("veo3_fast", False), ("veo3_lite", True), ("bytedance/seedance-2", True)],
)
async def test_no_upgrade_buttons_unless_offered_for_an_upscalable_model(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn, model: str, offer: bool
) -> None:
    tg = telegram.emulator
    kie_section = {"base_url": kie.url, "api_key": kie.api_key, "timeout_s": 5, "offer_upgrades": offer}
    settings = make_settings(providers={"kie": kie_section}, defaults={"model": model})
    async with running(settings) as reelay:
        preview = await delivered_video(telegram, ALICE, "a paper boat on a lake")
        job = await wait_for_job_status(reelay, ALICE, JobStatus.SUCCEEDED)

        # Nor does a forged press start anything.
        query = tg.press_button(ALICE, preview.message_id, ALICE, f"u1080:{job.id}", require_button=False)
        assert await answer_to(telegram, query) == texts.BUTTON_EXPIRED
        assert len(await jobs_of(reelay, ALICE)) == 1

    assert job.model == model
    assert not {HD, UHD} & set(button_data(preview))
    assert texts.PUBLISH in button_data(preview)
    assert kie.sim.upgrades.calls == []
