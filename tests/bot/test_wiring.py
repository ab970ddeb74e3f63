"""The composition root's Telegram bots: which rate limiter each one carries (acks keep priority only if
the bots the handlers and the notifier use share one lane-based budget)."""

from __future__ import annotations

from pathlib import Path

import fakeredis

from bot.notifier import TelegramNotifier
from bot.rate_limit import PriorityRateLimiter
from bot.settings import load_settings
from bot.wiring import build_application, build_bot
from tests.bot.test_settings import MINIMAL, write


def test_handlers_and_notifier_share_a_priority_budget_and_deliveries_have_no_limiter(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL))
    redis = fakeredis.FakeAsyncRedis(decode_responses=True)

    application = build_application(settings, redis)
    poller_bot = build_bot(settings)
    send_bot = build_bot(settings, rate_limited=False)

    assert isinstance(application.bot.rate_limiter, PriorityRateLimiter)
    assert isinstance(poller_bot.rate_limiter, PriorityRateLimiter)
    assert send_bot.rate_limiter is None
    notifier = TelegramNotifier(application.bot, send_bot=send_bot, upload_limit_bytes=1, link_ttl_s=60)
    assert notifier._budget is application.bot.rate_limiter.budget
