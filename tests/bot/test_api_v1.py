"""The job API's pieces on their own: cursors, URL and metadata checks, refusals, SSE framing and resume."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.http.v1.checks import check_url, metadata_text, refusal_error
from bot.http.v1.cursor import decode_cursor, encode_cursor
from bot.http.v1.errors import ApiError
from bot.http.v1.stream import HEARTBEAT, JobStreams, sse_frame
from poller.errors import JobNotFound
from poller.jobs import Job, JobStatus
from poller.refusals import OutOfCredits, TooManyInProgress
from providers.catalog import Catalog


def test_a_cursor_round_trips_and_a_forged_one_names_the_field() -> None:
    assert decode_cursor(encode_cursor(1700000000123, "abc_-9")) == (1700000000123, "abc_-9")
    for forged in ("", "garbage!", encode_cursor(1, "a") + "x", "MTp7fQ"):
        with pytest.raises(ApiError) as caught:
            decode_cursor(forged)
        assert (caught.value.status, caught.value.field) == (422, "cursor")


@pytest.mark.parametrize(
    ("url", "allow_http", "ok"),
    [
        ("https://example.com/hook", False, True),
        ("http://example.com/hook", False, False),
        ("http://127.0.0.1:8080/hook", True, True),
        ("ftp://example.com/", True, False),
        ("https:///nohost", False, False),
        ("https://exa mple.com/", False, False),
        ("https://[::1", False, False),
    ],
)
def test_urls_must_be_https_unless_private_addresses_are_allowed(url: str, allow_http: bool, ok: bool) -> None:
    if ok:
        assert check_url("callback_url", url, allow_http=allow_http) == url
    else:
        with pytest.raises(ApiError) as caught:
            check_url("callback_url", url, allow_http=allow_http)
        assert caught.value.field == "callback_url"
        assert caught.value.message.startswith("callback_url: ")


def test_metadata_is_stored_compact_and_bounded_to_2_kb() -> None:
    assert metadata_text(None) is None
    assert metadata_text({"a": [1, "é"]}) == '{"a":[1,"é"]}'
    assert metadata_text({"k": "v" * 2030}) is not None
    with pytest.raises(ApiError) as caught:
        metadata_text({"k": "é" * 1100})  # 2200 bytes in UTF-8
    assert caught.value.field == "metadata"


def test_refusals_become_the_documented_answers() -> None:
    catalog = Catalog()
    credits = refusal_error(OutOfCredits(balance=2, price=10), catalog)
    assert (credits.status, credits.code) == (402, "insufficient_credits")
    busy = refusal_error(TooManyInProgress(3), catalog)
    assert (busy.status, busy.headers["Retry-After"]) == (429, "30")


def test_an_event_is_one_frame_with_its_id() -> None:
    frame = sse_frame(42, {"id": "j", "prompt": "two\nlines"})
    lines = frame.decode().split("\n")
    assert lines[:2] == ["id: 42", "event: job.updated"]
    assert json.loads(lines[2].removeprefix("data: "))["prompt"] == "two\nlines"
    assert frame.endswith(b"\n\n")
    assert frame.count(b"\n") == 4


class _Script:
    """A job whose revision and status follow a script, one step per read of the revision."""

    def __init__(self, steps: list[tuple[int, JobStatus]]) -> None:
        self.steps = steps
        self.at = 0
        self.reads = 0

    async def revision(self, job_id: str) -> int:
        self.at = min(self.reads, len(self.steps) - 1)
        self.reads += 1
        return self.steps[self.at][0]

    async def get(self, job_id: str) -> Job:
        if not self.steps:
            raise JobNotFound(job_id)
        return Job(id=job_id, user_id=0, chat_id=0, model="veo3_fast", prompt="p", status=self.steps[self.at][1])


async def _frames(script: _Script, after: int = 0, **options: Any) -> list[bytes]:
    streams = JobStreams(script, script, closing=lambda: False, poll_s=0, **options)  # type: ignore[arg-type]
    return [chunk async for chunk in streams.events("j", after)]


def _ids(frames: list[bytes]) -> list[int]:
    return [int(frame.split(b"\n")[0].removeprefix(b"id: ")) for frame in frames if frame.startswith(b"id: ")]


async def test_a_stream_sends_each_new_revision_once_and_ends_after_the_terminal_state() -> None:
    steps = [(5, JobStatus.QUEUED), (5, JobStatus.QUEUED), (9, JobStatus.RUNNING), (12, JobStatus.SUCCEEDED)]
    frames = await _frames(_Script(steps))
    assert _ids(frames) == [5, 9, 12]
    assert b'"status": "succeeded"' in frames[-1]


async def test_last_event_id_resumes_without_repeating() -> None:
    steps = [(9, JobStatus.RUNNING), (12, JobStatus.SUCCEEDED)]
    assert _ids(await _frames(_Script(steps), after=9)) == [12]
    assert _ids(await _frames(_Script([(12, JobStatus.SUCCEEDED)]), after=12)) == []  # it had the end: closed


async def test_heartbeats_are_comments_and_the_stream_ends_with_the_process() -> None:
    script = _Script([(3, JobStatus.RUNNING)])
    closing = iter([False] * 4 + [True])
    streams = JobStreams(script, script, closing=lambda: next(closing), poll_s=0, heartbeat_s=0)  # type: ignore[arg-type]
    frames = [chunk async for chunk in streams.events("j", 0)]
    assert _ids(frames) == [3]
    assert frames.count(HEARTBEAT) >= 3
    assert HEARTBEAT == b": heartbeat\n\n"


async def test_streams_are_bounded_per_process() -> None:
    script = _Script([(3, JobStatus.RUNNING)])
    streams = JobStreams(script, script, closing=lambda: True, max_streams=1)  # type: ignore[arg-type]
    streams.open_streams = 1
    busy = streams.respond("j", 0)
    assert busy.status_code == 503
    assert json.loads(bytes(busy.body))["error"]["code"] == "too_many_streams"
