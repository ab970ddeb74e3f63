"""Credits: reserved with the ack, kept on success, returned once on failure; /balance and /grant."""

from __future__ import annotations

import pytest

from bot import texts
from bot.i18n import ENGLISH
from bot.settings import Settings
from poller.errors import ErrorCode
from poller.jobs import JobStatus
from tests.e2e.conftest import ALICE, BOB, SettingsFactory, bot_messages, running, videos_in, wait_for_job_status
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.e2e


def credit_settings(make_settings: SettingsFactory) -> Settings:
    return make_settings(credits={"enabled": True, "initial_balance": 20}, admin={"user_ids": [BOB]})


async def test_success_charges_failure_refunds_and_an_empty_balance_refuses(
    make_settings: SettingsFactory, telegram: TelegramStandIn
) -> None:
    tg = telegram.emulator
    async with running(credit_settings(make_settings)) as reelay:
        assert reelay.credits is not None
        tg.send_text(ALICE, ALICE, "first video [polls=1]")
        await tg.wait_for_async(lambda: len(videos_in(telegram, ALICE)) == 1, timeout=20, what="the first video")
        await wait_for_job_status(reelay, ALICE, JobStatus.SUCCEEDED)
        assert await reelay.credits.balance(ALICE) == 10

        tg.send_text(ALICE, ALICE, "this one fails [fail] [polls=1]")
        failed = await wait_for_job_status(reelay, ALICE, JobStatus.FAILED)
        await tg.wait_for_async(
            lambda: any(
                m.text == texts.error_message(ENGLISH, ErrorCode.PROVIDER_ERROR) for m in bot_messages(telegram, ALICE)
            ),
            what="the failure notice, sent after the refund",
        )
        assert await reelay.credits.balance(ALICE) == 10, "the failed video's credits came back"
        assert await reelay.credits.state(ALICE, failed.id) == "refunded"

        tg.send_text(ALICE, ALICE, "second video [polls=1]")
        await tg.wait_for_async(lambda: len(videos_in(telegram, ALICE)) == 2, timeout=20, what="the second video")
        await wait_for_job_status(reelay, ALICE, JobStatus.SUCCEEDED)

        tg.send_text(ALICE, ALICE, "third video")
        refusal = texts.out_of_credits(ENGLISH, 0, 10)
        await tg.wait_for_async(lambda: any(m.text == refusal for m in bot_messages(telegram, ALICE)), what="refusal")

        tg.send_text(ALICE, ALICE, "/balance")
        await tg.wait_for_async(
            lambda: bot_messages(telegram, ALICE)[-1].text == ENGLISH.plural(texts.BALANCE, 0, balance=0),
            what="the balance",
        )
        assert len(await reelay.jobs.jobs_for_user(ALICE, limit=10)) == 3


async def test_only_admins_can_grant(make_settings: SettingsFactory, telegram: TelegramStandIn) -> None:
    tg = telegram.emulator
    async with running(credit_settings(make_settings)) as reelay:
        assert reelay.credits is not None
        tg.send_text(ALICE, ALICE, f"/grant {ALICE} 1000")
        await tg.wait_for_async(lambda: bot_messages(telegram, ALICE), what="the refusal")
        tg.send_text(BOB, BOB, f"/grant {ALICE} 5")
        await tg.wait_for_async(lambda: bot_messages(telegram, BOB), what="the grant")

        assert bot_messages(telegram, ALICE)[0].text == texts.ADMINS_ONLY
        assert bot_messages(telegram, BOB)[0].text == ENGLISH.plural(texts.GRANTED, 25, user_id=ALICE, balance=25)
        assert await reelay.credits.balance(ALICE) == 25


async def test_a_prompt_over_the_active_limit_gives_its_reserved_credits_back(
    make_settings: SettingsFactory, telegram: TelegramStandIn
) -> None:
    tg = telegram.emulator
    settings = make_settings(credits={"enabled": True, "initial_balance": 20}, limits={"max_active_jobs_per_user": 1})
    async with running(settings) as reelay:
        assert reelay.credits is not None
        tg.send_text(ALICE, ALICE, "a slow video [polls=1000]")
        await wait_for_job_status(reelay, ALICE, JobStatus.RUNNING)

        tg.send_text(ALICE, ALICE, "one more [polls=1000]")
        refusal = ENGLISH.plural(texts.TOO_MANY_ACTIVE, 1, count=1)
        await tg.wait_for_async(lambda: any(m.text == refusal for m in bot_messages(telegram, ALICE)), what="refusal")

        [kept] = await reelay.jobs.jobs_for_user(ALICE, limit=10)
        assert await reelay.credits.balance(ALICE) == 10, "only the running video holds credits"
        assert await reelay.credits.state(ALICE, kept.id) == "reserved"
