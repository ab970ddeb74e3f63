"""/history against the Telegram stand-in: five videos a page, paged in place, a video sent again by its file_id."""

from __future__ import annotations

import asyncio

import pytest

from bot import texts
from bot.callback_data import Action, ButtonData
from poller.jobs import JobStatus
from tests.e2e.conftest import ALICE, BOB, SettingsFactory, bot_messages, running, videos_in
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.e2e
VIDEOS = 6


async def test_history_pages_in_place_and_sends_a_video_again_without_an_upload(
    make_settings: SettingsFactory, telegram: TelegramStandIn
) -> None:
    tg = telegram.emulator
    async with running(make_settings()) as reelay:
        for number in range(VIDEOS):
            tg.send_text(ALICE, ALICE, f"video number {number} [polls=1]")
            await tg.wait_for_async(lambda n=number: len(videos_in(telegram, ALICE)) == n + 1, timeout=20)
        for _ in range(200):  # the last video is in the chat; its job is marked succeeded right after
            jobs = await reelay.jobs.jobs_for_user(ALICE, limit=10)
            if all(job.status is JobStatus.SUCCEEDED for job in jobs):
                break
            await asyncio.sleep(0.05)
        assert all(job.status is JobStatus.SUCCEEDED for job in jobs)
        uploads = len(tg.calls("sendVideo"))

        tg.send_text(ALICE, ALICE, "/history")
        first = await tg.wait_for_async(
            lambda: next((m for m in bot_messages(telegram, ALICE) if (m.text or "").startswith("Your videos")), None),
            what="the first page",
        )
        assert first.text is not None
        assert first.text.splitlines()[0] == texts.HISTORY_HEADER.format(page=1, pages=2)
        assert "video number 5" in first.text.splitlines()[1], "newest first"
        again_row, navigation = first.reply_markup["inline_keyboard"]  # type: ignore[index]
        assert [b["text"] for b in again_row] == [texts.history_again(n) for n in range(1, 6)]
        assert [b["text"] for b in navigation] == ["»"]

        tg.press_button(ALICE, first.message_id, ALICE, navigation[0]["callback_data"])
        await tg.wait_for_async(
            lambda: (tg.message(ALICE, first.message_id).text or "").startswith(  # type: ignore[union-attr]
                texts.HISTORY_HEADER.format(page=2, pages=2)
            ),
            what="the second page, edited in place",
        )
        second = tg.message(ALICE, first.message_id)
        assert second is not None
        assert second.text is not None
        assert "video number 0" in second.text
        [again], [back] = second.reply_markup["inline_keyboard"]  # type: ignore[index]
        assert back["text"] == "«"

        tg.press_button(ALICE, first.message_id, ALICE, again["callback_data"])
        await tg.wait_for_async(lambda: len(tg.calls("sendVideo")) == uploads + 1, what="the video sent again")
        resent = tg.calls("sendVideo")[-1]
        oldest = min(jobs, key=lambda job: job.created_at)
        assert oldest.delivered_ref is not None
        assert resent.params["video"] == oldest.delivered_ref.split(":", 2)[2], "by file_id, not a new upload"

        forged = ButtonData(Action.RESEND, oldest.id).encode()
        tg.send_text(BOB, BOB, "/history")
        bobs = await tg.wait_for_async(lambda: bot_messages(telegram, BOB), what="Bob's history")
        assert bobs[-1].text == texts.HISTORY_EMPTY
        tg.press_button(BOB, bobs[-1].message_id, BOB, forged, require_button=False)
        await tg.wait_for_async(
            lambda: any(q.answer and q.answer.get("text") == texts.NOT_YOURS for q in tg.world.callbacks.values()),
            what="the refusal of another's video",
        )
        assert len(tg.calls("sendVideo")) == uploads + 1
