"""The jobs list's filters, read from a query string."""

from __future__ import annotations

import calendar

from console.queries import JobFilter
from poller.jobs import Job, JobStatus


def job(**changes: object) -> Job:
    base = Job(id="j1", user_id=7, chat_id=7, model="veo3", prompt="p", owner="poller-a", created_at=1_700_000_000.0)
    return base.replace(**changes)


def test_every_filter_is_read_and_written_back_the_same() -> None:
    query = {"status": "failed", "model": "veo3", "user": "7", "owner": "poller-a", "from": "2023-11-14T22:00"}

    wanted = JobFilter.from_query(query)

    assert wanted.status is JobStatus.FAILED
    assert (wanted.model, wanted.user_id, wanted.owner) == ("veo3", 7, "poller-a")
    assert wanted.since == calendar.timegm((2023, 11, 14, 22, 0, 0))
    assert wanted.params() == query
    assert wanted.problems == []
    assert wanted.narrows


def test_unusable_values_are_left_out_and_named() -> None:
    wanted = JobFilter.from_query(
        {"status": "exploded", "user": "seven", "from": "yesterday", "to": "2025-02-30T10:00", "model": "m" * 201}
    )

    assert wanted == JobFilter(problems=wanted.problems)
    assert [problem.split(":")[0] for problem in wanted.problems] == ["status", "user", "model", "from", "to"]
    assert not wanted.narrows


def test_keep_matches_state_model_user_and_process() -> None:
    wanted = JobFilter(status=JobStatus.FAILED, model="veo3", user_id=7, owner="poller-a")

    assert wanted.keep(job(status=JobStatus.FAILED))
    assert not wanted.keep(job(status=JobStatus.SUCCEEDED))
    assert not wanted.keep(job(status=JobStatus.FAILED, model="sora"))
    assert not wanted.keep(job(status=JobStatus.FAILED, user_id=8))
    assert not wanted.keep(job(status=JobStatus.FAILED, owner="poller-b"))
    assert JobFilter().keep(job())


def test_matches_adds_the_time_range_with_an_open_end() -> None:
    wanted = JobFilter(since=1_700_000_000.0, until=1_700_000_060.0)

    assert wanted.matches(job(created_at=1_700_000_000.0))
    assert wanted.matches(job(created_at=1_700_000_059.9))
    assert not wanted.matches(job(created_at=1_700_000_060.0))
    assert not wanted.matches(job(created_at=1_699_999_999.9))


def test_the_query_string_carries_extra_parameters_and_escapes_values() -> None:
    wanted = JobFilter(owner="host:1&x=2")

    assert wanted.query(cursor="2025013112.4", head=None) == "owner=host%3A1%26x%3D2&cursor=2025013112.4"
