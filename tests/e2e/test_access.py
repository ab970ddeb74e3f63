"""Who may use the bot (allowlist, invite codes, admins) and how many videos a day, through the real Telegram
emulator and a real redis-server."""

from __future__ import annotations

import pytest

from bot import texts
from storage.keys import RedisKeys
from tests.e2e.conftest import (
    ALICE,
    BOB,
    SettingsFactory,
    answer_to,
    bot_messages,
    first_text,
    running,
)
from tests.fixtures.kie import KieStandIn
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.e2e
CAROL = 1003
ADMIN = 1009
CODE = "invite-code-7f3a9c2e"


async def reply_to(telegram: TelegramStandIn, chat_id: int, count: int = 1) -> list[str]:
    """Wait until the bot has sent ``count`` messages to the chat; their texts as first sent."""
    await telegram.emulator.wait_for_async(
        lambda: len(bot_messages(telegram, chat_id)) >= count, what=f"{count} bot message(s) in chat {chat_id}"
    )
    return [first_text(m) for m in bot_messages(telegram, chat_id)]


async def test_in_allowlist_mode_only_listed_users_and_admins_get_in(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    tg = telegram.emulator
    settings = make_settings(access={"mode": "allowlist", "user_ids": [ALICE]}, admin={"user_ids": [ADMIN]})
    async with running(settings) as reelay:
        tg.send_text(CAROL, CAROL, "a lighthouse in a storm")
        assert await reply_to(telegram, CAROL) == [texts.PRIVATE]
        refusal = bot_messages(telegram, CAROL)[0]
        query = tg.press_button(CAROL, refusal.message_id, CAROL, "can:AbCdEfGh123", require_button=False)
        assert await answer_to(telegram, query) == texts.PRIVATE

        tg.send_text(ALICE, ALICE, "a lighthouse in a storm")
        tg.send_text(ADMIN, ADMIN, "a lighthouse in a storm")
        assert await reply_to(telegram, ALICE) == [texts.GENERATING]
        assert await reply_to(telegram, ADMIN) == [texts.GENERATING]

        assert await reelay.jobs.jobs_for_user(CAROL) == []
        assert await reelay.redis.exists(RedisKeys().user_jobs(CAROL)) == 0
        assert all(s["prompt"] == "a lighthouse in a storm" for s in kie.sim.submissions)
        assert len(bot_messages(telegram, CAROL)) == 1, "nothing but the refusal"


async def test_an_invite_code_admits_a_user_for_good_and_a_wrong_one_does_not(
    make_settings: SettingsFactory, telegram: TelegramStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    tg = telegram.emulator
    settings = make_settings(access={"mode": "invite", "invite_codes": [CODE]})
    async with running(settings) as reelay:
        tg.send_text(CAROL, CAROL, "/start not-the-code")
        assert await reply_to(telegram, CAROL) == [texts.PRIVATE]
        tg.send_text(CAROL, CAROL, "a video please")
        assert await reply_to(telegram, CAROL, 2) == [texts.PRIVATE, texts.PRIVATE]

        tg.send_text(CAROL, CAROL, f"/start {CODE}")
        assert (await reply_to(telegram, CAROL, 3))[2] == texts.START
        assert await reelay.redis.sismember(RedisKeys().admitted_users(), str(CAROL))

    async with running(settings):  # another process (or a restart) knows her from Redis
        tg.send_text(CAROL, CAROL, "a video please")
        assert (await reply_to(telegram, CAROL, 4))[3] == texts.GENERATING
        tg.send_text(BOB, BOB, "a video please")
        assert await reply_to(telegram, BOB) == [texts.PRIVATE]

    logged = capsys.readouterr()
    assert CODE not in logged.out + logged.err, "invite codes are secrets"


async def test_the_daily_limit_refuses_with_when_to_come_back_and_spares_admins(
    make_settings: SettingsFactory, telegram: TelegramStandIn
) -> None:
    tg = telegram.emulator
    settings = make_settings(
        limits={"daily_videos_per_user": 2, "max_active_jobs_per_user": 10}, admin={"user_ids": [ADMIN]}
    )
    async with running(settings) as reelay:
        for n in range(1, 4):
            tg.send_text(ALICE, ALICE, f"video {n} [polls=1000]")
            await reply_to(telegram, ALICE, n)
            tg.send_text(ADMIN, ADMIN, f"video {n} [polls=1000]")
            await reply_to(telegram, ADMIN, n)

        alice, admin = await reply_to(telegram, ALICE, 3), await reply_to(telegram, ADMIN, 3)
        assert alice[:2] == [texts.GENERATING, texts.GENERATING]
        assert alice[2].startswith("You have made 2 videos today, the most allowed per day. You can make more in ")
        assert alice[2].endswith("(at midnight UTC).")
        assert admin == [texts.GENERATING] * 3
        assert len(await reelay.jobs.jobs_for_user(ALICE)) == 2
