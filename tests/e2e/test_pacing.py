"""Submits paced to KIE's allowance: 50 prompts at once reach KIE at most 20 per 10 s, none refused for the pace,
every one delivered, and the status message of a job over the pace says it is waiting to start."""

from __future__ import annotations

import pytest

from bot import texts
from poller.jobs import JobStatus
from tests.e2e.conftest import SettingsFactory, bot_messages, running, videos_in
from tests.fixtures.kie import KieStandIn
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.e2e
USERS = range(2001, 2051)
LIMIT = 20


async def test_fifty_prompts_at_once_reach_kie_at_most_twenty_per_ten_seconds_and_all_arrive(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    kie.sim.submits_per_10s = LIMIT  # the stand-in refuses (429) what KIE would refuse
    settings = make_settings(providers={"kie": {"base_url": kie.url, "api_key": kie.api_key, "submits_per_10s": LIMIT}})
    async with running(settings) as reelay:
        for user in USERS:
            telegram.emulator.send_text(user, user, f"a paper boat number {user}")
        await telegram.emulator.wait_for_async(
            lambda: all(len(videos_in(telegram, user)) == 1 for user in USERS), timeout=90, what="50 videos"
        )

        times = kie.sim.submit_times
        assert len(times) == len(USERS)
        assert kie.sim.paced_out == 0, "no submit met KIE's 429"
        assert all(later - earlier >= 10.0 for earlier, later in zip(times, times[LIMIT:], strict=False)), (
            "never more than 20 submits within 10 s"
        )
        for user in USERS:
            [job] = await reelay.jobs.jobs_for_user(user)
            assert job.status is JobStatus.SUCCEEDED
        waited = [user for user in USERS if _said_waiting(telegram, user)]
        assert len(waited) >= len(USERS) - 2 * LIMIT, "the jobs over the pace said they were waiting to start"


def _said_waiting(telegram: TelegramStandIn, user: int) -> bool:
    status = next(m for m in bot_messages(telegram, user) if m.text and m.text.startswith(texts.GENERATING))
    shown = [*(version.text or "" for version in status.history), status.text or ""]
    return any(texts.STATUS_LINES[JobStatus.QUEUED] in text for text in shown)
