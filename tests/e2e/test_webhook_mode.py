"""Telegram webhook mode: updates arrive as POSTs carrying the secret; anything else is refused."""

from __future__ import annotations

import httpx
import pytest

from bot import texts
from bot.http.telegram_webhook import SECRET_HEADER
from sandbox.serve import free_port
from tests.e2e.conftest import ALICE, SettingsFactory, bot_messages, running, videos_in
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.e2e
SECRET = "webhook-secret-0123456789abcdef"


def webhook_overrides(port: int) -> dict[str, dict[str, object]]:
    return {
        "telegram": {"mode": "webhook", "webhook_secret": SECRET, "webhook_path": "/telegram/hook"},
        "http": {"port": port, "public_url": f"http://127.0.0.1:{port}"},
    }


async def test_updates_arrive_by_webhook_and_the_video_is_delivered(
    make_settings: SettingsFactory, telegram: TelegramStandIn
) -> None:
    tg = telegram.emulator
    port = free_port()
    async with running(make_settings(**webhook_overrides(port))):
        hook = tg.webhook()
        assert hook is not None
        assert hook.url == f"http://127.0.0.1:{port}/telegram/hook"
        tg.send_text(ALICE, ALICE, "a hot air balloon at dawn [polls=1]")

        await tg.wait_for_async(lambda: len(videos_in(telegram, ALICE)) == 1, timeout=20, what="the video")

    assert tg.calls("sendMessage")[0].params["text"] == texts.GENERATING
    assert tg.calls("getUpdates") == []


async def test_posts_without_the_right_secret_are_refused(
    make_settings: SettingsFactory, telegram: TelegramStandIn
) -> None:
    port = free_port()
    update = {
        "update_id": 999001,
        "message": {
            "message_id": 1,
            "date": 1700000000,
            "chat": {"id": ALICE, "type": "private"},
            "from": {"id": ALICE, "is_bot": False, "first_name": "Mallory"},
            "text": "forged prompt",
        },
    }
    url = f"http://127.0.0.1:{port}/telegram/hook"
    telegram.emulator.add_user(ALICE, "Alice")
    async with running(make_settings(**webhook_overrides(port))), httpx.AsyncClient() as client:
        missing = await client.post(url, json=update)
        wrong = await client.post(url, json=update, headers={SECRET_HEADER: "not-the-secret-at-all"})
        right = await client.post(url, json=update, headers={SECRET_HEADER: SECRET})
        again = await client.post(url, json=update, headers={SECRET_HEADER: SECRET})  # Telegram redelivers
        await telegram.emulator.wait_for_async(lambda: bot_messages(telegram, ALICE), what="the ack")

    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert (right.status_code, again.status_code) == (200, 200)
    acks = [c for c in telegram.emulator.calls("sendMessage") if c.params.get("text") == texts.GENERATING]
    assert len(acks) == 1, "a redelivered update is processed once"
