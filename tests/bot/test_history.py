"""History pages: delivered videos only, newest first, five a page, the nearest page when out of range."""

from __future__ import annotations

from bot import texts
from bot.callback_data import Action, parse
from bot.history import PAGE_SIZE, page_of, videos
from bot.i18n import ENGLISH
from poller.jobs import Job, JobStatus


def _job(number: int, status: JobStatus = JobStatus.SUCCEEDED, ref: str | None = "1:2:file") -> Job:
    return Job(
        id=f"job{number:04d}",
        user_id=1,
        chat_id=1,
        model="veo3_fast",
        prompt=f"prompt {number} " + "word " * 20,
        status=status,
        created_at=float(number),
        delivered_ref=ref,
    )


def test_only_delivered_videos_are_listed_newest_first() -> None:
    jobs = [_job(1), _job(2, JobStatus.FAILED), _job(3, ref=None), _job(4)]

    assert [job.id for job in videos(jobs)] == ["job0004", "job0001"]


def test_pages_hold_five_with_navigation_both_ways() -> None:
    delivered = videos([_job(n) for n in range(12)])

    middle = page_of(ENGLISH, delivered, 1)

    assert middle.text.splitlines()[0] == texts.HISTORY_HEADER.format(page=2, pages=3)
    assert len(middle.text.splitlines()) == 1 + PAGE_SIZE
    assert middle.markup is not None
    again, navigation = middle.markup.inline_keyboard
    assert [button.text for button in again] == [texts.history_again(n) for n in range(6, 11)]
    assert [parse(str(button.callback_data)) for button in navigation] == [
        parse("his:0"),
        parse("his:2"),
    ]
    assert parse(str(again[0].callback_data)).action is Action.RESEND  # type: ignore[union-attr]


def test_a_page_out_of_range_shows_the_nearest_and_prompts_are_shortened() -> None:
    last = page_of(ENGLISH, videos([_job(n) for n in range(3)]), 99)

    assert last.text.splitlines()[0] == texts.HISTORY_HEADER.format(page=1, pages=1)
    assert "…" in last.text.splitlines()[1]


def test_no_videos_says_so() -> None:
    assert page_of(ENGLISH, [], 0).text == texts.HISTORY_EMPTY


def test_history_buttons_are_parsed_strictly() -> None:
    assert parse("his:x") is None
    assert parse("his:1234") is None
    assert parse("again:../x") is None
