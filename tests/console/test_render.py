"""The console's templates escape every value, and its filters write times and sizes as people read them."""

from __future__ import annotations

import time

import pytest

from console.job_view import JobView
from console.render import Renderer, age, duration, percent, size, utc
from poller.errors import ErrorCode
from poller.jobs import Job, JobStatus


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(4.25, "4.2 s"), (42.4, "42 s"), (185, "3 min 5 s"), (7380, "2 h 3 min"), (3 * 86400 + 4 * 3600, "3 d 4 h")],
)
def test_durations_read_as_people_say_them(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_times_sizes_and_ratios() -> None:
    assert utc(0) == "1970-01-01 00:00:00"
    assert utc(None) == ""
    assert size(5_200_000) == "5.2 MB"
    assert size(512) == "512 B"
    assert percent(0.975) == "97.5 %"
    assert age(time.time() - 90) == "1 min 30 s"


def hostile_job() -> Job:
    return Job(
        id="j1",
        user_id=7,
        chat_id=7,
        model="<b>m</b>",
        prompt="<script>alert(1)</script>",
        status=JobStatus.FAILED,
        error_code=ErrorCode.PROVIDER_ERROR,
        error_raw="<img src=x onerror=alert(2)>",
        result_url='javascript:alert(3)//"><b>',
        owner='"><svg onload=alert(4)>',
    )


def test_the_job_fragments_escape_the_prompt_the_raw_error_and_every_other_field() -> None:
    job = hostile_job()
    view = JobView(job=job, session=None, ledger=None, credits_on=False)
    renderer = Renderer()

    html = renderer.fragment("_job_live.html", view=view, job=job) + renderer.fragment("_job_row.html", job=job)

    for markup in ("<script>", "<img", "<svg", "<b>m</b>", '"><b>'):
        assert markup not in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert 'href="javascript:' not in html  # the provider's link is shown as text, never linked
