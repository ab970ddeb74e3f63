"""The job event body and the Discord and Slack messages, checked field by field against the documented formats."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from webhooks.formats import NoticeKind, VideoNotice, discord_message, event_body, prompt_start, slack_message

JOB = {
    "id": "j1",
    "status": "succeeded",
    "model": "veo3_fast",
    "prompt": "A red fox runs through fresh snow at dawn, cinematic, slow motion, golden light on the trees " * 3,
    "video": {"url": "https://cdn.test/v/j1.mp4?sig=abc", "duration_s": 8},
}


def test_event_body_is_type_timestamp_and_the_job_as_compact_utf8() -> None:
    moment = datetime(2026, 12, 7, 1, 2, 3, 456789, tzinfo=timezone(timedelta(hours=2)))
    body = event_body("job.succeeded", {"id": "j1", "prompt": "café"}, now=moment)

    assert body == (
        b'{"type":"job.succeeded","timestamp":"2026-12-06T23:02:03.456Z","data":{"id":"j1","prompt":"caf\xc3\xa9"}}'
    )


def test_event_body_timestamp_defaults_to_now() -> None:
    document = json.loads(event_body("job.created", {}))
    stamp = datetime.fromisoformat(document["timestamp"].replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 5


def test_prompt_start_cuts_at_a_word_and_marks_the_cut() -> None:
    assert prompt_start("short  and\nsweet") == "short and sweet"
    cut = prompt_start(JOB["prompt"])  # type: ignore[arg-type]
    assert len(cut) <= 121
    assert cut.endswith("…")
    assert JOB["prompt"].startswith(cut[:-1])  # type: ignore[union-attr]
    assert not cut[:-1].endswith(" ")


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_discord_message_has_content_and_an_embed_within_the_limits(kind: NoticeKind) -> None:
    message = json.loads(discord_message(VideoNotice.from_job(kind, JOB)))

    title = "Video ready" if kind is NoticeKind.READY else "Video published"
    assert message["content"] == f"{title}: https://cdn.test/v/j1.mp4?sig=abc"
    [embed] = message["embeds"]
    assert embed["title"] == title
    assert embed["url"] == "https://cdn.test/v/j1.mp4?sig=abc"
    assert embed["description"].startswith("A red fox runs through fresh snow at dawn, cinematic, slow motion")
    assert len(embed["description"]) <= 4096
    assert embed["fields"] == [{"name": "Model", "value": "veo3\\_fast", "inline": True}]
    assert message["allowed_mentions"] == {"parse": []}


def test_discord_message_neutralises_markdown_and_mentions_in_a_prompt() -> None:
    notice = VideoNotice(NoticeKind.READY, "m", "@everyone [click](https://evil.test) **now**", "https://cdn.test/v")
    message = json.loads(discord_message(notice))

    assert message["embeds"][0]["description"] == "@everyone \\[click\\]\\(https://evil.test\\) \\*\\*now\\*\\*"
    assert message["allowed_mentions"] == {"parse": []}


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_slack_message_has_fallback_text_and_a_mrkdwn_section(kind: NoticeKind) -> None:
    message = json.loads(slack_message(VideoNotice.from_job(kind, JOB)))

    title = "Video ready" if kind is NoticeKind.READY else "Video published"
    assert message["text"].startswith(f"{title} (veo3_fast): A red fox")
    assert message["text"].endswith("https://cdn.test/v/j1.mp4?sig=abc")
    [block] = message["blocks"]
    assert block["type"] == "section"
    assert block["text"]["type"] == "mrkdwn"
    assert block["text"]["text"].startswith(f"*{title}* · `veo3_fast`\n>A red fox")
    assert block["text"]["text"].endswith("<https://cdn.test/v/j1.mp4?sig=abc|Watch the video>")
    assert len(block["text"]["text"]) <= 3000


def test_slack_message_escapes_what_would_forge_a_link_or_mention() -> None:
    notice = VideoNotice(NoticeKind.READY, "m", "<!channel> <https://evil.test|x> & more", "https://cdn.test/v?a=1&b=2")
    message = json.loads(slack_message(notice))

    section = message["blocks"][0]["text"]["text"]
    assert "&lt;!channel&gt; &lt;https://evil.test|x&gt; &amp; more" in section
    assert "<https://cdn.test/v?a=1&amp;b=2|Watch the video>" in section
    assert "<!channel>" not in message["text"]


def test_a_job_without_a_video_makes_no_notice() -> None:
    with pytest.raises(ValueError, match="no video"):
        VideoNotice.from_job(NoticeKind.READY, {"model": "m", "prompt": "p", "video": None})
