"""A user always gets an answer, and nothing is reserved without a job: failures on our side, through the real
Telegram emulator and a real redis-server (the failures are real Redis errors: a key of the wrong type)."""

from __future__ import annotations

import json
import time

import httpx
import pytest
import structlog
from structlog.testing import capture_logs

from bot import texts
from bot.app import Reelay
from bot.handlers import errors
from bot.http.telegram_webhook import SECRET_HEADER
from bot.i18n import ENGLISH
from sandbox.serve import free_port
from storage.daily_quota import RedisDailyQuota
from storage.keys import RedisKeys
from tests.e2e.conftest import ALICE, SettingsFactory, answer_to, bot_messages, first_text, running
from tests.fixtures.kie import KieStandIn
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.e2e
KEYS = RedisKeys()
SECRET = "webhook-secret-0123456789abcdef"


async def texts_in(telegram: TelegramStandIn, chat_id: int, count: int = 1) -> list[str]:
    await telegram.emulator.wait_for_async(
        lambda: len(bot_messages(telegram, chat_id)) >= count, what=f"{count} bot message(s)"
    )
    return [first_text(m) for m in bot_messages(telegram, chat_id)]


async def no_reservation_left(reelay: Reelay, user_id: int) -> bool:
    """Whether every job field of the user's account was settled (none still ``reserved``)."""
    assert reelay.credits is not None
    account = await reelay.redis.hgetall(reelay.credits.key(user_id))
    return not any(value.startswith("reserved:") for name, value in account.items() if name.startswith("job:"))


async def test_an_unexpected_error_answers_the_user_without_details_and_logs_the_update(
    reelay: Reelay, telegram: TelegramStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    tg = telegram.emulator
    await reelay.redis.set(KEYS.user_jobs(ALICE), "not a sorted set")  # /status fails: WRONGTYPE
    with capture_logs() as logs:
        # A fresh logger: one cached by an earlier test (configure_logging caches on first use) would bypass capture.
        monkeypatch.setattr(errors, "log", structlog.get_logger(errors.__name__))
        update = tg.send_text(ALICE, ALICE, "/status")
        assert await texts_in(telegram, ALICE) == [texts.SOMETHING_WENT_WRONG]

    failed = [entry for entry in logs if entry["event"] == "update.failed"]
    assert [(e["update_id"], e["error"]) for e in failed] == [(update["update_id"], "ResponseError")]
    assert "WRONGTYPE" not in texts.SOMETHING_WENT_WRONG


async def test_an_unexpected_error_on_a_button_answers_the_press(reelay: Reelay, telegram: TelegramStandIn) -> None:
    tg = telegram.emulator
    await reelay.redis.set(KEYS.job("Broken12345"), "not a hash")
    tg.send_text(ALICE, ALICE, "/help")
    help_message = (await telegram.emulator.wait_for_async(lambda: bot_messages(telegram, ALICE), what="help"))[0]

    query = tg.press_button(ALICE, help_message.message_id, ALICE, "can:Broken12345", require_button=False)

    assert await answer_to(telegram, query) == texts.SOMETHING_WENT_WRONG


async def test_a_reply_to_the_extend_question_of_an_expired_video_says_it_is_gone(
    reelay: Reelay, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    tg = telegram.emulator
    tg.add_user(ALICE, "Alice")
    async with telegram.make_bot() as bot:  # the question as the bot asked it, about a video since expired
        question = await bot.send_message(ALICE, texts.extend_question(ENGLISH, "Expired1234"))

    tg.send_text(ALICE, ALICE, "and then it snows", reply_to_message_id=question.message_id)

    assert (await texts_in(telegram, ALICE, 2))[1] == texts.VIDEO_GONE
    assert kie.sim.submissions == []


async def test_a_job_that_cannot_be_stored_refunds_its_credits_and_allowance_and_says_so(
    make_settings: SettingsFactory, telegram: TelegramStandIn
) -> None:
    tg = telegram.emulator
    settings = make_settings(credits={"enabled": True, "initial_balance": 20}, limits={"daily_videos_per_user": 1})
    async with running(settings) as reelay:
        assert reelay.credits is not None
        # The create script fails on the user's index after the credits were reserved: a real Redis error.
        await reelay.redis.set(KEYS.user_jobs(ALICE), "not a sorted set")

        tg.send_text(ALICE, ALICE, "a fox in the snow")

        assert await texts_in(telegram, ALICE) == [texts.NOT_STARTED]
        assert await reelay.credits.balance(ALICE) == 20
        assert await no_reservation_left(reelay, ALICE)
        assert await RedisDailyQuota(reelay.redis).used(ALICE, time.time()) == 0

        await reelay.redis.delete(KEYS.user_jobs(ALICE))
        tg.send_text(ALICE, ALICE, "a fox in the snow")  # the allowance of one came back: this one runs
        assert (await texts_in(telegram, ALICE, 2))[1] == texts.GENERATING
        assert await reelay.credits.balance(ALICE) == 10


async def test_a_prompt_with_a_lone_surrogate_is_refused_before_anything_is_reserved(
    make_settings: SettingsFactory, telegram: TelegramStandIn
) -> None:
    # Only a webhook can carry one (the Bot API emulator, like Telegram, cannot send it as UTF-8).
    port = free_port()
    settings = make_settings(
        telegram={"mode": "webhook", "webhook_secret": SECRET, "webhook_path": "/hook"},
        http={"port": port, "public_url": f"http://127.0.0.1:{port}"},
        credits={"enabled": True, "initial_balance": 20},
    )
    telegram.emulator.add_user(ALICE, "Alice")
    update = {
        "update_id": 424242,
        "message": {
            "message_id": 1,
            "date": 1700000000,
            "chat": {"id": ALICE, "type": "private"},
            "from": {"id": ALICE, "is_bot": False, "first_name": "Alice"},
            "text": "a fox \udcff in the snow",
        },
    }
    async with running(settings) as reelay, httpx.AsyncClient() as client:
        assert reelay.credits is not None
        answer = await client.post(
            f"http://127.0.0.1:{port}/hook", content=json.dumps(update).encode(), headers={SECRET_HEADER: SECRET}
        )

        assert answer.status_code == 200
        assert await texts_in(telegram, ALICE) == [texts.PROMPT_NOT_TEXT]
        assert await reelay.credits.balance(ALICE) == 20
        assert await reelay.redis.exists(reelay.credits.key(ALICE)) == 0, "no account touched, nothing reserved"
